"""Pages that feel finished (issue 13): every page at 390 px and desktop passes axe-core with
no serious or critical violation and is saved as a screenshot; the time zone people know;
the phone header; confirmations; Back and reload that never offer or send things twice."""

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import DESKTOP, MOBILE, SHOTS, Server, Watched
from tests.servers import http_client

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery"
WIDTHS = {"390px": MOBILE, "desktop": DESKTOP}


@dataclass
class World:
    """A specialist with Zoom connected, open one-off times, and one booking."""

    email: str
    specialist: int
    booking: int
    token: str


def _specialist(server: Server, name: str) -> tuple[httpx.Client, int, str]:
    """Sign up by the API and connect Zoom through the sandbox's consent page."""
    email = f"{name.lower()}.{secrets.token_hex(3)}@example.com"
    client = http_client(base_url=server.base, timeout=30)
    made = client.post(
        "/api/v1/specialists",
        json={"name": name, "email": email, "password": PASSWORD, "timezone": "Europe/Berlin"},
    )
    assert made.status_code == 201, made.text
    authorize = client.get("/api/v1/zoom/connect").headers["location"]
    consent = client.post(authorize, data={"email": f"{email}.zoom", "action": "approve"})
    landed = client.get(consent.headers["location"])
    assert landed.headers["location"] == "/dashboard?zoom=connected"
    return client, int(made.json()["id"]), email


def _slots(client: httpx.Client, days: int, hours: tuple[int, ...]) -> None:
    day = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    for hour in hours:
        start = day.replace(hour=hour).isoformat()
        answer = client.post("/api/v1/slots", json={"start_time": start, "duration_minutes": 30})
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    client, specialist, email = _specialist(server, "Lise")
    _slots(client, 4, (8, 9, 10, 11))
    slot = client.get(f"/api/v1/specialists/{specialist}/slots").json()[0]["id"]
    booked = client.post(
        "/api/v1/bookings",
        json={"slot_id": slot, "customer_name": "Otto Hahn", "customer_email": "otto@example.com"},
    )
    assert booked.status_code == 201, booked.text
    yield World(email, specialist, booked.json()["id"], booked.json()["manage_token"])
    client.close()


def _context(chromium: Browser, size: dict[str, int], **options: str) -> BrowserContext:
    return chromium.new_context(
        viewport=size,  # type: ignore[arg-type]
        timezone_id=options.get("zone", "Europe/Berlin"),
        locale=options.get("locale", "en-GB"),
    )


def _sign_in(context: BrowserContext, server: Server, email: str) -> None:
    answer = context.request.post(
        server.base + "/api/v1/auth/login", data={"email": email, "password": PASSWORD}
    )
    assert answer.status == 200, answer.text()


def _axe(page: Page) -> list[str]:
    """The serious and critical violations axe-core finds on the page as it is."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe_at_both_widths_and_is_saved_as_a_screenshot(
    chromium: Browser, server: Server, world: World, watched: Watched
) -> None:
    b, t = world.booking, world.token
    signed_out = {
        "home": "/",
        "login": "/login",
        "signup": "/signup",
        "booking-page": f"/specialists/{world.specialist}?event=slots&tz=Europe/Berlin",
        "confirmation": f"/bookings/{b}?token={t}",
        "reschedule": f"/bookings/{b}/reschedule?token={t}",
        "error-404": "/no/such/page",
        "error-bad-id": "/specialists/abc",
        "error-bad-link": f"/bookings/{b}?token=wrong",
        "password-reset": "/password-reset",
        "password-reset-sent": "/password-reset/sent",
        "password-reset-done": "/password-reset/done",
        "error-410-reset-link": "/password-reset/new?token=used-or-unknown",
        "mailbox": "/dev/mailbox",
        "mailbox-email": "/dev/mailbox/1",
    }
    signed_in = {
        "dashboard": "/dashboard",
        "dashboard-reschedule": f"/dashboard/bookings/{b}/reschedule",
        "home-signed-in": "/",
        "error-404-signed-in": "/no/such/page",
    }
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in WIDTHS.items():
        for pages, signed in ((signed_out, False), (signed_in, True)):
            context = _context(chromium, size)
            if signed:
                _sign_in(context, server, world.email)
            watched_page, error_page = context.new_page(), context.new_page()
            watched.watch(watched_page)  # error pages answer 4xx, which browsers log
            for name, path in pages.items():
                page = error_page if name.startswith("error") else watched_page
                page.goto(server.base + path)
                page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
                problems += [f"{name} at {label}: {p}" for p in _axe(page)]
                if name == "dashboard":  # the confirm steps and edit forms, opened
                    page.evaluate(
                        "document.querySelectorAll('main details').forEach(d => d.open = true)"
                    )
                    problems += [f"{name} opened at {label}: {p}" for p in _axe(page)]
            context.close()
    assert problems == [], "\n".join(problems)
    assert len(list(SHOTS.glob("*-390px.png"))) >= len(signed_out) + len(signed_in)


def test_a_berlin_browser_signs_up_in_berlin_time_and_changes_zone_on_the_profile(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    # en-GB: without JavaScript the server would guess Europe/London; the browser knows better.
    context = _context(chromium, MOBILE, zone="Europe/Berlin", locale="en-GB")
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + "/signup")
    zone = page.get_by_label("Your time zone")
    expect(zone).to_have_value("Europe/Berlin")
    expect(page.locator('#timezone option[value="US/Eastern"]')).to_have_count(0)
    expect(page.locator('#timezone option[value="Etc/GMT+5"]')).to_have_count(0)
    expect(
        page.locator('#timezone optgroup[label="Europe"] option[value="Europe/Berlin"]')
    ).to_have_text(re.compile(r"^Berlin \(UTC\+0[12]:00\)$"))
    page.get_by_label("Your name").fill("Emmy Noether")
    page.get_by_label("Email").fill(f"emmy.{secrets.token_hex(3)}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_text("Times in Europe/Berlin.").first).to_be_visible()

    page.get_by_label("Filter the time zones by city").fill("tokyo")
    expect(page.locator("#profile-timezone")).to_have_value("Asia/Tokyo")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#done")).to_have_text("Your profile is saved.")
    expect(page.locator("#profile-timezone")).to_have_value("Asia/Tokyo")
    expect(page.get_by_text("Times in Asia/Tokyo.").first).to_be_visible()
    context.close()


def test_on_a_phone_the_header_is_compact_and_disconnecting_asks_first_then_says_so(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    client, _, email = _specialist(server, "Chien")
    client.close()
    context = _context(chromium, MOBILE)
    _sign_in(context, server, email)
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + "/dashboard")
    header = page.locator("header.top").bounding_box()
    assert header is not None
    assert header["height"] < 70
    expect(page.locator("main section.card").first).to_have_id("bookings")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    page.locator("summary", has_text="Menu").click()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box is not None
    assert box["width"] < MOBILE["width"] * 0.6

    card = page.get_by_role("region", name="Zoom")
    expect(card.get_by_role("button", name="Yes, disconnect Zoom")).to_be_hidden()
    card.locator("summary", has_text="Disconnect Zoom").click()
    card.get_by_role("button", name="Yes, disconnect Zoom").click()
    expect(page.locator("#done")).to_have_text(
        "Zoom is disconnected. New bookings wait for their Zoom links until you connect Zoom again."
    )
    expect(page.get_by_role("link", name="Connect Zoom")).to_be_visible()
    context.close()


def test_back_after_booking_does_not_offer_the_booked_time_and_a_reload_sends_nothing(
    chromium: Browser, server: Server, world: World, watched: Watched
) -> None:
    context = _context(chromium, DESKTOP, locale="en-US")
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + f"/specialists/{world.specialist}?event=slots&tz=Europe/Berlin")
    times = page.get_by_role("radio")
    offered = times.count()
    assert offered >= 2
    expect(page.locator(".slot-choice").first).to_contain_text(
        re.compile(r"\d:\d\d(–\d+:\d\d)? [AP]M")
    )
    chosen = times.first.get_attribute("value")
    times.first.check()
    page.get_by_label("Your name").fill("Lise Customer")
    page.get_by_label("Your email").fill("lise.customer@example.com")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("link", name="Join the Zoom meeting")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("radio")).to_have_count(offered - 1)
    expect(page.locator(f'input[value="{chosen}"]')).to_have_count(0)

    page.goto(server.base + "/login")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#form-error")).to_have_text("Wrong email or password.")
    reloaded = page.reload()
    assert reloaded is not None
    assert reloaded.request.method == "GET"
    expect(page.locator("#form-error")).to_have_count(0)
    expect(page.get_by_label("Email")).to_have_value("")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#form-error")).to_have_text("Enter your email and password.")
    context.close()


def test_the_keyboard_reaches_the_menu_and_focus_is_visible(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    context = _context(chromium, MOBILE)
    page = context.new_page()
    watched.watch(page)
    page.goto(server.base + "/")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Menu"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert json.dumps(page.url).endswith('/login"')
    context.close()
