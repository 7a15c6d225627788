"""Grants replaced by a reconnect with another Zoom user, kept while their meetings need them.

Meetings already sent to customers stay hosted by the Zoom user who created them, and only
that user's grant can delete or move them (Zoom answers another user's token with 404). So
a reconnect with a different Zoom user keeps the replaced grant here, encrypted like a
connection's tokens, until no upcoming meeting hosted by that user needs it; then it is
revoked at Zoom and deleted.

A retired grant's refresh never holds a transaction across Zoom's answer: a short lease on
the row is claimed in one transaction, Zoom is called, and the rotated tokens are written
in a second one (retried: once Zoom has rotated them, they must not be dropped).
"""

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.clock import Clock
from specialistly.connections.access import ZoomAccess, v2
from specialistly.connections.models import (
    ConnectionStatus,
    ZoomConnection,
    ZoomRetiredGrant,
)
from specialistly.db import Database
from specialistly.security import TokenCipher, TokenDecryptionError
from specialistly.zoom.errors import (
    ZoomAccessTokenRejected,
    ZoomTokenRejected,
    ZoomUnavailable,
)
from specialistly.zoom.oauth import TokenGrant, ZoomOAuth

log = logging.getLogger("specialistly.zoom_tokens")
T = TypeVar("T")

LEASE_FOR = timedelta(seconds=60)
LEEWAY = timedelta(minutes=5)
WRITE_TRIES = 5
LEASE_WAITS = 40  # times 0.25 s: how long to wait for another holder's refresh

# Whether a specialist's upcoming meetings still need this Zoom user's grant.
StillNeeded = Callable[[AsyncSession, int, str, datetime], Awaitable[bool]]


class NoRetiredGrant(LookupError):
    """No retired grant of this Zoom user is kept for the specialist."""


async def retire_replaced(
    session: AsyncSession, connection: ZoomConnection | None, new_zoom_user_id: str, now: datetime
) -> None:
    """Keep the grant a reconnect with another Zoom user is about to replace.

    Also forget retired grants of the user now connected: authorizing again ended them.
    """
    await forget_user(session, new_zoom_user_id)
    if (
        connection is None
        or connection.zoom_user_id in (None, new_zoom_user_id)
        or connection.status != ConnectionStatus.CONNECTED
        or connection.access_token is None
        or connection.refresh_token is None
        or connection.access_token_expires_at is None
    ):
        return
    await session.execute(
        delete(ZoomRetiredGrant).where(
            ZoomRetiredGrant.specialist_id == connection.specialist_id,
            ZoomRetiredGrant.zoom_user_id == connection.zoom_user_id,
        )
    )
    session.add(
        ZoomRetiredGrant(
            specialist_id=connection.specialist_id,
            zoom_user_id=connection.zoom_user_id,
            zoom_email=connection.zoom_email,
            access_token=connection.access_token,  # ciphertexts, as stored
            refresh_token=connection.refresh_token,
            access_token_expires_at=connection.access_token_expires_at,
            api_url=connection.api_url,
            retired_at=now,
        )
    )
    log.info("Zoom grant of specialist %s kept for its meetings", connection.specialist_id)


async def forget_user(session: AsyncSession, zoom_user_id: str) -> None:
    """Delete every retired grant of a Zoom user (re-authorized, or the app removed)."""
    await session.execute(
        delete(ZoomRetiredGrant).where(ZoomRetiredGrant.zoom_user_id == zoom_user_id)
    )


class RetiredGrants:
    """Use, refresh and finally revoke retired grants; the only code that touches them."""

    def __init__(
        self,
        *,
        db: Database,
        oauth: ZoomOAuth,
        cipher: TokenCipher,
        clock: Clock,
        still_needed: StillNeeded,
    ) -> None:
        self.db, self.oauth, self.cipher, self.clock = db, oauth, cipher, clock
        self.still_needed = still_needed
        self._unfinished: set[asyncio.Future[Any]] = set()

    async def call(
        self, specialist_id: int, zoom_user_id: str, work: Callable[[ZoomAccess], Awaitable[T]]
    ) -> T:
        """Run one API call as a retired grant's user; on 401 refresh once and retry once.

        Raises `NoRetiredGrant` when none is kept for that user.
        """
        access = await self._access(specialist_id, zoom_user_id, stale=None)
        try:
            return await work(access)
        except ZoomAccessTokenRejected:
            log.info("Zoom refused a retired grant's access token; refreshing once")
        access = await self._access(specialist_id, zoom_user_id, stale=access.token)
        try:
            return await work(access)
        except ZoomAccessTokenRejected:
            raise ZoomUnavailable("Zoom refused a freshly refreshed access token") from None

    async def drain(self, within: float = 60.0) -> None:
        """Wait for refreshes of retired grants in flight to save Zoom's answer."""
        if self._unfinished:
            await asyncio.wait(set(self._unfinished), timeout=within)

    async def sweep(self, specialist_id: int | None = None) -> int:
        """Revoke and delete the retired grants no upcoming meeting needs; answer how many."""
        async with self.db.reading() as session:
            query = select(ZoomRetiredGrant.id, ZoomRetiredGrant.specialist_id)
            if specialist_id is not None:
                query = query.where(ZoomRetiredGrant.specialist_id == specialist_id)
            rows = (await session.execute(query)).all()
        released = 0
        for row_id, owner_id in rows:
            try:
                released += await self._release(row_id, owner_id)
            except (ZoomUnavailable, SQLAlchemyError) as exc:
                log.warning("Retired Zoom grant not released yet: %s", type(exc).__name__)
        return released

    # --- tokens ---------------------------------------------------------------------------

    async def _access(self, specialist_id: int, zoom_user_id: str, stale: str | None) -> ZoomAccess:
        for _ in range(LEASE_WAITS):
            row = await self._read(specialist_id, zoom_user_id)
            if row is None:
                raise NoRetiredGrant(zoom_user_id)
            if (access := self._usable(row, stale)) is not None:
                return access
            if (lease := await self._claim(row.id)) is not None:
                return await self._shielded(self._refresh_leased(row.id, stale, lease))
            await asyncio.sleep(0.25)  # another task or process is refreshing it
        raise ZoomUnavailable("a retired Zoom grant is being refreshed elsewhere")

    async def _read(self, specialist_id: int, zoom_user_id: str) -> ZoomRetiredGrant | None:
        async with self.db.reading() as session:
            found: ZoomRetiredGrant | None = await session.scalar(
                select(ZoomRetiredGrant).where(
                    ZoomRetiredGrant.specialist_id == specialist_id,
                    ZoomRetiredGrant.zoom_user_id == zoom_user_id,
                )
            )
            return found

    def _usable(self, row: ZoomRetiredGrant, stale: str | None) -> ZoomAccess | None:
        try:
            token = self.cipher.decrypt(row.access_token)
        except TokenDecryptionError:
            return None
        if token == stale or row.access_token_expires_at - self.clock.now() <= LEEWAY:
            return None
        return ZoomAccess(token, v2(row.api_url))

    async def _claim(self, row_id: int) -> str | None:
        """Take the row's lease in one short transaction; None when someone else holds it.

        Each claim has its own owner id, so two tasks of one process exclude each other too.
        """
        now, lease = self.clock.now(), secrets.token_hex(16)
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ZoomRetiredGrant)
                .where(
                    ZoomRetiredGrant.id == row_id,
                    or_(ZoomRetiredGrant.lease_until.is_(None), ZoomRetiredGrant.lease_until < now),
                )
                .values(lease_owner=lease, lease_until=now + LEASE_FOR)
            )
        return lease if getattr(result, "rowcount", 0) == 1 else None

    async def _let_go(self, row_id: int, lease: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(ZoomRetiredGrant)
                .where(ZoomRetiredGrant.id == row_id, ZoomRetiredGrant.lease_owner == lease)
                .values(lease_owner=None, lease_until=None)
            )

    async def _shielded(self, work: Coroutine[Any, Any, T]) -> T:
        # Once Zoom may have rotated the tokens, a cancelled caller must not stop their write.
        task = asyncio.ensure_future(work)
        self._unfinished.add(task)
        task.add_done_callback(self._unfinished.discard)
        return await asyncio.shield(task)

    async def _refresh_leased(self, row_id: int, stale: str | None, lease: str) -> ZoomAccess:
        """Refresh under our lease: read, call Zoom with no transaction open, write."""
        async with self.db.reading() as session:
            row = await session.get(ZoomRetiredGrant, row_id)
        if row is None:
            raise NoRetiredGrant(str(row_id))
        if (access := self._usable(row, stale)) is not None:
            await self._let_go(row_id, lease)  # refreshed by someone else before our lease
            return access
        try:
            grant = await self.oauth.refresh(self.cipher.decrypt(row.refresh_token))
        except ZoomTokenRejected as exc:
            if not exc.grant_is_dead:
                await self._let_go(row_id, lease)
                raise ZoomUnavailable(f"Zoom refused the app's credentials ({exc.error})") from None
            # Nothing can reach that user's meetings any more: stop keeping the grant.
            log.warning("Failed to refresh a retired Zoom grant: %s", exc.error)
            await self._delete(row_id)
            raise NoRetiredGrant(str(row_id)) from None
        except ZoomUnavailable:
            await self._let_go(row_id, lease)
            raise
        await self._store(row_id, grant)
        return ZoomAccess(grant.access_token, v2(grant.api_url))

    async def _store(self, row_id: int, grant: TokenGrant) -> None:
        """Write rotated tokens and end the lease; retried, since Zoom has rotated them."""
        for attempt in range(WRITE_TRIES):
            try:
                async with self.db.transaction() as session:
                    row = await session.get(ZoomRetiredGrant, row_id, with_for_update=True)
                    if row is None:
                        return  # released meanwhile: nobody needs these tokens
                    now = self.clock.now()
                    row.access_token = self.cipher.encrypt(grant.access_token, remember=True)
                    if grant.refresh_token is not None:
                        row.refresh_token = self.cipher.encrypt(grant.refresh_token)
                    row.access_token_expires_at = now + timedelta(seconds=grant.expires_in)
                    row.api_url = grant.api_url
                    row.lease_owner = row.lease_until = None
                log.info(
                    "Retired Zoom grant refreshed, new expiry: %s", row.access_token_expires_at
                )
                return
            except SQLAlchemyError as exc:
                if attempt == WRITE_TRIES - 1:
                    # The type only: a driver's message could carry the statement's values.
                    log.error(
                        "Could not save a retired grant's rotated tokens: %s", type(exc).__name__
                    )
                    raise
                await asyncio.sleep(0.2 * 2**attempt)

    # --- releasing ------------------------------------------------------------------------

    async def _release(self, row_id: int, specialist_id: int) -> int:
        async with self.db.reading() as session:
            row = await session.get(ZoomRetiredGrant, row_id)
            if row is None:
                return 0
            if await self.still_needed(session, specialist_id, row.zoom_user_id, self.clock.now()):
                return 0
        lease = await self._claim(row_id)
        if lease is None:
            return 0  # being refreshed right now: the next sweep releases it
        try:
            access = self._usable(row, None)
            if access is None:
                access = await self._shielded(self._refresh_leased(row_id, None, lease))
                again = await self._claim(row_id)  # the refresh ended our lease
                if again is None:
                    return 0
                lease = again
            await self.oauth.revoke(access.token)
        except NoRetiredGrant:
            return 0  # the grant was dead already and is gone
        except ZoomTokenRejected:
            pass  # Zoom no longer knows the token: nothing left to revoke
        except ZoomUnavailable:
            await self._let_go(row_id, lease)
            raise
        await self._delete(row_id)
        log.info("Retired Zoom grant of specialist %s revoked: no meeting needs it", specialist_id)
        return 1

    async def _delete(self, row_id: int) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(ZoomRetiredGrant).where(ZoomRetiredGrant.id == row_id))
