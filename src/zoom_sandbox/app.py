"""Build the sandbox as an ASGI app: Zoom's routes under one base URL, plus `/_control`."""

from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zoom_sandbox import api, control, oauth
from zoom_sandbox.app_state import TEMPLATES, Sandbox, sandbox_of
from zoom_sandbox.clock import SandboxClock
from zoom_sandbox.config import SandboxConfig
from zoom_sandbox.store import SandboxStore
from zoom_sandbox.transport import LosableResponses


class CountApiStatuses:
    """Count every `/v2` answer by HTTP status, lost ones included (Zoom did answer them)."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")[len(scope.get("root_path", "")) :]
        if scope["type"] != "http" or not path.startswith("/v2/"):
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.sandbox.state.stats.api_requests[str(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


class PersistBeforeAnswering:
    """Save the state's changes before a response leaves, so what a caller was told survives."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sandbox.store is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def saving_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.sandbox.persist()
            await send(message)

        try:
            await self.app(scope, receive, saving_send)
        finally:
            self.sandbox.persist()


class SandboxApp:
    """The sandbox as an ASGI app, with its `Sandbox` at hand for in-process callers."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_sandbox_app(
    config: SandboxConfig,
    *,
    clock: SandboxClock | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    store: SandboxStore | None = None,
) -> SandboxApp:
    """Build a sandbox (fresh, or as `store` kept it) and return it as an ASGI app."""
    sandbox = Sandbox(config, clock=clock, webhook_transport=webhook_transport, store=store)
    app = FastAPI(
        title="Zoom sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # No OpenTelemetry (none is configured): FastAPI would look for it on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.sandbox = sandbox
    app.include_router(oauth.router)
    app.include_router(api.router)
    app.include_router(control.router)

    @app.exception_handler(api.ZoomError)
    async def zoom_error(_: Request, exc: api.ZoomError) -> Response:
        return exc.render()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors()
        ]
        if request.url.path.startswith(f"{request.scope.get('root_path', '')}/_control"):
            return JSONResponse({"detail": errors}, status_code=422)
        body = {"code": 300, "message": "Validation Failed.", "errors": errors}
        return JSONResponse(body, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "home.html", {"sandbox": sandbox_of(request)})

    @app.get("/j/{meeting_id}", response_class=HTMLResponse)
    async def join(request: Request, meeting_id: int) -> Response:
        return _meeting_page(request, meeting_id, host=False)

    @app.get("/s/{meeting_id}", response_class=HTMLResponse)
    async def start(request: Request, meeting_id: int) -> Response:
        return _meeting_page(request, meeting_id, host=True)

    persisting = PersistBeforeAnswering(app, sandbox)
    return SandboxApp(LosableResponses(CountApiStatuses(persisting, sandbox)), sandbox)


def _meeting_page(request: Request, meeting_id: int, *, host: bool) -> Response:
    meeting = sandbox_of(request).state.meetings.get(meeting_id)
    context: dict[str, Any] = {"meeting": meeting.body if meeting else None, "host": host}
    status = 200 if meeting else 404
    return TEMPLATES.TemplateResponse(request, "meeting.html", context, status_code=status)
