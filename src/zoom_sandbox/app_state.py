"""The sandbox object every route works on: config, clock, state, faults and webhooks."""

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from zoom_sandbox import webhooks
from zoom_sandbox.clock import SandboxClock
from zoom_sandbox.config import SandboxConfig
from zoom_sandbox.faults import Faults
from zoom_sandbox.state import SandboxState, ZoomUser
from zoom_sandbox.store import SandboxStore

log = logging.getLogger("zoom_sandbox")
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


class Sandbox:
    """One Zoom: two apps, their users, tokens and meetings, and the failures asked of it."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        clock: SandboxClock | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        store: SandboxStore | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SandboxClock()
        self.store = store
        self.state = store.load(self.clock) if store else SandboxState()
        self.faults = Faults()
        self.webhook_transport = webhook_transport
        self.account_id = (
            config.s2s_app.account_id if config.s2s_app and config.s2s_app.account_id else "sandbox"
        )
        self._background: set[asyncio.Task[Any]] = set()

    def reset(self) -> None:
        self.state = SandboxState()
        self.faults.clear()
        self.clock.reset()
        if self.store is not None:
            self.store.wipe()

    def close(self) -> None:
        """Save and close the state file, if any (the sandbox keeps working in memory)."""
        if self.store is not None:
            self.persist()
            self.store.close()
            self.store = None

    def persist(self) -> None:
        """Save what changed, when this sandbox keeps its state in a file."""
        if self.store is not None:
            self.store.save(self.state, self.clock)

    def api_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def account_owner(self, now: Any) -> ZoomUser:
        return self.state.user(
            f"owner@{self.account_id}.zoom.sandbox", account_id=self.account_id, now=now
        )

    def consent_page(
        self,
        request: Request,
        client_id: str,
        *,
        email: str = "",
        error: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        app = self.config.apps[client_id]
        context = {"app": app, "email": email, "error": error, "action": str(request.url)}
        return TEMPLATES.TemplateResponse(request, "consent.html", context, status_code=status)

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def send_deauthorized(self, user_id: str) -> dict[str, Any]:
        """Send a signed `app_deauthorized` event for this user to the configured webhook URL."""
        event = webhooks.app_deauthorized(
            account_id=self.account_id,
            user_id=user_id,
            client_id=self.config.user_app.client_id,
            secret=self.config.webhook_secret_token,
            now=self.clock.now(),
        )
        status, _ = await self.deliver(event)
        return {"event": "app_deauthorized", "delivered": status in (200, 204), "status": status}

    async def deliver(self, event: dict[str, Any]) -> tuple[int | None, bytes]:
        """POST a signed event; answer the status (None when unreachable) and the body."""
        url = self.config.webhook_url
        if url is None:
            self.state.stats.webhooks["not_configured"] += 1
            return None, b""
        body, headers = webhooks.signed_request(
            self.config.webhook_secret_token, event, self.clock.now()
        )
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=3.0) as client:
                answer = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("webhook %s to %s failed: %s", event["event"], url, type(exc).__name__)
            self.state.stats.webhooks["unreachable"] += 1
            return None, b""
        self.state.stats.webhooks[str(answer.status_code)] += 1
        return answer.status_code, answer.content

    async def validate_endpoint(self) -> dict[str, Any]:
        """Challenge the webhook URL with `endpoint.url_validation` as Zoom does."""
        event = webhooks.url_validation(self.clock.now())
        plain = event["payload"]["plainToken"]
        status, body = await self.deliver(event)
        expected = webhooks.encrypt_plain_token(self.config.webhook_secret_token, plain)
        try:
            answer = httpx.Response(200, content=body).json()
        except ValueError:
            answer = {}
        valid = (
            status == 200
            and isinstance(answer, dict)
            and answer.get("plainToken") == plain
            and secrets.compare_digest(str(answer.get("encryptedToken", "")), expected)
        )
        return {"event": "endpoint.url_validation", "status": status, "valid": valid}


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def get_sandbox(request: Request) -> Sandbox:
    """The sandbox as a dependency (async: a plain function would go through a thread pool)."""
    return sandbox_of(request)
