"""The product as people meet it: in a real browser, from sign-up to a booked Zoom meeting."""

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, Watched, shoot

PASSWORD = "correct horse battery"


def open_page(chromium: Browser, watched: Watched) -> Page:
    # en-GB: a 24-hour clock, as the times these tests type and look for. Berlin, the zone of
    # every specialist here: a booking page in another zone reloads itself in the browser's
    # (test_scheduling_pages follows that), and a test pressing keys meanwhile loses its page.
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    watched.watch(page)
    return page


def sign_up(page: Page, server: Server, name: str) -> str:
    email = f"{name.lower().replace(' ', '.')}.{secrets.token_hex(3)}@example.com"
    page.goto(server.base + "/signup")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Your time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return email


def connect_zoom(page: Page, zoom_email: str, *, button: str = "Connect Zoom") -> None:
    page.get_by_role("link", name=button).click()
    expect(page.get_by_role("heading", name=re.compile("would like to access"))).to_be_visible()
    page.get_by_label("Sign in to Zoom as").fill(zoom_email)
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?zoom=connected$"))


def add_slot(page: Page, days_ahead: int, hour: int) -> None:
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(hour=hour, minute=0)
    page.get_by_label(re.compile(r"^Start")).fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add time").click()
    expect(page.get_by_role("list", name="Open and booked times")).to_contain_text(f"{hour:02d}:00")


def specialist_with_a_slot(
    chromium: Browser, watched: Watched, server: Server, name: str, days_ahead: int, hour: int
) -> Page:
    """A signed-up specialist with Zoom connected and one open time."""
    page = open_page(chromium, watched)
    sign_up(page, server, name)
    connect_zoom(page, f"{name.split()[0].lower()}@zoom.example.com")
    add_slot(page, days_ahead, hour)
    return page


def book_first_time(page: Page, server: Server, specialist: str, customer: str) -> None:
    page.goto(server.base + "/")
    page.get_by_role("link", name=specialist, exact=True).click()
    page.get_by_role("radio").first.check()
    page.get_by_label("Your name").fill(customer)
    page.get_by_label("Your email").fill("customer@example.com")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("status")).to_contain_text(f"You're booked with {specialist}")


def test_a_specialist_connects_zoom_and_a_customer_books_with_a_join_link(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    specialist = open_page(chromium, watched)
    sign_up(specialist, server, "Ada Lovelace")
    expect(specialist.get_by_role("link", name="Connect Zoom")).to_be_visible()
    connect_zoom(specialist, "ada@zoom.example.com")
    card = specialist.get_by_role("region", name="Zoom")
    expect(card).to_contain_text("Connected")
    expect(card).to_contain_text("ada@zoom.example.com")
    expect(specialist.locator("#token-health")).to_contain_text("renews by itself")
    add_slot(specialist, 3, 10)
    add_slot(specialist, 4, 11)
    shoot(specialist, "dashboard-connected")

    customer = open_page(chromium, watched)
    customer.goto(server.base + "/")
    expect(customer.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    shoot(customer, "landing")
    customer.get_by_role("link", name="Ada Lovelace", exact=True).click()
    expect(customer.get_by_role("radio")).to_have_count(2)
    shoot(customer, "booking")
    customer.get_by_role("radio").first.check()
    customer.get_by_label("Your name").fill("Grace Hopper")
    customer.get_by_label("Your email").fill("grace@example.com")
    customer.get_by_role("button", name="Book this time").click()
    join = customer.get_by_role("link", name="Join the Zoom meeting")
    expect(join).to_have_attribute("href", re.compile(r"/zoom-sandbox/j/\d{11}\?pwd="))
    expect(customer.locator("#hosted")).to_contain_text("Hosted on Ada Lovelace's Zoom account")
    shoot(customer, "confirmation")

    specialist.reload()
    booking = specialist.locator("li.booking")
    expect(booking).to_contain_text("Grace Hopper")
    start = booking.get_by_role("link", name=re.compile("^Start"))
    expect(start).to_have_attribute("href", re.compile(r"/zoom-sandbox/s/\d{11}\?zak="))
    start.click()
    expect(specialist.get_by_text("You are starting this meeting as its host.")).to_be_visible()


def test_a_grant_zoom_ended_shows_one_banner_and_reconnecting_brings_the_link(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    specialist = specialist_with_a_slot(chromium, watched, server, "Rosalind Franklin", 5, 9)
    expect(specialist.locator("#reconnect-banner")).to_have_count(0)

    server.control("POST", "/users/rosalind@zoom.example.com/invalidate")
    customer = open_page(chromium, watched)
    book_first_time(customer, server, "Rosalind Franklin", "Marie Curie")
    expect(customer.locator("#link-follows")).to_contain_text("Your link will follow by email")
    booking_url = customer.url

    specialist.reload()
    banner = specialist.locator("#reconnect-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Zoom stopped letting Specialistly create meetings for you")
    expect(specialist.get_by_role("alert")).to_have_count(1)
    shoot(specialist, "dashboard-reconnect")

    connect_zoom(specialist, "rosalind@zoom.example.com", button="Reconnect Zoom")
    expect(specialist.locator("#reconnect-banner")).to_have_count(0)
    start = specialist.locator("li.booking").get_by_role("link", name=re.compile("^Start"))
    for _ in range(30):  # the meetings job runs every second in this server
        if start.count():
            break
        specialist.wait_for_timeout(500)
        specialist.reload()
    expect(start).to_be_visible()
    customer.goto(booking_url)
    expect(customer.get_by_role("link", name="Join the Zoom meeting")).to_be_visible()


def _tab_to(page: Page, predicate: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(predicate):
            return
    raise AssertionError(f"never reached {predicate}")


def test_a_customer_can_book_with_the_keyboard_alone(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    specialist_with_a_slot(chromium, watched, server, "Katherine Johnson", 6, 14)

    page = open_page(chromium, watched)
    page.goto(server.base + "/")
    _tab_to(page, "document.activeElement.textContent.trim() === 'Katherine Johnson'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Book Katherine Johnson")).to_be_visible()
    _tab_to(page, "document.activeElement.type === 'radio'")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Dorothy Vaughan")
    page.keyboard.press("Tab")
    page.keyboard.type("dorothy@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Book this time"
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Join the Zoom meeting")).to_be_visible()


def test_bad_input_shows_field_errors_and_books_nothing(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    specialist = specialist_with_a_slot(chromium, watched, server, "Hedy Lamarr", 7, 16)

    page = open_page(chromium, watched)
    page.goto(server.base + "/")
    page.get_by_role("link", name="Hedy Lamarr", exact=True).click()
    page.get_by_label("Your email").fill("not an email")
    page.get_by_role("button", name="Book this time").click()
    expect(page.locator("#time-error")).to_have_text("Choose a time.")
    expect(page.locator("#name-error")).to_contain_text("Enter your name")
    expect(page.locator("#email-error")).to_contain_text("Enter an email address")
    expect(page.get_by_label("Your email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Your email")).to_have_value("not an email")
    specialist.reload()
    expect(specialist.locator("li.booking")).to_have_count(0)
    bookings: list[dict[str, Any]] = specialist.evaluate(
        "async () => (await fetch('/api/v1/bookings')).json()"
    )
    assert bookings == []


def test_oauth_errors_land_on_a_page_that_says_what_to_do(
    chromium: Browser, server: Server, watched: Watched
) -> None:
    page = open_page(chromium, watched)
    sign_up(page, server, "Barbara Liskov")
    page.get_by_role("link", name="Connect Zoom").click()
    page.get_by_role("button", name="Deny").click()
    expect(page).to_have_url(re.compile(r"reason=access_denied"))
    expect(page.get_by_role("status")).to_contain_text("You chose Deny on Zoom's page")
    page.goto(server.base + "/api/zoom/oauth/user-callback?state=forged&code=x")
    expect(page.get_by_role("status")).to_contain_text("not valid any more")
    expect(page.get_by_role("link", name="Connect Zoom")).to_be_visible()
