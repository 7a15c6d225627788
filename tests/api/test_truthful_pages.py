"""Pages that tell the truth: what happens while Zoom cannot be used, incidents that end,
notifications that go away, and one status everywhere (issue 13, item 3)."""

from html import unescape
from pathlib import Path

import httpx
import pytest

from specialistly.connections.errors import ZoomReauthorizationRequired
from tests.api.test_pages import csrf_of
from tests.harness import Harness, harness, landed

HOUR = 3600


async def _grant_ended(h: Harness, zoom_email: str) -> tuple[httpx.AsyncClient, int]:
    browser, specialist = await h.connected(zoom_email)
    await h.control("POST", f"/users/{zoom_email}/invalidate")
    await h.advance(HOUR)
    with pytest.raises(ZoomReauthorizationRequired):
        await h.ctx.connections.get_valid_token(specialist)
    return browser, specialist


async def test_with_the_platform_fallback_the_notices_say_bookings_get_the_platforms_links(
    h: Harness,
) -> None:
    assert h.ctx.connections.platform_fallback  # the harness configures the S2S app
    browser, _ = await _grant_ended(h, "fallback@zoom.example.com")
    [note] = (await browser.get("/api/v1/notifications")).json()
    assert (
        "new bookings get their Zoom links from Specialistly's own Zoom account"
        in (note["message"])
    )
    assert "cannot get Zoom links" not in note["message"]
    page = unescape((await browser.get("/dashboard")).text)
    assert "get their Zoom links from Specialistly's own Zoom account until you reconnect" in (page)
    assert "their Zoom links wait until you reconnect" not in page


async def test_without_a_fallback_the_notices_say_bookings_wait_for_their_links(
    tmp_path: Path,
) -> None:
    async with harness(f"sqlite:///{tmp_path}/app.db", tmp_path, meeting_fallback="none") as h:
        assert not h.ctx.connections.platform_fallback
        browser, _ = await _grant_ended(h, "nofallback@zoom.example.com")
        [note] = (await browser.get("/api/v1/notifications")).json()
        assert "wait for their Zoom links until you reconnect" in note["message"]
        page = unescape((await browser.get("/dashboard")).text)
        assert "their Zoom links wait until you reconnect" in page
        assert "Specialistly's own Zoom account" not in page


async def test_reconnecting_resolves_the_incident_and_no_notice_says_zoom_is_broken(
    h: Harness,
) -> None:
    browser, specialist = await _grant_ended(h, "back@zoom.example.com")
    before = unescape((await browser.get("/dashboard")).text)
    assert "Zoom has ended Specialistly" in before
    await h.connect(browser, "back@zoom.example.com")
    after = unescape((await browser.get("/dashboard?zoom=connected")).text)
    assert "Zoom is connected." in after
    assert "Zoom has ended Specialistly" not in after
    assert 'id="reconnect-banner"' not in after
    notes = (await browser.get("/api/v1/notifications")).json()
    assert [n["read"] for n in notes] == [True]
    assert await h.status(specialist) == "connected"


async def test_a_notification_can_be_dismissed_and_then_is_gone_from_the_dashboard(
    h: Harness,
) -> None:
    browser, _ = await _grant_ended(h, "dismiss@zoom.example.com")
    page = await browser.get("/dashboard")
    [note] = (await browser.get("/api/v1/notifications")).json()
    assert f"/dashboard/notifications/{note['id']}/read" in page.text
    answer = await browser.post(
        f"/dashboard/notifications/{note['id']}/read", data={"csrf": csrf_of(page)}
    )
    shown = await landed(browser, answer)
    assert "The notification is dismissed." in unescape(shown.text)
    assert "Zoom has ended Specialistly" not in shown.text
    assert "Nothing new." in shown.text


async def test_denying_consent_while_connected_says_zoom_is_still_connected(h: Harness) -> None:
    browser, _ = await h.connected("kept@zoom.example.com")
    callback = await h.consent(browser, "kept@zoom.example.com", "deny")
    landed_at = await browser.get(callback)
    assert landed_at.status_code == 302
    page = unescape((await browser.get(landed_at.headers["location"])).text)
    assert "Zoom is still connected as kept@zoom.example.com." in page
    assert "You chose Deny on Zoom's page, so nothing changed." in page
    assert "Zoom is not connected." not in page
    assert ">Connected<" in page


async def test_denying_consent_while_not_connected_says_so(h: Harness) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, "never@zoom.example.com", "deny")
    page = (await browser.get((await browser.get(callback)).headers["location"])).text
    assert "Zoom is not connected." in page
    assert "Connect Zoom" in page
