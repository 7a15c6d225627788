"""Specialist rows and sign-in sessions; callers own the transaction."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.security import digest
from specialistly.specialists.models import SignInSession, Specialist

SESSION_LIFETIME = timedelta(days=14)


async def by_email(session: AsyncSession, email: str) -> Specialist | None:
    found: Specialist | None = await session.scalar(
        select(Specialist).where(Specialist.email == email.strip().lower())
    )
    return found


async def change_profile(
    session: AsyncSession, specialist_id: int, changes: dict[str, str]
) -> Specialist:
    """Set the given profile fields (name, timezone, bio) of the specialist."""
    found = await session.get(Specialist, specialist_id, with_for_update=True)
    if found is None:  # deleted while signed in: the session row went with it
        raise LookupError(specialist_id)
    for name, value in changes.items():
        setattr(found, name, value)
    await session.flush()
    return found


async def change_password(
    session: AsyncSession, specialist_id: int, password_hash: str
) -> Specialist:
    """Set the specialist's password (already hashed)."""
    found = await session.get(Specialist, specialist_id, with_for_update=True)
    if found is None:
        raise LookupError(specialist_id)
    found.password_hash = password_hash
    await session.flush()
    return found


async def start_session(session: AsyncSession, specialist_id: int, now: datetime) -> str:
    """Create a sign-in session and return the cookie value (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        SignInSession(
            token_digest=digest(token),
            specialist_id=specialist_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token


async def specialist_for_session(
    session: AsyncSession, token: str, now: datetime
) -> Specialist | None:
    found = await session.get(SignInSession, digest(token))
    if found is None or found.expires_at <= now:
        return None
    return await session.get(Specialist, found.specialist_id)


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(SignInSession).where(SignInSession.token_digest == digest(token)))
