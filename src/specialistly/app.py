"""create_app(): settings, services, routers and the sandbox mount; no logic."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from specialistly import errors, health
from specialistly.bookings import views as booking_views
from specialistly.clock import Clock
from specialistly.config import SANDBOX_MOUNT, Settings, load_settings
from specialistly.connections import views as connection_views
from specialistly.connections import webhook_views
from specialistly.context import AppContext, build_context
from specialistly.jobs import Scheduler
from specialistly.notifications import views as notification_views
from specialistly.observability import NO_OPENTELEMETRY, HttpMetrics, RequestIds
from specialistly.sandbox import mounted_sandbox
from specialistly.scheduling import views as scheduling_views
from specialistly.specialists import slot_views
from specialistly.specialists import views as specialist_views
from specialistly.web import account as account_pages
from specialistly.web import (
    booking_admin,
    error_pages,
    profile,
    reschedule_pages,
    schedule_pages,
)
from specialistly.web import dashboard as dashboard_pages
from specialistly.web import mailbox as mailbox_pages
from specialistly.web import manage as manage_pages
from specialistly.web import password_reset as password_reset_pages
from specialistly.web import public as public_pages
from specialistly.web.clock_style import ClockStyle
from specialistly.web.pages import STATIC
from specialistly.zoom.transport import RetryPolicy
from zoom_sandbox import SandboxApp, SandboxTransport


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    zoom_transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    run_jobs: bool = False,
    keep_sandbox_state: bool = False,
) -> FastAPI:
    """Build the app; in sandbox mode, mount the Zoom sandbox and reach it in-process (its
    state kept under `var/` when `keep_sandbox_state`, as `specialistly serve` asks)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = Scheduler(ctx)
        if run_jobs:
            scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            await ctx.close()
            if sandbox is not None:
                sandbox.sandbox.close()

    app = FastAPI(
        title="Specialistly",
        version="0.1.0",
        summary="Specialists sell consultation slots; every booking gets a Zoom meeting.",
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    sandbox: SandboxApp | None = None
    if settings.sandbox:
        sandbox = mounted_sandbox(settings, app, keep_state=keep_sandbox_state)
        app.mount(SANDBOX_MOUNT, sandbox)
        zoom_transport = zoom_transport or SandboxTransport(sandbox, root_path=SANDBOX_MOUNT)
        # The app lives in the sandbox's time, so moving the sandbox clock moves both.
        clock = clock or sandbox.sandbox.clock
    ctx: AppContext = build_context(
        settings, clock=clock, zoom_transport=zoom_transport, retry=retry
    )
    app.state.ctx = ctx
    errors.install(app)
    error_pages.install(app)
    app.state.sandbox = sandbox
    # Routes are matched in order, each tried in turn: the busiest operation, a booking, first.
    app.include_router(booking_views.router)
    app.include_router(health.router)
    app.include_router(specialist_views.router)
    app.include_router(connection_views.router)
    app.include_router(notification_views.router)
    app.include_router(slot_views.router)
    app.include_router(scheduling_views.router)
    app.include_router(webhook_views.router)
    app.include_router(public_pages.router)
    app.include_router(manage_pages.router)
    app.include_router(account_pages.router)
    app.include_router(password_reset_pages.router)
    app.include_router(mailbox_pages.router)
    app.include_router(dashboard_pages.router)
    app.include_router(schedule_pages.router)
    app.include_router(booking_admin.router)
    app.include_router(reschedule_pages.router)
    app.include_router(profile.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(ClockStyle)
    app.add_middleware(RequestIds)
    app.add_middleware(HttpMetrics)
    return app
