"""Zoom connection rows: reading, locking, and the state changes of the token lifecycle.

Callers own the transaction; nothing here commits or calls Zoom.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.connections.models import (
    ConnectionStatus,
    OAuthState,
    RefreshEvent,
    ZoomConnection,
)
from specialistly.security import TokenCipher
from specialistly.zoom.oauth import TokenGrant


async def get(session: AsyncSession, specialist_id: int) -> ZoomConnection | None:
    found: ZoomConnection | None = await session.scalar(
        select(ZoomConnection).where(ZoomConnection.specialist_id == specialist_id)
    )
    return found


async def lock(
    session: AsyncSession, specialist_id: int, *, skip_locked: bool = False
) -> ZoomConnection | None:
    """Read the row under a lock held until the transaction ends (re-read, never cached).

    PostgreSQL: SELECT … FOR UPDATE (SKIP LOCKED answers None when another holds it).
    SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    """
    query = (
        select(ZoomConnection)
        .where(ZoomConnection.specialist_id == specialist_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    found: ZoomConnection | None = await session.scalar(query)
    return found


async def by_zoom_user(session: AsyncSession, zoom_user_id: str) -> list[ZoomConnection]:
    rows = await session.scalars(
        select(ZoomConnection)
        .where(ZoomConnection.zoom_user_id == zoom_user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


def store_grant(
    connection: ZoomConnection, grant: TokenGrant, cipher: TokenCipher, now: datetime
) -> None:
    """Save rotated tokens with an absolute expiry and end any incident."""
    connection.access_token = cipher.encrypt(grant.access_token, remember=True)
    if grant.refresh_token is not None:
        connection.refresh_token = cipher.encrypt(grant.refresh_token)
    connection.access_token_expires_at = now + timedelta(seconds=grant.expires_in)
    connection.last_refreshed_at = now
    if grant.scopes:
        connection.scopes = " ".join(sorted(grant.scopes))
    connection.api_url = grant.api_url
    connection.status = ConnectionStatus.CONNECTED
    connection.refresh_error_count = 0
    connection.last_error = None
    connection.refresh_answer_lost_at = None
    connection.incident_notified_at = None
    connection.release_lease()
    connection.updated_at = now


def record_transient_failure(connection: ZoomConnection, reason: str, now: datetime) -> None:
    connection.refresh_error_count += 1
    connection.last_error = reason
    connection.updated_at = now


def mark_needs_reconnect(connection: ZoomConnection, reason: str, now: datetime) -> bool:
    """Record a dead grant; answer whether this opens an incident nobody was told of yet."""
    connection.status = ConnectionStatus.NEEDS_RECONNECT
    connection.refresh_error_count += 1
    connection.last_error = reason
    connection.updated_at = now
    if connection.incident_notified_at is not None:
        return False
    connection.incident_notified_at = now
    return True


def mark_not_connected(
    connection: ZoomConnection, reason: str | None, now: datetime, *, forget_user: bool = False
) -> None:
    connection.forget_tokens()
    if forget_user:  # Zoom asks apps to delete a deauthorizing user's data
        connection.zoom_user_id = connection.zoom_email = None
    connection.status = ConnectionStatus.NOT_CONNECTED
    connection.last_error = reason
    connection.refresh_error_count = 0
    connection.refresh_answer_lost_at = None
    connection.incident_notified_at = None
    connection.updated_at = now


async def take_state(session: AsyncSession, state_digest: str) -> OAuthState | None:
    """Remove and return a pending OAuth state: whoever takes it first is the only one."""
    found = await session.get(OAuthState, state_digest, with_for_update=True)
    if found is not None:
        await session.delete(found)
    return found


EVENTS_KEPT_FOR = timedelta(days=30)


async def record_refresh(
    session: AsyncSession, specialist_id: int, outcome: str, detail: str | None, now: datetime
) -> None:
    """Keep a month of refresh outcomes per specialist for their dashboard."""
    session.add(RefreshEvent(specialist_id=specialist_id, at=now, outcome=outcome, detail=detail))
    await session.execute(
        delete(RefreshEvent).where(
            RefreshEvent.specialist_id == specialist_id, RefreshEvent.at < now - EVENTS_KEPT_FOR
        )
    )


async def forget_expired_states(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))


async def recent_refreshes(
    session: AsyncSession, specialist_id: int, limit: int = 8
) -> list[RefreshEvent]:
    rows = await session.scalars(
        select(RefreshEvent)
        .where(RefreshEvent.specialist_id == specialist_id)
        .order_by(RefreshEvent.at.desc(), RefreshEvent.id.desc())
        .limit(limit)
    )
    return list(rows)
