"""Registering and signing in: shared by the JSON API and the pages."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from specialistly.db import Database
from specialistly.security import digest, hash_password, verify_password
from specialistly.specialists import service
from specialistly.specialists.models import LoginThrottle, Specialist


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


FREE_FAILURES = 5
FORGET_AFTER = timedelta(minutes=15)
LONGEST_BLOCK = timedelta(minutes=15)


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this email: wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


async def log_in(
    db: Database, *, email: str, password: str, now: datetime
) -> tuple[Specialist, str]:
    """Check the password off the event loop (argon2 is slow on purpose), then start a session.

    After five failures for one email, each further failure blocks it for twice as long as
    the last (1 s, 2 s, 4 s … up to 15 minutes); a success clears the count.
    """
    key = digest("login:" + email.strip().lower())
    async with db.reading() as session:
        throttle = await session.get(LoginThrottle, key)
        specialist = await service.by_email(session, email)
    if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now:
        raise TooManyAttempts(max(1, int((throttle.blocked_until - now).total_seconds()) + 1))
    known = specialist.password_hash if specialist else None
    if not await asyncio.to_thread(verify_password, known, password) or specialist is None:
        await _failed(db, key, now)
        raise WrongCredentials(email)
    async with db.transaction() as session:
        await session.execute(delete(LoginThrottle).where(LoginThrottle.email_digest == key))
        return specialist, await service.start_session(session, specialist.id, now)


async def _failed(db: Database, key: str, now: datetime) -> None:
    async with db.transaction() as session:
        throttle = await session.get(LoginThrottle, key, with_for_update=True)
        if throttle is None or now - throttle.last_failure_at > FORGET_AFTER:
            if throttle is not None:
                await session.delete(throttle)
                await session.flush()
            throttle = LoginThrottle(email_digest=key, failures=0, last_failure_at=now)
            session.add(throttle)
        throttle.failures += 1
        throttle.last_failure_at = now
        over = throttle.failures - FREE_FAILURES
        if over >= 0:
            block = min(LONGEST_BLOCK, timedelta(seconds=2 ** min(over, 20)))
            throttle.blocked_until = now + block
