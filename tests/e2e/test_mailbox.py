"""In a real browser, at 390 px and desktop: the sandbox's mailbox shows the confirmation with
its invitation to download, and a password reset link from it works once."""

import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, MOBILE, Server, Watched, shoot
from tests.servers import http_client, http_request

PASSWORD = "correct horse battery"


def _specialist(server: Server, name: str) -> tuple[httpx.Client, str]:
    """A specialist with Zoom connected, set up through the API (the pages are tested elsewhere)."""
    browser = http_client(base_url=server.base)
    email = f"{name.split()[0].lower()}.{secrets.token_hex(3)}@example.com"
    body = {"name": name, "email": email, "password": PASSWORD, "timezone": "Europe/Berlin"}
    assert browser.post("/api/v1/specialists", json=body).status_code == 201
    start = browser.get("/api/v1/zoom/connect")
    consent = http_request(
        "POST", start.headers["location"], data={"email": f"z.{email}", "action": "approve"}
    )
    assert browser.get(consent.headers["location"]).headers["location"].endswith("=connected")
    return browser, email


def _booking(server: Server, browser: httpx.Client, customer_email: str) -> dict[str, object]:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    slot = browser.post(
        "/api/v1/slots", json={"start_time": start.isoformat(), "duration_minutes": 30}
    )
    assert slot.status_code == 201, slot.text
    booked = http_request(
        "POST",
        server.base + "/api/v1/bookings",
        json={
            "slot_id": slot.json()["id"],
            "customer_name": "Casey Customer",
            "customer_email": customer_email,
        },
    )
    assert booked.status_code == 201, booked.text
    found: dict[str, object] = booked.json()
    return found


@pytest.mark.parametrize("size", [MOBILE, DESKTOP], ids=["390px", "desktop"])
def test_the_mailbox_shows_the_confirmation_with_its_invitation(
    chromium: Browser, server: Server, watched: Watched, size: dict[str, int]
) -> None:
    browser, _ = _specialist(server, "Mae Jemison")
    customer = f"casey.{secrets.token_hex(3)}@example.com"
    booking = _booking(server, browser, customer)
    join_url = str(booking["meeting"]["join_url"])  # type: ignore[index]

    context = chromium.new_context(viewport=size, accept_downloads=True)
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + "/")
    page.get_by_role("link", name="Read sent emails").click()
    expect(page.get_by_role("heading", name="Mailbox")).to_be_visible()
    confirmation = page.locator("li", has_text=customer).filter(has_text="Booked: Mae Jemison")
    expect(confirmation).to_contain_text("invite.ics")
    if size == DESKTOP:
        shoot(page, "mailbox")
    confirmation.get_by_role("link", name="Booked: Mae Jemison").click()
    expect(page.get_by_role("heading", name="Booked: Mae Jemison")).to_be_visible()
    expect(page.get_by_role("link", name=join_url)).to_be_visible()
    if size == DESKTOP:
        shoot(page, "mailbox-email")
    with page.expect_download() as download:
        page.get_by_role("link", name="invite.ics").click()
    assert download.value.suggested_filename == "invite.ics"
    calendar = Path(download.value.path()).read_text(encoding="utf-8")
    assert calendar.startswith("BEGIN:VCALENDAR")
    assert "METHOD:REQUEST" in calendar
    page.get_by_role("link", name=join_url).click()
    expect(page.get_by_text("does not exist")).to_have_count(0)
    context.close()


def test_a_reset_link_from_the_mailbox_works_once(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    signed_in, email = _specialist(server, "Katherine Johnson")
    context = chromium.new_context(viewport=MOBILE)
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + "/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.get_by_role("link", name="mailbox").click()
    page.locator("li", has_text=email).get_by_role(
        "link", name="Set a new Specialistly password"
    ).first.click()
    link = page.locator("a[href*='/password-reset/new?token=']")
    address = str(link.get_attribute("href"))
    link.click()
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    assert signed_in.get("/api/v1/me").status_code == 401  # the other session is over
    page.get_by_role("link", name="Go to your dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard"))
    context.close()

    # A used link answers 410, which a browser logs as a console error: not watched.
    again = chromium.new_context(viewport=MOBILE).new_page()
    answer = again.goto(address)
    assert answer is not None
    assert answer.status == 410
    expect(again.get_by_role("heading", name="This link no longer works")).to_be_visible()
    again.get_by_role("link", name="Ask for a new link").click()
    expect(again.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    again.context.close()
