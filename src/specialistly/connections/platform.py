"""The platform's own Zoom account (Server-to-Server): the fallback host of meetings."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from specialistly.clock import Clock
from specialistly.connections.flows import ZoomAccess
from specialistly.zoom.errors import ZoomAccessTokenRejected, ZoomUnavailable
from specialistly.zoom.oauth import ZoomServerToServer

log = logging.getLogger(__name__)
T = TypeVar("T")
LEEWAY = timedelta(minutes=5)


class PlatformZoom:
    """Hold one S2S token per process and ask Zoom for another only when it expires."""

    def __init__(self, s2s: ZoomServerToServer | None, clock: Clock) -> None:
        self._s2s, self._clock = s2s, clock
        self._cached: tuple[ZoomAccess, datetime] | None = None
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return self._s2s is not None

    async def access(self, *, stale: str | None = None) -> ZoomAccess:
        if self._s2s is None:
            raise ZoomUnavailable("the platform's Server-to-Server app is not configured")
        async with self._lock:
            now = self._clock.now()
            if self._cached is not None:
                access, expires_at = self._cached
                if access.token != stale and expires_at - now > LEEWAY:
                    return access
            grant = await self._s2s.token()
            base = grant.api_url.rstrip("/") + "/v2" if grant.api_url else None
            access = ZoomAccess(grant.access_token, base)
            self._cached = (access, now + timedelta(seconds=grant.expires_in))
            log.info("Platform Zoom token obtained (expires in %d minutes)", grant.expires_in // 60)
            return access

    async def call(self, work: Callable[[ZoomAccess], Awaitable[T]]) -> T:
        """Run one API call with the platform token; on 401 fetch a new token and retry once."""
        access = await self.access()
        try:
            return await work(access)
        except ZoomAccessTokenRejected:
            pass
        try:
            return await work(await self.access(stale=access.token))
        except ZoomAccessTokenRejected:
            raise ZoomUnavailable("Zoom refused a fresh platform access token") from None
