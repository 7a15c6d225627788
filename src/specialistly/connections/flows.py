"""A specialist's Zoom connection: get a valid token, refresh it once, keep it alive.

The refresh is the heart of the product. Zoom rotates refresh tokens with no grace, so a
refresh must happen once per expiry however many requests, tasks or processes need a token.
Inside a process the tasks share one in-flight refresh (an asyncio lock and future per
specialist). Across processes the right to refresh is a lease on the connection row, taken
in a short transaction; Zoom is then called with no transaction or pooled connection held,
so one specialist's slow refresh never delays anyone else's writes. The answer is written in
another short transaction, only if the row still holds the grant that was refreshed; a
failed write is retried until it lands (in the background if need be, and shutdown waits
for it), so tokens Zoom has rotated are never dropped. Others wait for the new tokens.
"""

import asyncio
import contextlib
import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

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
from specialistly.zoom.oauth import TokenGrant, ZoomOAuth
from specialistly.zoom.transport import RetryPolicy

log = logging.getLogger("specialistly.zoom_tokens")
T = TypeVar("T")

REFRESH_LEEWAY = timedelta(minutes=5)
# Longer than a refresh's whole retry budget (see context.refresh_lease).
REFRESH_LEASE = timedelta(seconds=90)
# How long the caller waits for a failing database to take Zoom's answer before a
# background task goes on trying and the caller is told to try again.
WRITE_PATIENCE_SECONDS = 3.0
# How long shutdown waits for refreshes in flight to persist.
DRAIN_SECONDS = 60.0
DATABASE_ERRORS = (SQLAlchemyError, OSError)


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
        lease_for: timedelta = REFRESH_LEASE,
        platform_fallback: bool = False,
    ) -> None:
        self.db, self.oauth, self.api, self.cipher = db, oauth, api, cipher
        # Whether bookings get the platform's Zoom while the specialist's cannot be used:
        # what the notices say happens meanwhile.
        self.platform_fallback = platform_fallback
        self.leeway, self.lease_for = leeway, lease_for
        self.clock, self.notifier = clock, notifier
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._flights: dict[int, asyncio.Future[ZoomAccess]] = {}
        self._unfinished: set[asyncio.Future[Any]] = set()
        # Rotated tokens Zoom has issued that the database has not taken yet.
        self._unsaved: dict[int, tuple[_Lease, TokenGrant]] = {}
        # Called with the specialist's id after each successful connect (after commit).
        self.on_connected: list[Callable[[int], Awaitable[None]]] = []

    # --- using tokens -----------------------------------------------------------------

    async def get_valid_token(
        self,
        specialist_id: int,
        *,
        stale: str | None = None,
        known: ZoomConnection | None = None,
    ) -> ZoomAccess:
        """Return an access token good for 5 more minutes, refreshing it once if needed.

        `stale` names a token Zoom has just refused (401): it is refreshed even if unexpired.
        `known` is the connection's row as the caller has just read it (none read here then);
        a refresh reads the row anew.
        """
        if known is not None:
            access = self._usable(known, stale)
        else:
            access = await self._read_usable(specialist_id, stale)
        if access is not None:
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

    async def call(
        self,
        specialist_id: int,
        work: Callable[[ZoomAccess], Awaitable[T]],
        *,
        known: ZoomConnection | None = None,
    ) -> T:
        """Run one Zoom API call with a valid token; on 401 refresh once and retry once.

        `known`: the connection's row as the caller read it moments ago (see get_valid_token).
        """
        access = await self.get_valid_token(specialist_id, known=known)
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
            token = self.cipher.decrypt(connection.access_token, remember=True)
        except TokenDecryptionError:
            # An operator removed the key these tokens were stored under.
            raise ZoomNotConnected("the stored Zoom tokens cannot be decrypted") from None
        left = connection.access_token_expires_at - self.clock.now()
        if token == stale or left <= self.leeway:
            return None
        log.info("Using valid Zoom token (expires in %d minutes)", left.total_seconds() // 60)
        return ZoomAccess(token, v2(connection.api_url), connection.zoom_user_id)

    async def _refresh(self, specialist_id: int, *, stale: str | None) -> ZoomAccess:
        """Refresh under the cluster-wide lease unless someone already did; persist, then use.

        Shielded: once Zoom may have rotated the tokens, a cancelled caller (a shutdown, a
        client gone) must not stop the write that saves them.
        """
        return await self._shielded(self._refresh_leased(specialist_id, stale))

    async def _shielded(self, work: Coroutine[Any, Any, T]) -> T:
        task = self._track(work)
        return await asyncio.shield(task)

    def _track(self, work: Coroutine[Any, Any, T]) -> "asyncio.Task[T]":
        """Run `work` as a task that shutdown waits for (see `drain`)."""
        task = asyncio.ensure_future(work)
        self._unfinished.add(task)
        task.add_done_callback(self._unfinished.discard)
        return task

    async def drain(self, within: float = DRAIN_SECONDS) -> bool:
        """Wait until every refresh in flight has persisted Zoom's answer; answer if all did."""
        deadline = asyncio.get_running_loop().time() + within
        while self._unfinished:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                log.error("Shutting down with %d Zoom refreshes unsaved", len(self._unfinished))
                return False
            await asyncio.wait(set(self._unfinished), timeout=left)
        return True

    async def _refresh_leased(self, specialist_id: int, stale: str | None) -> ZoomAccess:
        if (unsaved := self._unsaved.get(specialist_id)) is not None:
            return await self._save_grant(*unsaved)
        while True:
            claim = await self._claim(specialist_id, stale)
            if isinstance(claim, _Lease):
                break
            if claim is not None:
                return claim  # someone else refreshed, or their refresh leaves ours usable
            if (access := await self._wait_for_holder(specialist_id, stale)) is not None:
                return access
        log.info("Zoom token expired, attempting automatic refresh...")
        return await self._rotate(claim, retry=None, use_still_valid=True)

    async def _claim(self, specialist_id: int, stale: str | None) -> "ZoomAccess | _Lease | None":
        """In one short transaction: a usable token, or the lease, or None (another holds it)."""
        async with self.db.transaction() as session:
            connection = await service.lock(session, specialist_id)
            access = self._usable(connection, stale)
            if access is not None:
                return access
            assert connection is not None  # _usable raised otherwise
            now = self.clock.now()
            if connection.lease_held_by_another("", now):
                still_valid = self._still_valid(connection)
                return still_valid if still_valid and still_valid.token != stale else None
            return self._lease(connection, now)

    def _lease(self, connection: ZoomConnection, now: datetime) -> "_Lease":
        owner = f"{os.getpid()}-{secrets.token_hex(8)}"
        connection.take_lease(owner, now + self.lease_for)
        return _Lease(
            specialist_id=connection.specialist_id,
            owner=owner,
            refresh_token=self.cipher.decrypt(connection.refresh_token or ""),
            still_valid=self._still_valid(connection),
            zoom_user_id=connection.zoom_user_id,
        )

    async def _wait_for_holder(self, specialist_id: int, stale: str | None) -> ZoomAccess | None:
        """Poll (reads only) until the holder's tokens land or its lease ends (None)."""
        pause = 0.02
        while True:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
            async with self.db.reading() as session:
                connection = await service.get(session, specialist_id)
                if (access := self._usable(connection, stale)) is not None:
                    return access
                assert connection is not None
                if not connection.lease_held_by_another("", self.clock.now()):
                    return None

    async def keep_alive(
        self, specialist_id: int, *, older_than: timedelta, retry: RetryPolicy | None = None
    ) -> bool:
        """Refresh a connection idle for longer than `older_than`; answer whether it did.

        A row another process holds, or is refreshing, is skipped.
        """
        async with self._locks[specialist_id]:
            return await self._shielded(self._keep_alive_leased(specialist_id, older_than, retry))

    async def _keep_alive_leased(
        self, specialist_id: int, older_than: timedelta, retry: RetryPolicy | None
    ) -> bool:
        async with self.db.transaction() as session:
            connection = await service.lock(session, specialist_id, skip_locked=True)
            now = self.clock.now()
            if (
                connection is None
                or connection.status != ConnectionStatus.CONNECTED
                or connection.refresh_token is None
                or connection.lease_held_by_another("", now)
                or not self._stale_for(connection, older_than)
            ):
                return False
            lease = self._lease(connection, now)
        log.info("Refreshing idle Zoom connection of specialist %s", specialist_id)
        await self._rotate(lease, retry=retry, use_still_valid=False)
        return True

    async def _rotate(
        self, lease: "_Lease", *, retry: RetryPolicy | None, use_still_valid: bool
    ) -> ZoomAccess:
        """Call Zoom's refresh with no transaction open, then record what happened.

        If Zoom fails for now while the current access token still works, that token is
        used: an outage shorter than its last minutes costs the specialist nothing.
        """
        try:
            with metrics.Timer():
                grant = await self.oauth.refresh(lease.refresh_token, retry=retry)
        except ZoomTokenRejected as exc:
            failure = await self._settle(lease, partial(self._rejected, exc=exc))
            raise (failure or ZoomUnavailable("the grant was replaced during a refresh")) from None
        except ZoomUnavailable as exc:
            metrics.REFRESHES.labels("transient").inc()
            await self._settle(lease, partial(self._transient, exc=exc))
            log.warning("Failed to refresh Zoom token for now (will retry): %s", exc.reason)
            if use_still_valid and lease.still_valid is not None:
                return lease.still_valid
            raise
        return await self._save_grant(lease, grant)

    async def _save_grant(self, lease: "_Lease", grant: TokenGrant) -> ZoomAccess:
        """Persist Zoom's rotated tokens before anyone uses them; never drop them.

        A write that keeps failing is handed to a background task that retries until it
        lands (shutdown waits for it); meanwhile the caller gets a clean "try again".
        """
        try:
            saved = await self._settle(lease, lambda s, c: self._store(s, c, grant))
        except DATABASE_ERRORS as exc:
            first = lease.specialist_id not in self._unsaved
            self._unsaved[lease.specialist_id] = (lease, grant)
            if first:
                self._track(self._keep_saving(lease, grant))
            log.error("Zoom renewed the tokens; saving them failed for now: %s", type(exc).__name__)
            raise ZoomUnavailable("the renewed Zoom tokens are not saved yet") from None
        self._unsaved.pop(lease.specialist_id, None)
        if saved is None:  # a reconnect replaced this grant meanwhile: use what is stored
            if (access := await self._read_usable(lease.specialist_id, None)) is None:
                raise ZoomUnavailable("the Zoom grant was replaced during a refresh")
            return access
        metrics.REFRESHES.labels("ok").inc()
        log.info("Zoom access token refreshed successfully, new expiry: %s", saved.isoformat())
        return ZoomAccess(grant.access_token, v2(grant.api_url), lease.zoom_user_id)

    async def _keep_saving(self, lease: "_Lease", grant: TokenGrant) -> None:
        pause = 0.5
        while lease.specialist_id in self._unsaved:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 15.0)
            with contextlib.suppress(ZoomUnavailable):
                await self._save_grant(lease, grant)
        log.info("Renewed Zoom tokens of specialist %s saved", lease.specialist_id)

    async def _settle(
        self,
        lease: "_Lease",
        apply: Callable[[AsyncSession, ZoomConnection], Awaitable[T]],
    ) -> T | None:
        """Apply Zoom's answer in a short transaction, retried while the database fails.

        Nothing is applied (None) when the stored grant is no longer the one refreshed: a
        reconnect replaced it while Zoom answered.
        """
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(WRITE_PATIENCE_SECONDS),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
            retry=retry_if_exception_type(DATABASE_ERRORS),
            reraise=True,
        ):
            with attempt:
                async with self.db.transaction() as session:
                    connection = await service.lock(session, lease.specialist_id)
                    if connection is None or not self._holds_grant(connection, lease):
                        if connection is not None:
                            connection.release_lease(lease.owner)
                        return None
                    result = await apply(session, connection)
                    connection.release_lease(lease.owner)
                    return result
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _holds_grant(self, connection: ZoomConnection, lease: "_Lease") -> bool:
        if connection.refresh_token is None:
            return False
        try:
            return self.cipher.decrypt(connection.refresh_token) == lease.refresh_token
        except TokenDecryptionError:
            return False

    async def _store(
        self, session: AsyncSession, connection: ZoomConnection, grant: TokenGrant
    ) -> datetime:
        now = self.clock.now()
        service.store_grant(connection, grant, self.cipher, now)
        await service.record_refresh(session, connection.specialist_id, "ok", None, now)
        return now + timedelta(seconds=grant.expires_in)

    async def _transient(
        self, session: AsyncSession, connection: ZoomConnection, exc: ZoomUnavailable
    ) -> None:
        now = self.clock.now()
        if exc.outcome_unknown:
            connection.refresh_answer_lost_at = now
        service.record_transient_failure(connection, f"Zoom unavailable: {exc.reason}", now)
        await service.record_refresh(
            session, connection.specialist_id, "transient", exc.reason, now
        )

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
        message = "Zoom has ended Specialistly's access to your Zoom account. " + (
            "Until you reconnect, new bookings get their Zoom links from Specialistly's own "
            "Zoom account. Your bookings are kept."
            if self.platform_fallback
            else "New bookings are confirmed but wait for their Zoom links until you "
            "reconnect. Your bookings are kept."
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
        token = self.cipher.decrypt(connection.access_token, remember=True)
        return ZoomAccess(token, v2(connection.api_url), connection.zoom_user_id)

    def _stale_for(self, connection: ZoomConnection, older_than: timedelta) -> bool:
        last = connection.last_refreshed_at
        return last is None or self.clock.now() - last > older_than


@dataclass(frozen=True)
class _Lease:
    """The right to refresh one connection, and what the refresh needs of the row."""

    specialist_id: int
    owner: str
    refresh_token: str = field(repr=False)
    still_valid: ZoomAccess | None
    zoom_user_id: str | None


__all__ = ["RECONNECT_PATH", "Connections", "ZoomAccess"]
