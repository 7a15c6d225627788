"""The token lifecycle against the sandbox: refresh once, with the right app, and say when dead."""

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from specialistly.connections.errors import ZoomReauthorizationRequired
from specialistly.connections.flows import Connections
from specialistly.zoom.errors import ZoomUnavailable
from specialistly.zoom.oauth import AppCredentials, ZoomOAuth
from tests.harness import FAST_RETRY, ZOOM, Harness, harness
from zoom_sandbox import SandboxTransport

HOUR = 3600


async def test_refreshes_reach_zoom_only_with_the_user_managed_client_id(h: Harness) -> None:
    _, specialist = await h.connected()
    for _ in range(3):
        await h.advance(HOUR)
        await h.ctx.connections.get_valid_token(specialist)
    stats = await h.stats()
    assert stats["refresh_requests_by_client"] == {h.settings.zoom_user_managed_client_id: 3}
    assert stats["token_requests"]["refresh_token"] == {"ok": 3}


async def test_a_refresh_wired_to_the_s2s_credentials_is_rejected(h: Harness) -> None:
    """The old system's bug, reproduced: Zoom refuses a user's refresh with the S2S app."""
    _, specialist = await h.connected()
    settings = h.settings
    assert settings.zoom_client_id is not None
    assert settings.zoom_client_secret is not None
    s2s_wired = ZoomOAuth(
        h.ctx.zoom_http,
        oauth_base_url=ZOOM,
        app=AppCredentials(settings.zoom_client_id, settings.zoom_client_secret.get_secret_value()),
        redirect_uri=settings.zoom_redirect_uri or "",
        retry=FAST_RETRY,
    )
    ctx = h.ctx
    buggy = Connections(
        db=ctx.db,
        oauth=s2s_wired,
        api=ctx.connections.api,
        cipher=ctx.cipher,
        clock=ctx.clock,
        notifier=ctx.notifier,
    )
    await h.advance(HOUR)
    with pytest.raises(ZoomReauthorizationRequired):
        await buggy.get_valid_token(specialist)
    stats = await h.stats()
    assert stats["refresh_requests_by_client"] == {settings.zoom_client_id: 1}
    assert stats["token_requests"]["refresh_token"] == {"invalid_grant": 1}


async def test_a_refresh_refused_with_invalid_client_leaves_the_specialist_connected(
    h: Harness,
) -> None:
    """Zoom's 400 invalid_client is our configuration's fault, not a dead grant."""
    browser, specialist = await h.connected()
    settings = h.settings
    assert settings.zoom_user_managed_client_id is not None
    answers: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        answers.append(response)

    async with httpx.AsyncClient(
        transport=SandboxTransport(h.sandbox_app), event_hooks={"response": [keep]}
    ) as http:
        misconfigured = ZoomOAuth(
            http,
            oauth_base_url=ZOOM,
            app=AppCredentials(settings.zoom_user_managed_client_id, "a-rotated-old-secret"),
            redirect_uri=settings.zoom_redirect_uri or "",
            retry=FAST_RETRY,
        )
        ctx = h.ctx
        wrong_secret = Connections(
            db=ctx.db,
            oauth=misconfigured,
            api=ctx.connections.api,
            cipher=ctx.cipher,
            clock=ctx.clock,
            notifier=ctx.notifier,
        )
        await h.advance(HOUR)
        with pytest.raises(ZoomUnavailable):
            await wrong_secret.get_valid_token(specialist)
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(400, "invalid_client")]
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert "invalid_client" in status["last_error"]
    assert await h.notifications(specialist) == 0
    # With the right secret the same grant refreshes: nothing was lost.
    await h.ctx.connections.get_valid_token(specialist)
    assert (await browser.get("/api/v1/zoom/status")).json()["refresh_error_count"] == 0


async def test_a_day_of_hourly_use_refreshes_24_times_in_a_chain(h: Harness) -> None:
    browser, specialist = await h.connected("daily@example.com")
    used: list[str] = []
    for _ in range(24):
        await h.advance(HOUR)
        before = (await h.control("GET", "/users/daily@example.com/tokens"))["refresh_token"]
        used.append(before["refresh_token"])
        access = await h.ctx.connections.get_valid_token(specialist)
        me = await h.ctx.connections.api.me(access.token, base_url=access.api_base_url)
        assert me.email == "daily@example.com"
        status = (await browser.get("/api/v1/zoom/status")).json()
        assert status["status"] == "connected"
        assert status["refresh_error_count"] == 0
    stats = await h.stats()
    assert stats["token_requests"]["refresh_token"] == {"ok": 24}
    assert len(set(used)) == 24  # each refresh used the token the one before it returned
    assert await h.notifications(specialist) == 0


async def test_200_concurrent_callers_on_an_expired_token_cause_one_refresh(h: Harness) -> None:
    _, specialist = await h.connected()
    await h.advance(HOUR)
    tokens = await asyncio.gather(
        *(h.ctx.connections.get_valid_token(specialist) for _ in range(200))
    )
    assert len({t.token for t in tokens}) == 1
    assert await h.refreshes() == 1


async def test_a_token_within_five_minutes_of_expiry_is_refreshed_first(h: Harness) -> None:
    _, specialist = await h.connected()
    await h.advance(HOUR - 6 * 60)
    await h.ctx.connections.get_valid_token(specialist)
    assert await h.refreshes() == 0
    await h.advance(2 * 60)
    await h.ctx.connections.get_valid_token(specialist)
    assert await h.refreshes() == 1


async def test_a_dead_grant_is_told_once_and_never_retried(h: Harness) -> None:
    browser, specialist = await h.connected("gone@example.com")
    await h.control("POST", "/users/gone@example.com/invalidate")
    await h.advance(HOUR)
    for _ in range(11):
        with pytest.raises(ZoomReauthorizationRequired):
            await h.ctx.connections.get_valid_token(specialist)
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "needs_reconnect"
    assert status["refresh_error_count"] == 1
    assert "Invalid Token!" in status["last_error"]
    assert await h.refreshes() == 1  # nothing retried the dead grant
    assert await h.notifications(specialist) == 1
    [(to, body)] = await h.emails()
    assert to.startswith("dana.")
    assert "http://testserver/zoom/reconnect" in body
    listed = (await browser.get("/api/v1/notifications")).json()
    assert [n["kind"] for n in listed] == ["zoom_reconnect_needed"]
    assert listed[0]["link"] == "http://testserver/zoom/reconnect"

    await h.connect(browser, "gone@example.com")
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert status["refresh_error_count"] == 0
    assert status["last_error"] is None
    await h.ctx.connections.get_valid_token(specialist)


async def test_a_second_incident_is_told_again(h: Harness) -> None:
    browser, specialist = await h.connected("twice@example.com")
    for _ in range(2):
        await h.control("POST", "/users/twice@example.com/invalidate")
        await h.advance(HOUR)
        with pytest.raises(ZoomReauthorizationRequired):
            await h.ctx.connections.get_valid_token(specialist)
        await h.connect(browser, "twice@example.com")
    assert await h.notifications(specialist) == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 1, "status": 500, "count": 2},
        {"error_rate": 1, "status": 503, "count": 3, "body": "xml"},
        {"error_rate": 1, "status": 429, "retry_after_seconds": 1, "count": 1},
    ],
    ids=["500s", "503s-with-xml", "429-retry-after"],
)
async def test_token_endpoint_faults_are_retried_and_never_need_a_reconnect(
    h: Harness, fault: dict[str, object]
) -> None:
    browser, specialist = await h.connected()
    await h.advance(HOUR)
    await h.control("PUT", "/faults", json={"token": fault})
    started = asyncio.get_running_loop().time()
    await h.ctx.connections.get_valid_token(specialist)
    if fault["status"] == 429:
        assert asyncio.get_running_loop().time() - started >= 1.0  # Retry-After honoured
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert (await h.stats())["token_requests"]["refresh_token"]["ok"] == 1


async def test_a_persisting_outage_fails_for_now_but_keeps_the_connection(h: Harness) -> None:
    browser, specialist = await h.connected()
    await h.advance(HOUR)
    await h.control("PUT", "/faults", json={"token": {"error_rate": 1, "status": 502}})
    with pytest.raises(ZoomUnavailable):
        await h.ctx.connections.get_valid_token(specialist)
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert status["refresh_error_count"] == 1
    assert "502" in status["last_error"]
    await h.control("DELETE", "/faults")
    await h.ctx.connections.get_valid_token(specialist)
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["refresh_error_count"] == 0
    assert await h.notifications(specialist) == 0


async def test_timeouts_are_transient(tmp_path: Path) -> None:
    async with harness(f"sqlite:///{tmp_path}/t.db", tmp_path, zoom_http_timeout_seconds=0.2) as h:
        browser, specialist = await h.connected()
        await h.advance(HOUR)
        await h.control("PUT", "/faults", json={"token": {"latency_ms": 600}})
        with pytest.raises(ZoomUnavailable, match="ReadTimeout"):
            await h.ctx.connections.get_valid_token(specialist)
        await h.control("DELETE", "/faults")
        await h.ctx.connections.get_valid_token(specialist)
        status = (await browser.get("/api/v1/zoom/status")).json()
        assert status["status"] == "connected"
        assert await h.notifications(specialist) == 0


async def test_a_lost_refresh_answer_ends_in_needs_reconnect_once(h: Harness) -> None:
    browser, specialist = await h.connected()
    await h.advance(HOUR)
    await h.control("PUT", "/faults", json={"token": {"lose_response_rate": 1, "count": 1}})
    with pytest.raises(ZoomReauthorizationRequired, match="lost in transit"):
        await h.ctx.connections.get_valid_token(specialist)
    for _ in range(3):
        with pytest.raises(ZoomReauthorizationRequired):
            await h.ctx.connections.get_valid_token(specialist)
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "needs_reconnect"
    assert "lost in transit" in status["last_error"]
    assert await h.refreshes() == 2  # the lost one, and the retry that learnt the truth
    assert await h.notifications(specialist) == 1


async def test_a_401_from_zoom_forces_one_refresh_and_one_retry(h: Harness) -> None:
    _, specialist = await h.connected("forced@example.com")
    # Zoom stops honouring the access token early (it happens); the stored expiry says valid.
    async with h.ctx.db.transaction() as session:
        from specialistly.connections import service

        connection = await service.lock(session, specialist)
        assert connection is not None
        connection.access_token = h.ctx.cipher.encrypt("revoked-by-zoom")
    api = h.ctx.connections.api
    me = await h.ctx.connections.call(
        specialist, lambda access: api.me(access.token, base_url=access.api_base_url)
    )
    assert me.email == "forced@example.com"
    assert await h.refreshes() == 1
    assert (await h.stats())["api_requests"] == {"401": 1, "200": 2}


async def test_the_refresh_logs_say_what_happened_without_tokens(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _, specialist = await h.connected("logs@example.com")
    caplog.set_level(logging.INFO)
    await h.ctx.connections.get_valid_token(specialist)
    await h.advance(HOUR)
    await h.ctx.connections.get_valid_token(specialist)
    await h.control("POST", "/users/logs@example.com/invalidate")
    await h.advance(HOUR)
    with pytest.raises(ZoomReauthorizationRequired):
        await h.ctx.connections.get_valid_token(specialist)
    text = caplog.text
    assert "Using valid Zoom token (expires in 59 minutes)" in text
    assert "Zoom token expired, attempting automatic refresh..." in text
    assert "Zoom access token refreshed successfully, new expiry: 20" in text
    assert "Failed to refresh Zoom token: Zoom rejected the refresh token (Invalid Token!)" in text
    tokens = await h.control("GET", "/users/logs@example.com/tokens")
    for token in tokens["access_tokens"]:
        assert token["access_token"] not in text


async def test_disconnecting_revokes_at_zoom_and_deletes_the_tokens(h: Harness) -> None:
    browser, specialist = await h.connected("bye@example.com")
    assert (await browser.delete("/api/v1/zoom/connection")).status_code == 204
    assert (await h.control("GET", "/users/bye@example.com/tokens"))["refresh_token"] is None
    [(access, refresh, status)] = await h.raw(
        "SELECT access_token, refresh_token, status FROM zoom_connections"
    )
    assert (access, refresh, status) == (None, None, "not_connected")
    assert await h.notifications(specialist, "zoom_disconnected") == 1


class SlowToCommit:
    """Zoom answers the refresh, then the caller is cancelled before the commit (a shutdown)."""

    def __init__(self, real: object) -> None:
        self.real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    async def refresh(self, refresh_token: str, **kwargs: object) -> object:
        grant = await self.real.refresh(refresh_token, **kwargs)  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        return grant


async def test_a_cancelled_caller_cannot_lose_tokens_zoom_has_rotated(h: Harness) -> None:
    _, specialist = await h.connected("shutdown@example.com")
    await h.advance(HOUR)
    h.ctx.connections.oauth = SlowToCommit(h.ctx.connections.oauth)  # type: ignore[assignment]
    caller = asyncio.ensure_future(h.ctx.connections.get_valid_token(specialist))
    await asyncio.sleep(0.1)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.5)  # the shielded refresh finishes and commits
    issued = await h.control("GET", "/users/shutdown@example.com/tokens")
    [(stored,)] = await h.raw("SELECT refresh_token FROM zoom_connections")
    assert h.ctx.cipher.decrypt(stored) == issued["refresh_token"]["refresh_token"]
    await h.ctx.connections.get_valid_token(specialist)
    assert await h.refreshes() == 1


async def test_a_short_outage_at_expiry_time_keeps_using_the_still_valid_token(h: Harness) -> None:
    _, specialist = await h.connected()
    await h.advance(HOUR - 4 * 60)  # 3 minutes left: time to refresh, token still good
    await h.control("PUT", "/faults", json={"token": {"error_rate": 1, "status": 503}})
    access = await h.ctx.connections.get_valid_token(specialist)
    api = h.ctx.connections.api
    assert (await api.me(access.token, base_url=access.api_base_url)).email
