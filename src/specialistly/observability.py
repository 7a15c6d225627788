"""Request ids and Prometheus metrics."""

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fastapi.telemetry import TelemetryConfig
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from specialistly.logs import request_id

REGISTRY = CollectorRegistry(auto_describe=True)

# FastAPI's own OpenTelemetry, off: this service reports by Prometheus metrics and its logs, and
# ships no OpenTelemetry SDK. Left on, FastAPI asks OpenTelemetry for its global providers on
# every request (environment lookups included) only to find none configured.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

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
HTTP_REQUESTS = Counter(
    "specialistly_http_requests",
    "HTTP requests by method, route template (none when no route matched) and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "specialistly_http_request_duration_seconds",
    "Time from a request's arrival to its response's end, by method and route template.",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL_SIZE = Gauge(
    "specialistly_db_pool_size",
    "Connections the database pool keeps, by engine (read at scrape time).",
    ["engine"],
    registry=REGISTRY,
)
DB_POOL_CHECKED_OUT = Gauge(
    "specialistly_db_pool_checked_out",
    "Pool connections in use right now, by engine (read at scrape time).",
    ["engine"],
    registry=REGISTRY,
)
DB_POOL_OVERFLOW = Gauge(
    "specialistly_db_pool_overflow",
    "Connections open beyond the pool's size (negative: room left before it), by engine.",
    ["engine"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "specialistly_job_runs",
    "Runs of a background job in this process, by job.",
    ["job"],
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "specialistly_job_failures",
    "Runs of a background job in this process that raised, by job.",
    ["job"],
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "specialistly_job_last_success_timestamp_seconds",
    "Unix time at which a job's last successful run in this process ended, by job.",
    ["job"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "specialistly_job_duration_seconds",
    "Time of one finished run of a background job (ok or failed), by job.",
    ["job"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)

# Anything else (a client's made-up method) is counted as "other", so labels stay few.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Count and time every HTTP request by method, route template and status.

    The route is read once the app has routed the request (FastAPI leaves the matched route
    in the scope, and a mount its prefix in the `root_path`), so no request is routed twice:
    the exporter middleware this replaces matched every request against every route again
    before handing it on, a measured 2 % of a booking's CPU (bench/README.md, round 7).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # unless a response starts: an exception the server answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = _route_template(scope, root_path)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def _route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that took the request; a mount (the sandbox, static files)
    by its prefix; "none" when no route did (a 404, or a redirect to add or drop a slash)."""
    mounted: str = scope.get("root_path", "")[len(root_path) :]
    if mounted:
        return mounted
    route = scope.get("route")
    if route is None and "endpoint" in scope:
        # FastAPI's own pages (/openapi.json, /docs) are plain Starlette routes, which leave
        # only their endpoint in the scope.
        endpoint = scope["endpoint"]
        routes = getattr(scope.get("app"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is endpoint), None)
    template: str | None = getattr(route, "path", None)
    return template or "none"


def observe_pools(engines: Sequence[Engine]) -> None:
    """Read the database pools' figures into their gauges (pools that keep connections)."""
    for index, engine in enumerate(engines):
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            continue  # e.g. an in-memory SQLite database's single shared connection
        name = "main" if index == 0 else "sqlite_writer"
        DB_POOL_SIZE.labels(name).set(pool.size())
        DB_POOL_CHECKED_OUT.labels(name).set(pool.checkedout())
        DB_POOL_OVERFLOW.labels(name).set(pool.overflow())


@contextmanager
def job_run(name: str) -> Iterator[None]:
    """Count, time and date one run of the job `name`; a run that raises is a failure."""
    JOB_RUNS.labels(name).inc()
    started = time.perf_counter()
    try:
        yield
    except Exception:
        JOB_FAILURES.labels(name).inc()
        JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
        raise
    JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
    JOB_LAST_SUCCESS.labels(name).set_to_current_time()


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
        # Kept on the request too: the error page for a crash runs after this middleware ends.
        scope.setdefault("state", {})["request_id"] = rid

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
