"""Connecting Zoom: state and PKCE, the callback's outcomes, and what is stored."""

import hashlib
import logging
from base64 import urlsafe_b64encode
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.harness import ZOOM, Harness, harness


async def test_connect_sends_the_specialist_to_zoom_with_state_and_pkce(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.get("/api/v1/zoom/connect")
    assert answer.status_code == 302
    url = httpx.URL(answer.headers["location"])
    assert str(url).startswith(ZOOM + "/oauth/authorize")
    params = url.params
    assert params["client_id"] == h.settings.zoom_user_managed_client_id
    assert params["redirect_uri"] == h.settings.zoom_redirect_uri
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32
    assert len(params["code_challenge"]) == 43


async def test_connect_needs_a_signed_in_specialist(h: Harness) -> None:
    assert (await h.client().get("/api/v1/zoom/connect")).status_code == 401


async def test_connecting_stores_the_connection_and_lands_on_the_dashboard(h: Harness) -> None:
    browser, _ = await h.sign_up()
    landed = await h.connect(browser, "zoomhost@example.com")
    assert landed.headers["location"] == "/dashboard?zoom=connected"
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert status["zoom_email"] == "zoomhost@example.com"
    assert status["expires_in_minutes"] == 59
    assert status["refresh_error_count"] == 0
    assert "token" not in " ".join(k for k in status if k != "access_token_expires_at")


async def test_the_raw_database_holds_neither_token_in_plaintext(h: Harness) -> None:
    browser, _ = await h.sign_up()
    await h.connect(browser, "secretive@example.com")
    issued = await h.control("GET", "/users/secretive@example.com/tokens")
    access = issued["access_tokens"][0]["access_token"]
    refresh = issued["refresh_token"]["refresh_token"]
    rows = await h.raw("SELECT * FROM zoom_connections")
    dump = repr(rows)
    assert access not in dump
    assert refresh not in dump
    [(stored_access, stored_refresh)] = await h.raw(
        "SELECT access_token, refresh_token FROM zoom_connections"
    )
    key_id = h.ctx.cipher.newest_key_id
    assert stored_access.startswith(key_id + ":")
    assert stored_refresh.startswith(key_id + ":")
    assert h.ctx.cipher.decrypt(stored_refresh) == refresh
    verifiers = await h.raw("SELECT code_verifier FROM oauth_states")
    assert verifiers == []  # the state was used up


async def _nothing_stored(h: Harness, browser: httpx.AsyncClient) -> None:
    assert await h.raw("SELECT id FROM zoom_connections") == []
    assert (await browser.get("/api/v1/zoom/status")).json()["status"] == "not_connected"


async def test_a_denied_consent_stores_nothing_and_says_why(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "no@example.com", "deny")
    landed = await browser.get(callback)
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=access_denied"
    await _nothing_stored(h, browser)


async def test_a_wrong_state_stores_nothing(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = httpx.URL(await h.consent(browser, "w@example.com", "approve"))
    forged = callback.copy_set_param("state", "forged-state")
    landed = await browser.get(str(forged))
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=invalid_state"
    await _nothing_stored(h, browser)


async def test_a_reused_state_connects_nothing_more(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "r@example.com", "approve")
    assert (await browser.get(callback)).headers["location"] == "/dashboard?zoom=connected"
    await browser.delete("/api/v1/zoom/connection")
    replay = await browser.get(callback)
    assert replay.headers["location"] == "/dashboard?zoom=error&reason=invalid_state"
    assert (await browser.get("/api/v1/zoom/status")).json()["status"] == "not_connected"


async def test_an_expired_state_stores_nothing(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "late@example.com", "approve")
    await h.advance(11 * 60)
    landed = await browser.get(callback)
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=expired_state"
    await _nothing_stored(h, browser)


async def test_a_dead_code_stores_nothing(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "slow@example.com", "approve")
    await h.advance(6 * 60)  # the code dies after 5 minutes, the state after 10
    landed = await browser.get(callback)
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=invalid_code"
    await _nothing_stored(h, browser)


async def test_another_specialists_state_connects_nothing(h: Harness) -> None:
    alice, _ = await h.sign_up()
    mallory, _ = await h.sign_up()
    callback = await h.consent(alice, "alice@example.com", "approve")
    landed = await mallory.get(callback)
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=invalid_state"
    await _nothing_stored(h, mallory)
    assert (await alice.get(callback)).headers[
        "location"
    ] == "/dashboard?zoom=error&reason=invalid_state"


async def test_a_zoom_app_without_the_meeting_scope_is_explained(tmp_path: Path) -> None:
    async with harness(
        f"sqlite:///{tmp_path}/s.db",
        tmp_path,
        sandbox_changes={},
        zoom_sandbox_scopes="user:read:user meeting:read:meeting",
    ) as h:
        browser, _ = await h.sign_up()
        landed = await h.connect(browser, "scoped@example.com")
        location = httpx.URL(landed.headers["location"])
        assert location.params["reason"] == "missing_scopes"
        assert location.params["missing"] == "meeting:update:meeting meeting:write:meeting"
        await _nothing_stored(h, browser)
        # The unusable grant was revoked at Zoom rather than left dangling.
        tokens = await h.control("GET", "/users/scoped@example.com/tokens")
        assert tokens["refresh_token"] is None


async def test_the_callback_checks_the_pkce_verifier_it_stored(h: Harness) -> None:
    browser, _ = await h.sign_up()
    start = await browser.get("/api/v1/zoom/connect")
    challenge = httpx.URL(start.headers["location"]).params["code_challenge"]
    [(stored,)] = await h.raw("SELECT code_verifier FROM oauth_states")
    verifier = h.ctx.cipher.decrypt(stored)
    digest = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == challenge


async def test_a_zoom_app_that_cannot_update_meetings_is_refused_and_explained(
    tmp_path: Path,
) -> None:
    # Rescheduling moves the booking's Zoom meeting: without the update scope it could not.
    async with harness(
        f"sqlite:///{tmp_path}/s.db",
        tmp_path,
        zoom_sandbox_scopes="user:read:user meeting:read:meeting meeting:write:meeting",
    ) as h:
        browser, _ = await h.sign_up()
        landed = await h.connect(browser, "noupdate@example.com")
        location = httpx.URL(landed.headers["location"])
        assert location.params["reason"] == "missing_scopes"
        assert location.params["missing"] == "meeting:update:meeting"
        await _nothing_stored(h, browser)
        page = await browser.get(landed.headers["location"])
        assert "meeting:update:meeting" in page.text
        assert "to move the meeting when a booking is rescheduled" in page.text


async def test_the_classic_meeting_write_scope_covers_creating_and_updating(
    tmp_path: Path,
) -> None:
    async with harness(
        f"sqlite:///{tmp_path}/s.db", tmp_path, zoom_sandbox_scopes="user:read meeting:write"
    ) as h:
        browser, _ = await h.sign_up()
        landed = await h.connect(browser, "classic@example.com")
        assert landed.headers["location"] == "/dashboard?zoom=connected"


async def test_zoom_down_at_the_callback_is_logged_for_the_operator(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "down@example.com", "approve")
    await h.control("PUT", "/faults", json={"token": {"error_rate": 1.0, "status": 503}})
    with caplog.at_level(logging.INFO):
        landed = await browser.get(callback)
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=zoom_unavailable"
    [line] = [r for r in caplog.records if "Connecting Zoom did not complete" in r.message]
    assert line.levelno == logging.WARNING
    assert "zoom_unavailable" in line.message
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("specialistly")]
    assert not [m for m in ours if "code=" in m or "state=" in m]
    await _nothing_stored(h, browser)


async def test_an_error_sent_to_the_callback_is_logged_on_one_line(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    browser, _ = await h.sign_up()
    callback = urlsplit(await h.consent(browser, "odd@example.com", "deny"))
    state = dict(parse_qsl(callback.query))["state"]
    forged = urlencode({"state": state, "error": "odd\n2026-01-01 ERROR forged line"})
    with caplog.at_level(logging.INFO):
        landed = await browser.get(f"{callback.path}?{forged}")
    assert landed.headers["location"] == "/dashboard?zoom=error&reason=zoom_error"
    [line] = [r.getMessage() for r in caplog.records if "did not complete" in r.getMessage()]
    assert "\n" not in line
    assert "forged line" in line
