"""Connecting Zoom and letting go of it: the OAuth callback, disconnect, deauthorization.

Nothing is stored unless the whole connect flow succeeds; a state is single-use,
short-lived and bound to the specialist who started it.
"""

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.clock import Clock
from specialistly.connections import retired, service
from specialistly.connections.access import RECONNECT_PATH, v2
from specialistly.connections.errors import ConnectFailed
from specialistly.connections.models import ConnectionStatus, OAuthState, ZoomConnection
from specialistly.db import Database
from specialistly.notifications import service as notices
from specialistly.notifications.service import Notifier
from specialistly.security import TokenCipher, digest
from specialistly.zoom.api import ZoomApi, ZoomUser
from specialistly.zoom.errors import ZoomError, ZoomTokenRejected, ZoomUnavailable
from specialistly.zoom.oauth import TokenGrant, ZoomOAuth, s256_challenge

log = logging.getLogger("specialistly.zoom_tokens")

STATE_LIFETIME = timedelta(minutes=10)
# Notices that Zoom cannot be used: a successful connect resolves them.
INCIDENTS = ("zoom_reconnect_needed", "zoom_disconnected", "zoom_deauthorized")
# The scopes a connection needs: create meetings, move them when a booking is rescheduled, and
# read the user (granular or classic names; the classic `meeting:write` covers both writes).
REQUIRED_SCOPES = {
    "meeting:write:meeting": {"meeting:write:meeting", "meeting:write"},
    "meeting:update:meeting": {"meeting:update:meeting", "meeting:write"},
    "user:read:user": {"user:read:user", "user:read"},
}


class Connecting:
    """The connect, disconnect and deauthorization flows (a part of `Connections`)."""

    db: Database
    oauth: ZoomOAuth
    api: ZoomApi
    cipher: TokenCipher
    clock: Clock
    notifier: Notifier
    _locks: defaultdict[int, asyncio.Lock]
    platform_fallback: bool
    on_connected: list[Callable[[int], Awaitable[None]]]

    async def start_connect(self, specialist_id: int) -> str:
        """Remember a single-use state bound to the specialist; return Zoom's authorize URL."""
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        async with self.db.transaction() as session:
            await service.forget_expired_states(session, self.clock.now())
            session.add(
                OAuthState(
                    state_digest=digest(state),
                    specialist_id=specialist_id,
                    code_verifier=self.cipher.encrypt(verifier),
                    expires_at=self.clock.now() + STATE_LIFETIME,
                )
            )
        return self.oauth.authorize_url(state=state, code_challenge=s256_challenge(verifier))

    async def finish_connect(
        self, signed_in: int | None, *, state: str, code: str | None, error: str | None
    ) -> None:
        """Complete the callback or raise `ConnectFailed`; nothing is stored on failure."""
        async with self.db.transaction() as session:
            pending = await service.take_state(session, digest(state)) if state else None
        if pending is None or signed_in is None or pending.specialist_id != signed_in:
            raise ConnectFailed("invalid_state", "This sign-in link is not valid any more.")
        if pending.expires_at <= self.clock.now():
            raise ConnectFailed("expired_state", "The Zoom sign-in took too long.")
        if error is not None:
            raise ConnectFailed(
                "access_denied" if error == "access_denied" else "zoom_error", error
            )
        if not code:
            raise ConnectFailed("missing_code", "Zoom sent no authorization code.")
        grant = await self._exchange(code, self.cipher.decrypt(pending.code_verifier))
        if missing := self._missing_scopes(grant):
            await self._revoke_quietly(grant.access_token)
            raise ConnectFailed("missing_scopes", " ".join(sorted(missing)))
        try:
            user = await self.api.me(grant.access_token, base_url=v2(grant.api_url))
        except ZoomError as exc:
            raise ConnectFailed("zoom_unavailable", type(exc).__name__) from None
        try:
            await self._store_connection(pending.specialist_id, user, grant)
        except IntegrityError:  # a connect in another tab created the row meanwhile
            await self._store_connection(pending.specialist_id, user, grant)
        log.info("Zoom connected for specialist %s", pending.specialist_id)
        for hook in self.on_connected:
            await hook(pending.specialist_id)

    async def _store_connection(
        self, specialist_id: int, user: ZoomUser, grant: TokenGrant
    ) -> None:
        async with self.db.transaction() as session:
            await self._take_over_zoom_user(session, user.id, specialist_id)
            connection = await service.lock(session, specialist_id)
            now = self.clock.now()
            # Another Zoom user: their meetings already sent to customers still need the
            # replaced grant (the meetings job revokes it once none does).
            await retired.retire_replaced(session, connection, user.id, now)
            if connection is None:
                connection = ZoomConnection(specialist_id=specialist_id, updated_at=now)
                session.add(connection)
            connection.zoom_user_id, connection.zoom_email = user.id, user.email
            connection.connected_at = now
            service.store_grant(connection, grant, self.cipher, now)
            await service.record_refresh(session, specialist_id, "connected", None, now)
            await notices.resolve(session, specialist_id, INCIDENTS)

    async def _exchange(self, code: str, verifier: str) -> TokenGrant:
        try:
            return await self.oauth.exchange_code(code, verifier)
        except ZoomTokenRejected as exc:
            raise ConnectFailed("invalid_code", exc.reason) from None
        except ZoomUnavailable as exc:
            raise ConnectFailed("zoom_unavailable", exc.reason) from None

    @staticmethod
    def _missing_scopes(grant: TokenGrant) -> set[str]:
        return {need for need, names in REQUIRED_SCOPES.items() if not names & grant.scopes}

    def meanwhile(self) -> str:
        """What happens to new bookings until Zoom is connected again."""
        if self.platform_fallback:
            return (
                "New bookings get their Zoom links from Specialistly's own Zoom account "
                "until you connect Zoom again."
            )
        return "New bookings wait for their Zoom links until you connect Zoom again."

    async def _take_over_zoom_user(
        self, session: AsyncSession, zoom_user_id: str, specialist_id: int
    ) -> None:
        # Zoom ends earlier grants when the same user authorizes again, so another
        # specialist who had this Zoom account connected has just lost it: say so.
        for other in await service.by_zoom_user(session, zoom_user_id):
            if other.specialist_id == specialist_id or other.refresh_token is None:
                continue
            service.mark_not_connected(
                other, "Zoom account connected to another profile", self.clock.now()
            )
            self.notifier.notify(
                session,
                specialist_id=other.specialist_id,
                kind="zoom_disconnected",
                message="Your Zoom account was connected to another Specialistly profile, "
                "so it is no longer connected here.",
                link_path=RECONNECT_PATH,
            )

    async def disconnect(self, specialist_id: int) -> None:
        """Delete the tokens and say so, then revoke the grant at Zoom (best effort).

        Deleting first means Zoom's `app_deauthorized` webhook, which the revoke triggers,
        finds nothing left to do.
        """
        async with self._locks[specialist_id]:
            async with self.db.transaction() as session:
                connection = await service.lock(session, specialist_id)
                if connection is None:
                    return
                stored = connection.access_token or connection.refresh_token
                had_zoom = connection.status != ConnectionStatus.NOT_CONNECTED
                service.mark_not_connected(connection, None, self.clock.now())
                if had_zoom:
                    self.notifier.notify(
                        session,
                        specialist_id=specialist_id,
                        kind="zoom_disconnected",
                        message="Zoom is disconnected. " + self.meanwhile(),
                    )
            if stored is not None:
                await self._revoke_quietly(self.cipher.decrypt(stored))
        log.info("Zoom disconnected for specialist %s", specialist_id)

    async def deauthorized(
        self, zoom_user_id: str, *, client_id: str | None, at: datetime | None
    ) -> int:
        """Zoom says the user removed our app: delete their tokens and tell the specialist.

        An event for another app, or older than the current connection (Zoom retries
        deliveries for an hour), changes nothing.
        """
        if client_id is not None and client_id != self.oauth.client_id:
            return 0
        ended = 0
        async with self.db.transaction() as session:
            await retired.forget_user(session, zoom_user_id)
            for connection in await service.by_zoom_user(session, zoom_user_id):
                stale = (
                    at is not None
                    and connection.connected_at is not None
                    and (at < connection.connected_at)
                )
                if stale or connection.status == ConnectionStatus.NOT_CONNECTED:
                    continue
                service.mark_not_connected(
                    connection,
                    "The Specialistly app was removed in Zoom",
                    self.clock.now(),
                    forget_user=True,
                )
                self.notifier.notify(
                    session,
                    specialist_id=connection.specialist_id,
                    kind="zoom_deauthorized",
                    message="The Specialistly app was removed from your Zoom account, so Zoom "
                    "is disconnected. " + self.meanwhile(),
                    link_path=RECONNECT_PATH,
                )
                ended += 1
        return ended

    async def _revoke_quietly(self, token: str) -> None:
        try:
            await self.oauth.revoke(token)
        except ZoomError as exc:
            log.warning("Could not revoke an unused Zoom token: %s", type(exc).__name__)
