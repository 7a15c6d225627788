"""SIGTERM while Zoom holds a refresh's answer: the rotated tokens are saved before exit."""

import asyncio
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from specialistly.app import create_app
from specialistly.db import upgrade_async
from tests.harness import APP, FAST_RETRY, live_settings
from tests.integration.test_processes import _connect, _env_for, _serve, _tail
from tests.servers import BIN, async_http_client, free_port, http_client, http_request, serving

ZOOM_EMAIL = "shutdown@zoom.example.com"
ZOOM_HOLDS_SECONDS = 5


async def _prepare(settings: Any, sandbox: str) -> tuple[int, int]:
    """A connected specialist with one slot and an expired access token."""
    app = create_app(settings, retry=FAST_RETRY)
    ctx = app.state.ctx
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as browser,
        async_http_client(base_url=sandbox) as zoom,
    ):
        body = {
            "name": "Shut Down",
            "email": "shutdown@example.com",
            "password": "long enough",
            "timezone": "UTC",
        }
        specialist = int((await browser.post("/api/v1/specialists", json=body)).json()["id"])
        await _connect(browser, zoom, ZOOM_EMAIL)
        start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        slot = await browser.post(
            "/api/v1/slots", json={"start_time": start.isoformat(), "duration_minutes": 30}
        )
        assert slot.status_code == 201, slot.text
    async with ctx.db.transaction() as session:
        await session.execute(
            text("UPDATE zoom_connections SET access_token_expires_at = :at"),
            {"at": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)},
        )
    await ctx.close()
    return specialist, int(slot.json()["id"])


async def _stored(settings: Any) -> tuple[str, str]:
    """The connection's status and its refresh token as the database holds them."""
    app = create_app(settings, retry=FAST_RETRY)
    ctx = app.state.ctx
    async with ctx.db.reading() as session:
        status, token = (
            await session.execute(text("SELECT status, refresh_token FROM zoom_connections"))
        ).one()
    await ctx.close()
    return str(status), ctx.cipher.decrypt(token)


def test_sigterm_during_a_slow_refresh_keeps_the_rotated_tokens(tmp_path: Path) -> None:
    port = free_port()
    sandbox = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path}/app.db"
    settings = live_settings(
        database, tmp_path, zoom_oauth_base_url=sandbox, zoom_api_base_url=sandbox + "/v2"
    )
    asyncio.run(upgrade_async(database))
    env = _env_for(settings, MEETING_FALLBACK="none")
    args = [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(port)]
    with serving(args, env=env, ready_url=sandbox + "/", cwd=tmp_path, log=tmp_path / "z.log"):
        _, slot = asyncio.run(_prepare(settings, sandbox))
        zoom = http_client(base_url=sandbox, timeout=30)
        faults = {"token": {"latency_ms": ZOOM_HOLDS_SECONDS * 1000}}
        assert zoom.put("/_control/faults", json=faults).status_code == 200
        log = tmp_path / "serve.log"
        outcome: dict[str, Any] = {}
        with _serve(env, log) as (server, base):

            def book() -> None:
                body = {"slot_id": slot, "customer_name": "Cy", "customer_email": "cy@example.com"}
                try:
                    outcome["answer"] = http_request(
                        "POST", base + "/api/v1/bookings", json=body, timeout=30
                    )
                except httpx.HTTPError as error:
                    outcome["error"] = error

            booking = threading.Thread(target=book)
            booking.start()
            time.sleep(1.0)  # the booking's refresh now waits on Zoom
            server.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            try:
                code = server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the server did not exit within 40 s of SIGTERM:\n{_tail(log)}")
            booking.join(timeout=30)
        assert code == 0, _tail(log)
        assert time.monotonic() - signalled >= ZOOM_HOLDS_SECONDS - 1.5  # it waited for Zoom
        issued = zoom.get(f"/_control/users/{ZOOM_EMAIL}/tokens").json()["refresh_token"]
        stats = zoom.get("/_control/stats").json()
        zoom.delete("/_control/faults")
        zoom.close()
        assert stats["token_requests"]["refresh_token"] == {"ok": 1}, stats
        status, stored = asyncio.run(_stored(settings))
        assert status == "connected", _tail(log)
        assert stored == issued["refresh_token"], _tail(log)
        text_log = log.read_text(errors="replace")
        assert "Traceback" not in text_log, text_log

        # Restarted, the server uses the saved grant: nobody is asked to reconnect.
        with _serve(env, tmp_path / "again.log") as (_, base), http_client(base_url=base) as b:
            login = {"email": "shutdown@example.com", "password": "long enough"}
            assert b.post("/api/v1/auth/login", json=login).status_code == 200
            assert b.get("/api/v1/zoom/status").json()["status"] == "connected"
