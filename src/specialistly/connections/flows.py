"""A specialist's Zoom connection: get a valid token, refresh it once, keep it alive.

The refresh is the heart of the product. Zoom rotates refresh tokens with no grace, so a
refresh must happen once per expiry however many requests, tasks or processes need a token:
an asyncio lock per specialist inside a process, and a database lock across processes (a row
lock on PostgreSQL, the write lock on SQLite) held across the one Zoom call, with the row
re-read once the lock is held. The new tokens are committed before anyone uses them.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from specialistly import observability as metrics
from specialistly.clock import Clock
from specialistly.connections import service
from specialistly.connections.access import RECONNECT_PATH, ZoomAccess, v2
from specialistly.connections.connecting import Connecting
from specialistly.connections.errors import (
    ZoomNotConnected,
    ZoomReauthorizationRequired,
)
from specialistly.connections.models import ConnectionStatus, ZoomConnection
from specialistly.db import Database
from specialistly.notifications.service import Email, Notifier
from specialistly.security import TokenCipher, TokenDecryptionError
from specialistly.specialists.models import Specialist
from specialistly.zoom.api import ZoomApi
from specialistly.zoom.errors import (
    ZoomAccessTokenRejected,
    ZoomTokenRejected,
    ZoomUnavailable,
)
from specialistly.zoom.oauth import ZoomOAuth
from specialistly.zoom.transport import RetryPolicy

log = logging.getLogger("specialistly.zoom_tokens")
T = TypeVar("T")

REFRESH_LEEWAY = timedelta(minutes=5)


class Connections(Connecting):
    """Flows for specialists' Zoom connections; the only code that calls Zoom's OAuth."""

    def __init__(
        self,
        *,
        db: Database,
        oauth: ZoomOAuth,
        api: ZoomApi,
        cipher: TokenCipher,
        clock: Clock,
        notifier: Notifier,
        leeway: timedelta = REFRESH_LEEWAY,
    ) -> None:
        self.db, self.oauth, self.api, self.cipher = db, oauth, api, cipher
        self.leeway = leeway
        self.clock, self.notifier = clock, notifier
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._flights: dict[int, asyncio.Future[ZoomAccess]] = {}
        self._unfinished: set[asyncio.Future[Any]] = set()
        # Called with the specialist's id after each successful connect (after commit).
        self.on_connected: list[Callable[[int], Awaitable[None]]] = []

    # --- using tokens -----------------------------------------------------------------

    async def get_valid_token(self, specialist_id: int, *, stale: str | None = None) -> ZoomAccess:
        """Return an access token good for 5 more minutes, refreshing it once if needed.

        `stale` names a token Zoom has just refused (401): it is refreshed even if unexpired.
        """
        if (access := await self._read_usable(specialist_id, stale)) is not None:
            return access
        # Single flight: every task of this process that needs the refresh awaits the same one.
        flight = self._flights.get(specialist_id)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh_once(specialist_id, stale))
            self._flights[specialist_id] = flight
            flight.add_done_callback(lambda done: self._land(specialist_id, done))
        access = await asyncio.shield(flight)
        if stale is not None and access.token == stale:
            return await self._refresh_once(specialist_id, stale)
        return access

    def _land(self, specialist_id: int, flight: "asyncio.Future[ZoomAccess]") -> None:
        if self._flights.get(specialist_id) is flight:
            del self._flights[specialist_id]
        if not flight.cancelled():
            flight.exception()  # retrieved here so an unawaited failure is not reported twice

    async def _refresh_once(self, specialist_id: int, stale: str | None) -> ZoomAccess:
        async with self._locks[specialist_id]:
            if (access := await self._read_usable(specialist_id, stale)) is not None:
                return access
            return await self._refresh(specialist_id, stale=stale)

    async def _read_usable(self, specialist_id: int, stale: str | None) -> ZoomAccess | None:
        async with self.db.reading() as session:
            return self._usable(await service.get(session, specialist_id), stale)

    async def call(self, specialist_id: int, work: Callable[[ZoomAccess], Awaitable[T]]) -> T:
        """Run one Zoom API call with a valid token; on 401 refresh once and retry once."""
        access = await self.get_valid_token(specialist_id)
        try:
            return await work(access)
        except ZoomAccessTokenRejected:
            log.info("Zoom refused the access token; refreshing once and retrying")
        access = await self.get_valid_token(specialist_id, stale=access.token)
        try:
            return await work(access)
        except ZoomAccessTokenRejected:
            raise ZoomUnavailable("Zoom refused a freshly refreshed access token") from None

    def _usable(self, connection: ZoomConnection | None, stale: str | None) -> ZoomAccess | None:
        if connection is None or connection.status == ConnectionStatus.NOT_CONNECTED:
            raise ZoomNotConnected("Zoom is not connected")
        if connection.status == ConnectionStatus.NEEDS_RECONNECT:
            raise ZoomReauthorizationRequired(connection.last_error or "Zoom ended the grant")
        if (
            connection.access_token is None
            or connection.refresh_token is None
            or connection.access_token_expires_at is None
        ):
            raise ZoomNotConnected("Zoom is not connected")
        try:
            token = self.cipher.decrypt(connection.access_token)
        except TokenDecryptionError:
            # An operator removed the key these tokens were stored under.
            raise ZoomNotConnected("the stored Zoom tokens cannot be decrypted") from None
        left = connection.access_token_expires_at - self.clock.now()
        if token == stale or left <= self.leeway:
            return None
        log.info("Using valid Zoom token (expires in %d minutes)", left.total_seconds() // 60)
        return ZoomAccess(token, v2(connection.api_url))

    async def _refresh(self, specialist_id: int, *, stale: str | None) -> ZoomAccess:
        """Refresh under the database lock unless someone already did; commit before use.

        Shielded: once Zoom may have rotated the tokens, a cancelled caller (a shutdown, a
        client gone) must not roll back the transaction that saves them.
        """
        return await self._shielded(self._refresh_locked(specialist_id, stale))

    async def _shielded(self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(work)
        self._unfinished.add(task)
        task.add_done_callback(self._unfinished.discard)
        return await asyncio.shield(task)

    async def _refresh_locked(self, specialist_id: int, stale: str | None) -> ZoomAccess:
        async with self.db.transaction() as session:
            connection = await service.lock(session, specialist_id)
            access = self._usable(connection, stale)
            if access is not None:
                return access  # another task or process refreshed while we waited
            assert connection is not None  # _usable raised otherwise
            log.info("Zoom token expired, attempting automatic refresh...")
            outcome = await self._rotate(session, connection, retry=None)
        return outcome.result()

    async def keep_alive(
        self, specialist_id: int, *, older_than: timedelta, retry: RetryPolicy | None = None
    ) -> bool:
        """Refresh a connection idle for longer than `older_than`; answer whether it did.

        A row another process holds is skipped (it is being refreshed right now).
        """
        async with self._locks[specialist_id]:
            return await self._shielded(self._keep_alive_locked(specialist_id, older_than, retry))

    async def _keep_alive_locked(
        self, specialist_id: int, older_than: timedelta, retry: RetryPolicy | None
    ) -> bool:
        async with self.db.transaction() as session:
            connection = await service.lock(session, specialist_id, skip_locked=True)
            if (
                connection is None
                or connection.status != ConnectionStatus.CONNECTED
                or not self._stale_for(connection, older_than)
            ):
                return False
            log.info("Refreshing idle Zoom connection of specialist %s", specialist_id)
            outcome = await self._rotate(session, connection, retry=retry)
        outcome.result()
        return True

    async def _rotate(
        self, session: AsyncSession, connection: ZoomConnection, *, retry: RetryPolicy | None
    ) -> "_Outcome":
        """Call Zoom's refresh once and record what happened on the locked row.

        If Zoom fails for now while the current access token still works, that token is
        used: an outage shorter than its last minutes costs the specialist nothing.
        """
        refresh_token = self.cipher.decrypt(connection.refresh_token or "")
        still_valid = self._still_valid(connection)
        try:
            with metrics.Timer():
                grant = await self.oauth.refresh(refresh_token, retry=retry)
        except ZoomTokenRejected as exc:
            return _Outcome(failure=await self._rejected(session, connection, exc))
        except ZoomUnavailable as exc:
            metrics.REFRESHES.labels("transient").inc()
            now = self.clock.now()
            if exc.outcome_unknown:
                connection.refresh_answer_lost_at = now
            service.record_transient_failure(connection, f"Zoom unavailable: {exc.reason}", now)
            await service.record_refresh(
                session, connection.specialist_id, "transient", exc.reason, now
            )
            log.warning("Failed to refresh Zoom token for now (will retry): %s", exc.reason)
            return _Outcome(access=still_valid) if still_valid else _Outcome(failure=exc)
        service.store_grant(connection, grant, self.cipher, self.clock.now())
        await service.record_refresh(
            session, connection.specialist_id, "ok", None, self.clock.now()
        )
        metrics.REFRESHES.labels("ok").inc()
        expiry = connection.access_token_expires_at
        assert expiry is not None
        log.info("Zoom access token refreshed successfully, new expiry: %s", expiry.isoformat())
        return _Outcome(access=ZoomAccess(grant.access_token, v2(grant.api_url)))

    async def _rejected(
        self, session: AsyncSession, connection: ZoomConnection, exc: ZoomTokenRejected
    ) -> Exception:
        now = self.clock.now()
        if not exc.grant_is_dead:
            # invalid_client and the like: our configuration, not the specialist's grant.
            metrics.REFRESHES.labels("transient").inc()
            reason = f"Zoom refused the platform's app credentials ({exc.error}: {exc.reason})"
            service.record_transient_failure(connection, reason, now)
            await service.record_refresh(
                session, connection.specialist_id, "transient", reason, now
            )
            log.error("Failed to refresh Zoom token: %s", reason)
            return ZoomUnavailable(reason)
        metrics.REFRESHES.labels("dead").inc()
        reason = f"Zoom rejected the refresh token ({exc.reason or exc.error})"
        if exc.after_lost_answer or connection.refresh_answer_lost_at is not None:
            reason += (
                ": an earlier refresh answer was lost in transit after Zoom had already "
                "rotated the token, so the new token never arrived"
            )
        else:
            reason += ": the app was removed or re-authorized in Zoom, or the grant expired"
        await service.record_refresh(session, connection.specialist_id, "dead", reason, now)
        if service.mark_needs_reconnect(connection, reason, now):
            await self._tell_reconnect(session, connection.specialist_id)
        log.warning("Failed to refresh Zoom token: %s", reason)
        return ZoomReauthorizationRequired(reason)

    async def _tell_reconnect(self, session: AsyncSession, specialist_id: int) -> None:
        """Tell the specialist once per incident, in the app and by email, with the link."""
        specialist = await session.get(Specialist, specialist_id)
        link = self.notifier.link(RECONNECT_PATH)
        message = (
            "Zoom has ended Specialistly's access to your Zoom account, so new bookings "
            "cannot get Zoom links until you reconnect. Your bookings are kept."
        )
        email = None
        if specialist is not None:
            body = (
                f"Hello {specialist.name},\n\n{message}\n\n"
                f"Reconnect Zoom (one click, then approve in Zoom): {link}\n"
            )
            email = Email(
                to=specialist.email,
                subject="Action needed: reconnect Zoom to Specialistly",
                body=body,
                kind="zoom_reconnect_needed",
            )
        self.notifier.notify(
            session,
            specialist_id=specialist_id,
            kind="zoom_reconnect_needed",
            message=message,
            link_path=RECONNECT_PATH,
            email=email,
        )

    def _still_valid(self, connection: ZoomConnection) -> ZoomAccess | None:
        expiry = connection.access_token_expires_at
        if connection.access_token is None or expiry is None or expiry <= self.clock.now():
            return None
        return ZoomAccess(self.cipher.decrypt(connection.access_token), v2(connection.api_url))

    def _stale_for(self, connection: ZoomConnection, older_than: timedelta) -> bool:
        last = connection.last_refreshed_at
        return last is None or self.clock.now() - last > older_than


@dataclass(frozen=True)
class _Outcome:
    access: ZoomAccess | None = None
    failure: Exception | None = None

    def result(self) -> ZoomAccess:
        if self.failure is not None:
            raise self.failure
        assert self.access is not None
        return self.access


__all__ = ["RECONNECT_PATH", "Connections", "ZoomAccess"]
