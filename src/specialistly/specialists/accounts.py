"""Registering and signing in: shared by the JSON API and the pages."""

import asyncio
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from specialistly.db import Database
from specialistly.security import hash_password, verify_password
from specialistly.specialists import service, throttle
from specialistly.specialists.models import Specialist
from specialistly.specialists.throttle import TooManyAttempts

__all__ = ["EmailTaken", "TooManyAttempts", "WrongCredentials", "log_in", "register"]


class EmailTaken(Exception):
    """An account with this email exists already."""


class WrongCredentials(Exception):
    """The email or the password is wrong (which one is not said)."""


async def register(
    db: Database, *, name: str, email: str, password: str, timezone: str, now: datetime
) -> tuple[Specialist, str]:
    """Create the account and a session; answer it and the session cookie's value."""
    password_hash = await asyncio.to_thread(hash_password, password)
    specialist = Specialist(
        name=name,
        email=email.strip().lower(),
        password_hash=password_hash,
        timezone=timezone,
        created_at=now,
    )
    try:
        async with db.transaction() as session:
            session.add(specialist)
            await session.flush()
            token = await service.start_session(session, specialist.id, now)
    except IntegrityError:
        raise EmailTaken(email) from None
    return specialist, token


async def log_in(
    db: Database, *, email: str, password: str, address: str, now: datetime
) -> tuple[Specialist, str]:
    """Count the attempt against the account and the client address, then check the password.

    The count comes first (see `throttle`), so parallel guesses cannot get past the limit; the
    password is checked off the event loop (argon2 is slow on purpose); a success gives the
    count back and starts a session.
    """
    account, from_address = throttle.counters(email, address)
    await throttle.reserve(db, account, from_address, now)
    async with db.reading() as session:
        specialist = await service.by_email(session, email)
    known = specialist.password_hash if specialist else None
    if not await asyncio.to_thread(verify_password, known, password) or specialist is None:
        raise WrongCredentials(email)
    async with db.transaction() as session:
        await throttle.succeeded(session, account, from_address)
        return specialist, await service.start_session(session, specialist.id, now)
