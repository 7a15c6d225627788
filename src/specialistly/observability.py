"""Request ids and Prometheus metrics."""

import secrets
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from specialistly.logs import request_id

REGISTRY = CollectorRegistry(auto_describe=True)

REFRESHES = Counter(
    "specialistly_zoom_refresh_attempts",
    "Refreshes of specialists' Zoom tokens, by outcome (ok, transient, dead).",
    ["outcome"],
    registry=REGISTRY,
)
REFRESH_SECONDS = Histogram(
    "specialistly_zoom_refresh_seconds",
    "Time of one refresh call to Zoom, retries included.",
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONNECTIONS = Gauge(
    "specialistly_zoom_connections",
    "Zoom connections by status (read from the database at scrape time).",
    ["status"],
    registry=REGISTRY,
)
MEETINGS = Counter(
    "specialistly_meetings",
    "Meeting attempts by outcome (created, found, deferred, failed) and provider.",
    ["outcome", "provider"],
    registry=REGISTRY,
)
PENDING_MEETINGS = Gauge(
    "specialistly_pending_meetings",
    "Confirmed bookings still waiting for their meeting (read at scrape time).",
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "specialistly_zoom_webhook_events",
    "Zoom webhook events by type and outcome.",
    ["event", "outcome"],
    registry=REGISTRY,
)
KEEPALIVE_RUNS = Counter(
    "specialistly_keepalive_runs",
    "Keep-alive sweeps run by this process.",
    registry=REGISTRY,
)
KEEPALIVE_REFRESHED = Counter(
    "specialistly_keepalive_refreshed",
    "Connections the keep-alive refreshed.",
    registry=REGISTRY,
)
EMAIL_ATTEMPTS = Counter(
    "specialistly_email_attempts",
    "Attempts to send an outbox email by this process, by outcome (sent, error).",
    ["outcome"],
    registry=REGISTRY,
)
EMAILS_SENT = Counter(
    "specialistly_emails_sent",
    "Outbox emails this process delivered.",
    registry=REGISTRY,
)
EMAILS_FAILED = Counter(
    "specialistly_emails_failed",
    "Outbox emails this process marked failed after their last attempt.",
    registry=REGISTRY,
)
OUTBOX_EMAILS = Gauge(
    "specialistly_outbox_emails",
    "Outbox emails by status: pending, sent, failed (read from the database at scrape time).",
    ["status"],
    registry=REGISTRY,
)


class RequestIds:
    """Give every request an id (or keep a sane incoming X-Request-ID) for its log lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = (
            given
            if given.isascii() and given.replace("-", "").isalnum() and len(given) <= 64
            else secrets.token_hex(8)
        )
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class Timer:
    def __enter__(self) -> "Timer":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        REFRESH_SECONDS.observe(time.perf_counter() - self.started)
