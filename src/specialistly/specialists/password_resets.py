"""Password reset by an emailed single-use link: shared by the JSON API and the pages.

Asking always answers the same, known address or not. Asking is throttled per address asked
for and per client address (the sign-in throttle's counters, under keys of their own), so
nobody can flood a mailbox. The email holds a random token, the database only its digest; the
link works once and for `LINK_LIFETIME`. Using it sets the password, uses up every other link
of the account, ends every sign-in session and clears the account's failed sign-ins.
"""

import asyncio
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from specialistly.db import Database
from specialistly.notifications.service import Email, Notifier
from specialistly.security import digest, hash_password
from specialistly.specialists import service, throttle
from specialistly.specialists.models import PasswordReset, SignInSession, SignInThrottle
from specialistly.specialists.throttle import Counter, TooManyAttempts

__all__ = ["LINK_LIFETIME", "ResetLinkInvalid", "TooManyAttempts", "request_reset", "reset"]

LINK_LIFETIME = timedelta(hours=1)
# Three emails to one address come at once; after that each waits longer (see throttle).
ACCOUNT_FREE_REQUESTS = 3
ADDRESS_FREE_REQUESTS = 10
LINK_PATH = "/password-reset/new?token="


class ResetLinkInvalid(Exception):
    """The link is unknown, used already or expired (which one is not said)."""


def _counters(email: str, address: str) -> tuple[Counter, Counter]:
    account = Counter(digest("reset-account:" + email.strip().lower()), ACCOUNT_FREE_REQUESTS)
    return account, Counter(digest("reset-address:" + address), ADDRESS_FREE_REQUESTS)


def _email(to: str, name: str, link: str) -> Email:
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    body = (
        f"Hello {name},\n\n"
        "someone (we hope you) asked to set a new password for your Specialistly account.\n"
        f"Open this link to choose a new password. It works once, within {minutes} minutes:\n\n"
        f"{link}\n\n"
        "Setting a new password signs you out everywhere else.\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return Email(to=to, subject="Set a new Specialistly password", body=body, kind="password_reset")


async def request_reset(
    db: Database, notifier: Notifier, *, email: str, address: str, now: datetime
) -> None:
    """Email a reset link when an account has this address; raise `TooManyAttempts` if asked
    too often for this address or from this client. Says nothing about whether it exists."""
    account, from_address = _counters(email, address)
    await throttle.reserve(db, account, from_address, now)
    token = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        specialist = await service.by_email(session, email)
        if specialist is None:
            return
        session.add(
            PasswordReset(
                token_digest=digest(token),
                specialist_id=specialist.id,
                created_at=now,
                expires_at=now + LINK_LIFETIME,
            )
        )
        link = notifier.link(LINK_PATH + token)
        notifier.queue_email(session, _email(specialist.email, specialist.name, link))


async def check(db: Database, token: str, now: datetime) -> None:
    """Raise `ResetLinkInvalid` unless the link can still be used."""
    async with db.reading() as session:
        found = await session.get(PasswordReset, digest(token))
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise ResetLinkInvalid()


async def reset(db: Database, *, token: str, password: str, now: datetime) -> int:
    """Set the password through the link, once; end every session. Answer the specialist's id."""
    await check(db, token, now)  # before hashing: argon2 is slow on purpose
    password_hash = await asyncio.to_thread(hash_password, password)
    row = PasswordReset.__table__.c
    async with db.transaction() as session:
        # One statement decides which of two parallel uses wins: the row changes once.
        specialist_id = await session.scalar(
            update(PasswordReset)
            .where(row.token_digest == digest(token), row.used_at.is_(None), row.expires_at > now)
            .values(used_at=now)
            .returning(row.specialist_id)
        )
        if specialist_id is None:
            raise ResetLinkInvalid()
        specialist = await service.change_password(session, specialist_id, password_hash)
        await session.execute(
            update(PasswordReset)
            .where(row.specialist_id == specialist_id, row.used_at.is_(None))
            .values(used_at=now)
        )
        await session.execute(
            delete(SignInSession).where(SignInSession.specialist_id == specialist_id)
        )
        failed_sign_ins = throttle.counters(specialist.email, "")[0]
        await session.execute(
            delete(SignInThrottle).where(SignInThrottle.key_digest == failed_sign_ins.key)
        )
    return int(specialist_id)
