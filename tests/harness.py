"""An app in live mode wired to an in-process sandbox that shares its clock.

Tests drive it as a browser and a specialist would: sign up, connect Zoom by approving the
sandbox's consent page, then use the API, while reading the sandbox's control API.
"""

import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text

from specialistly.app import create_app
from specialistly.config import Settings
from specialistly.context import AppContext
from specialistly.db import upgrade_async
from specialistly.sandbox import WEBHOOK_PATH, sandbox_config
from specialistly.zoom.transport import RetryPolicy
from zoom_sandbox import SandboxApp, SandboxTransport, create_sandbox_app

APP = "http://testserver"
ZOOM = "https://zoom.sandbox.test"
FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05, max_retry_after=5)


def live_settings(database_url: str, var_dir: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "zoom_user_managed_client_id": "um_" + secrets.token_hex(8),
        "zoom_user_managed_client_secret": secrets.token_urlsafe(24),
        "zoom_redirect_uri": f"{APP}/api/zoom/oauth/user-callback",
        "zoom_client_id": "s2s_" + secrets.token_hex(8),
        "zoom_client_secret": secrets.token_urlsafe(24),
        "zoom_account_id": "acct_" + secrets.token_hex(4),
        "zoom_webhook_secret_token": secrets.token_urlsafe(16),
        "zoom_oauth_base_url": ZOOM,
        "zoom_api_base_url": ZOOM + "/v2",
        "zoom_mode": "live",
        "database_url": database_url,
        "token_encryption_keys": Fernet.generate_key().decode(),
        "secret_key": secrets.token_urlsafe(32),
        "public_base_url": APP,
        "var_dir": var_dir,
    }
    values.update(changes)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    app: FastAPI
    ctx: AppContext
    sandbox_app: SandboxApp
    zoom: httpx.AsyncClient  # talks to the sandbox, as a browser and as the control API
    settings: Settings
    slots_made: int = 0

    def client(self) -> httpx.AsyncClient:
        """A browser: its own cookie jar, redirects not followed."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=APP)

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.zoom.request(method, "/_control" + path, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    async def advance(self, seconds: float) -> None:
        await self.control("POST", "/clock", json={"advance_seconds": seconds})

    async def stats(self) -> Any:
        return await self.control("GET", "/stats")

    async def refreshes(self) -> int:
        return int(sum((await self.stats())["token_requests"].get("refresh_token", {}).values()))

    async def sign_up(
        self, email: str | None = None, **fields: str
    ) -> tuple[httpx.AsyncClient, int]:
        browser = self.client()
        body = {
            "name": "Dana Specialist",
            "email": email or f"dana.{secrets.token_hex(4)}@example.com",
            "password": "correct horse battery",
            "timezone": "Europe/Berlin",
            **fields,
        }
        answer = await browser.post("/api/v1/specialists", json=body)
        assert answer.status_code == 201, answer.text
        return browser, int(answer.json()["id"])

    async def consent(self, browser: httpx.AsyncClient, zoom_email: str, action: str) -> str:
        """Start connecting, answer Zoom's consent page; return the callback URL Zoom sent."""
        start = await browser.get("/api/v1/zoom/connect")
        assert start.status_code == 302, start.text
        authorize = start.headers["location"]
        assert authorize.startswith(ZOOM + "/oauth/authorize?")
        answer = await self.zoom.post(authorize, data={"email": zoom_email, "action": action})
        assert answer.status_code == 302, answer.text
        return str(answer.headers["location"])

    async def connect(self, browser: httpx.AsyncClient, zoom_email: str) -> httpx.Response:
        callback = await self.consent(browser, zoom_email, "approve")
        landed = await browser.get(callback)
        assert landed.status_code == 302
        return landed

    async def connected(self, zoom_email: str | None = None) -> tuple[httpx.AsyncClient, int]:
        """A signed-up specialist whose Zoom is connected."""
        browser, specialist_id = await self.sign_up()
        landed = await self.connect(browser, zoom_email or f"z{specialist_id}@zoom.example.com")
        assert landed.headers["location"] == "/dashboard?zoom=connected"
        return browser, specialist_id

    async def status(self, specialist_id: int) -> str:
        rows = await self.raw(
            "SELECT status FROM zoom_connections WHERE specialist_id = :s", s=specialist_id
        )
        return str(rows[0][0]) if rows else "not_connected"

    async def notifications(self, specialist_id: int, kind: str = "zoom_reconnect_needed") -> int:
        rows = await self.raw(
            "SELECT COUNT(*) FROM notifications WHERE specialist_id = :s AND kind = :k",
            s=specialist_id,
            k=kind,
        )
        return int(rows[0][0])

    async def emails(self, kind: str = "zoom_reconnect_needed") -> list[tuple[str, str]]:
        """The outbox's emails of a kind, bodies decrypted."""
        rows = await self.raw("SELECT to_address, body FROM outbox_emails WHERE kind = :k", k=kind)
        return [(to, self.ctx.cipher.decrypt(body)) for to, body in rows]

    async def email_bodies(self, kind: str) -> list[tuple[str]]:
        return [(body,) for _, body in await self.emails(kind)]

    async def add_slot(
        self, browser: httpx.AsyncClient, start: str | None = None, minutes: int = 30
    ) -> int:
        """Offer a slot; by default one at a fresh hour some days ahead of the sandbox clock."""
        if start is None:
            self.slots_made += 1
            moment = self.ctx.clock.now() + timedelta(days=3, hours=self.slots_made)
            start = moment.replace(minute=0, second=0, microsecond=0).isoformat()
        answer = await browser.post(
            "/api/v1/slots", json={"start_time": start, "duration_minutes": minutes}
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    async def book(
        self, slot_id: int, customer: str = "Casey Customer", **headers: str
    ) -> httpx.Response:
        email = customer.lower().replace(" ", ".") + "@example.com"
        return await self.client().post(
            "/api/v1/bookings",
            json={"slot_id": slot_id, "customer_name": customer, "customer_email": email},
            headers=headers,
        )

    async def zoom_meetings(self, zoom_email: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self.control("GET", f"/users/{zoom_email}/meetings"))[
            "meetings"
        ]
        return found

    async def settle_meetings(self, rounds: int = 40, step: float = 120) -> None:
        """Run the meetings job, moving time on, until nothing is pending or due."""
        from specialistly.jobs import run_once

        for _ in range(rounds):
            pending = await self.raw(
                "SELECT COUNT(*) FROM bookings WHERE (status = 'confirmed' AND "
                "meeting_status = 'pending') OR meeting_delete_pending"
            )
            if pending[0][0] == 0:
                return
            await self.advance(step)
            await run_once(self.ctx, "meetings")
        raise AssertionError("meetings did not settle")

    async def raw_write(self, sql: str, **params: Any) -> None:
        """Change the database with plain SQL, as an operator or time would."""
        async with self.ctx.db.engine.begin() as conn:
            await conn.execute(text(sql), params)

    async def raw(self, sql: str, **params: Any) -> list[Any]:
        """Read the database with plain SQL, bypassing the models."""
        async with self.ctx.db.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())


_MIGRATED_SQLITE: list[Path] = []


async def migrated(database_url: str) -> None:
    """Bring the database to the newest revision.

    A new SQLite file starts as a copy of one migrated earlier in this test session (the
    migrations themselves run once per session here, and on their own in the migration
    tests), which saves half a second per test.
    """
    target = (
        Path(database_url.removeprefix("sqlite:///"))
        if database_url.startswith("sqlite:///")
        else None
    )
    if target is None or target.exists():
        await upgrade_async(database_url)
        return
    if not _MIGRATED_SQLITE:
        template = Path(tempfile.mkdtemp(prefix="specialistly-template-")) / "migrated.db"
        await upgrade_async(f"sqlite:///{template}")
        _MIGRATED_SQLITE.append(template)
    shutil.copyfile(_MIGRATED_SQLITE[0], target)
    await upgrade_async(database_url)  # a no-op at head: proves the copy is current


@asynccontextmanager
async def harness(
    database_url: str,
    var_dir: Path,
    *,
    sandbox_changes: dict[str, Any] | None = None,
    retry: RetryPolicy = FAST_RETRY,
    **settings_changes: Any,
) -> AsyncIterator[Harness]:
    settings = live_settings(database_url, var_dir, **settings_changes)
    await migrated(database_url)
    config = sandbox_config(settings, webhook_url=APP + WEBHOOK_PATH)
    if sandbox_changes:
        from dataclasses import replace

        config = replace(config, **sandbox_changes)
    sandbox_app = create_sandbox_app(config)
    app = create_app(
        settings,
        clock=sandbox_app.sandbox.clock,
        zoom_transport=SandboxTransport(sandbox_app),
        retry=retry,
    )
    sandbox_app.sandbox.webhook_transport = httpx.ASGITransport(app=app)
    ctx: AppContext = app.state.ctx
    zoom = httpx.AsyncClient(transport=SandboxTransport(sandbox_app), base_url=ZOOM)
    try:
        yield Harness(app=app, ctx=ctx, sandbox_app=sandbox_app, zoom=zoom, settings=settings)
    finally:
        await zoom.aclose()
        await ctx.close()


async def landed(browser: httpx.AsyncClient, answer: httpx.Response) -> httpx.Response:
    """The page a form's 303 leads to (post/redirect/get, errors included)."""
    assert answer.status_code == 303, answer.text
    return await browser.get(answer.headers["location"])
