"""Build what requests, jobs and commands share: settings, database, clock, Zoom and email."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from specialistly.bookings.flows import Bookings
from specialistly.bookings.meetings import MeetingMaker
from specialistly.bookings.moves import MeetingMover
from specialistly.bookings.rescheduling import Rescheduler
from specialistly.bookings.service import needs_host, wake_pending
from specialistly.clock import Clock, SystemClock
from specialistly.config import Settings
from specialistly.connections.flows import Connections
from specialistly.connections.platform import PlatformZoom
from specialistly.connections.retired import RetiredGrants
from specialistly.db import Database
from specialistly.notifications.email import EmailSender, sender_for
from specialistly.notifications.service import Notifier
from specialistly.security import TokenCipher
from specialistly.zoom.api import ZoomApi, ZoomMeetings
from specialistly.zoom.network import NetworkTransport, proxied
from specialistly.zoom.oauth import AppCredentials, ZoomOAuth, ZoomServerToServer
from specialistly.zoom.transport import RetryPolicy, ZoomHttpClient

# Connections to Zoom per process, all kept alive between calls, but for less time than
# servers commonly keep an idle one (uvicorn 5 s): a request sent on a connection the server
# closes at that moment gets no answer ("Server disconnected without sending a response").
ZOOM_CONNECTIONS = 100
ZOOM_KEEPALIVE_SECONDS = 2.0


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    zoom_http: httpx.AsyncClient
    cipher: TokenCipher
    email: EmailSender
    notifier: Notifier
    connections: Connections
    platform: PlatformZoom
    meetings: MeetingMaker
    bookings: Bookings
    mover: MeetingMover
    # Set when the process is stopping: long jobs end their run early (the rest waits for
    # the next run, in this process or another).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        """Let refreshes in flight persist Zoom's answer, then close Zoom's client and the pool."""
        await self.connections.drain()
        if self.meetings.retired is not None:
            await self.meetings.retired.drain()
        await self.zoom_http.aclose()
        await self.db.dispose()


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    zoom_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    db: Database | None = None,
) -> AppContext:
    """Wire the services from settings; tests pass a clock, a transport and a retry policy."""
    clock = clock or SystemClock()
    retry = retry or RetryPolicy()
    db = db or Database(settings.async_database_url, pool_size=settings.database_pool_size)
    if zoom_transport is None and not proxied():
        zoom_transport = NetworkTransport(
            timeout=settings.zoom_http_timeout_seconds,
            connections=ZOOM_CONNECTIONS,
            keepalive=ZOOM_KEEPALIVE_SECONDS,
        )
    zoom_http = ZoomHttpClient(  # shared by every specialist's calls: keeps no cookies
        transport=zoom_transport,
        timeout=httpx.Timeout(settings.zoom_http_timeout_seconds),
        # Keep every connection a busy moment opened: httpx keeps 20 by default, so at 50
        # bookings at once most calls to Zoom would open (and TLS-handshake) a new one. (The
        # limits of httpx's own transport, which goes through the proxy the environment
        # names; the network transport keeps as many.)
        limits=httpx.Limits(
            max_connections=ZOOM_CONNECTIONS,
            max_keepalive_connections=ZOOM_CONNECTIONS,
            keepalive_expiry=ZOOM_KEEPALIVE_SECONDS,
        ),
    )
    cipher = TokenCipher(settings.encryption_keys)
    secret = settings.zoom_user_managed_client_secret
    oauth = ZoomOAuth(
        zoom_http,
        oauth_base_url=settings.zoom_oauth_base_url,
        app=AppCredentials(
            settings.zoom_user_managed_client_id or "",
            secret.get_secret_value() if secret else "",
        ),
        redirect_uri=settings.zoom_redirect_uri or "",
        retry=retry,
    )
    api = ZoomApi(zoom_http, api_base_url=settings.zoom_api_base_url, retry=retry)
    notifier = Notifier(clock=clock, base_url=settings.base_url, cipher=cipher)
    platform = PlatformZoom(_server_to_server(settings, zoom_http, retry), clock)
    connections = Connections(
        db=db,
        oauth=oauth,
        api=api,
        cipher=cipher,
        clock=clock,
        notifier=notifier,
        leeway=timedelta(seconds=settings.zoom_refresh_leeway_seconds),
        lease_for=refresh_lease(retry, settings.zoom_http_timeout_seconds),
        platform_fallback=settings.fallback == "platform" and platform.configured,
    )
    maker = MeetingMaker(
        db=db,
        connections=connections,
        platform=platform,
        meetings=ZoomMeetings(api),
        cipher=cipher,
        clock=clock,
        notifier=notifier,
        fallback=settings.fallback,
        retired=RetiredGrants(
            db=db, oauth=oauth, cipher=cipher, clock=clock, still_needed=needs_host
        ),
    )

    mover = MeetingMover(db=db, maker=maker, clock=clock)
    cutoff = timedelta(minutes=settings.reschedule_cutoff_minutes)

    async def wake(specialist_id: int) -> None:
        async with db.transaction() as session:
            await wake_pending(session, specialist_id, clock.now())

    async def release_replaced(specialist_id: int) -> None:
        await maker.release_retired(specialist_id)

    connections.on_connected.append(wake)
    connections.on_connected.append(release_replaced)
    return AppContext(
        settings=settings,
        db=db,
        clock=clock,
        zoom_http=zoom_http,
        cipher=cipher,
        email=sender_for(settings),
        notifier=notifier,
        connections=connections,
        platform=platform,
        meetings=maker,
        bookings=Bookings(
            db=db,
            maker=maker,
            cipher=cipher,
            clock=clock,
            notifier=notifier,
            reminder_offsets=settings.reminder_offsets,
            rescheduler=Rescheduler(
                db=db,
                clock=clock,
                maker=maker,
                mover=mover,
                reminder_offsets=settings.reminder_offsets,
                cutoff=cutoff,
            ),
            change_cutoff=cutoff,
        ),
        mover=mover,
    )


def refresh_lease(retry: RetryPolicy, timeout_seconds: float) -> timedelta:
    """Outlast a refresh's whole retry budget: every attempt timing out, every wait taken."""
    budget = retry.attempts * (timeout_seconds + retry.max_wait) + retry.max_retry_after
    return timedelta(seconds=budget + 15)


def _server_to_server(
    settings: Settings, http: httpx.AsyncClient, retry: RetryPolicy
) -> ZoomServerToServer | None:
    if not settings.has_s2s or settings.zoom_client_secret is None:
        return None
    return ZoomServerToServer(
        http,
        oauth_base_url=settings.zoom_oauth_base_url,
        app=AppCredentials(
            settings.zoom_client_id or "", settings.zoom_client_secret.get_secret_value()
        ),
        account_id=settings.zoom_account_id or "",
        retry=retry,
    )
