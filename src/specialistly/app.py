"""create_app(): settings, services, routers and the sandbox mount; no logic."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from specialistly import health
from specialistly.clock import Clock, SystemClock
from specialistly.config import SANDBOX_MOUNT, Settings, load_settings
from specialistly.db import Database
from specialistly.sandbox import mounted_sandbox
from zoom_sandbox import SandboxApp, SandboxTransport


@dataclass
class AppContext:
    """What requests, flows and jobs share: settings, database, clock and Zoom's HTTP client."""

    settings: Settings
    db: Database
    clock: Clock
    zoom_http: httpx.AsyncClient
    sandbox: SandboxApp | None


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    zoom_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the app; in sandbox mode, mount the Zoom sandbox and reach it in-process."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await ctx.zoom_http.aclose()
        await ctx.db.dispose()

    app = FastAPI(
        title="Specialistly",
        version="0.1.0",
        summary="Specialists sell consultation slots; every booking gets a Zoom meeting.",
        lifespan=lifespan,
    )
    sandbox = mounted_sandbox(settings, app) if settings.sandbox else None
    if sandbox is not None:
        app.mount(SANDBOX_MOUNT, sandbox)
        zoom_transport = zoom_transport or SandboxTransport(sandbox, root_path=SANDBOX_MOUNT)
        # The app lives in the sandbox's time, so moving the sandbox clock moves both.
        clock = clock or sandbox.sandbox.clock
    ctx = AppContext(
        settings=settings,
        db=Database(settings.async_database_url),
        clock=clock or SystemClock(),
        zoom_http=httpx.AsyncClient(transport=zoom_transport, timeout=httpx.Timeout(15.0)),
        sandbox=sandbox,
    )
    app.state.ctx = ctx
    app.include_router(health.router)
    return app
