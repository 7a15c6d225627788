"""Event types, working hours and days off, booked from a Tokyo browser, at 390 px and desktop."""

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, MOBILE, Server, Watched, shoot
from tests.e2e.test_pages import connect_zoom, sign_up

BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")
SIZES = pytest.mark.parametrize("size", [MOBILE, DESKTOP], ids=["390px", "desktop"])


def browser_page(
    chromium: Browser, watched: Watched, size: dict[str, int], zone: str = "Europe/Berlin"
) -> Page:
    context = chromium.new_context(
        viewport=size, timezone_id=zone, accept_downloads=True, locale="en-GB"
    )
    page = context.new_page()
    watched.watch(page)
    return page


def berlin_day(days_ahead: int) -> date:
    return datetime.now(BERLIN).date() + timedelta(days=days_ahead)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def add_event_type(page: Page, name: str, minutes: int) -> None:
    card = page.get_by_role("region", name="Event types")
    card.get_by_label("Name", exact=True).fill(name)
    card.get_by_label("Length (minutes)").fill(str(minutes))
    card.get_by_label("Minimum notice (minutes)").fill("60")
    card.get_by_label("Description").fill("A first talk about what you need.")
    card.get_by_role("button", name="Add event type").click()
    expect(page.locator("#done")).to_contain_text("The event type is added")
    expect(card.get_by_role("list", name="Your event types")).to_contain_text(name)


def set_weekly_hours(page: Page, start: str, end: str) -> None:
    card = page.get_by_role("region", name="Weekly hours")
    for weekday in range(7):
        card.locator(f"#w-{weekday}-0-start").fill(start)
        card.locator(f"#w-{weekday}-0-end").fill(end)
    card.get_by_role("button", name="Save weekly hours").click()
    expect(page.locator("#done")).to_contain_text("Your weekly hours are saved")


def add_day_off(page: Page, day: date) -> None:
    card = page.get_by_role("region", name="Days off and other hours")
    card.get_by_label("Date").fill(day.isoformat())
    card.get_by_label("Day off").check()
    card.get_by_role("button", name="Save this date").click()
    expect(card.get_by_role("list", name="Dates with their own hours")).to_contain_text(
        f"{day:%A} {day.day} {day:%B %Y}: Day off"
    )


def scheduling_specialist(
    chromium: Browser, watched: Watched, server: Server, size: dict[str, int], name: str
) -> tuple[Page, int]:
    """A specialist in Berlin with Zoom, a 30-minute event type, 09:00–12:00 daily, a day off."""
    page = browser_page(chromium, watched, size)
    sign_up(page, server, name)
    connect_zoom(page, f"{name.split()[0].lower()}.{size['width']}@zoom.example.com")
    add_event_type(page, "Intro call", 30)
    set_weekly_hours(page, "09:00", "12:00")
    add_day_off(page, berlin_day(4))
    booking_link = page.get_by_role("link", name="your booking page")
    specialist_id = int(re.sub(r"\D", "", booking_link.get_attribute("href") or ""))
    return page, specialist_id


def choose_time(page: Page, local_start: datetime) -> None:
    """Open the day of `local_start` in the picker and choose that time."""
    day = page.locator(f'details.day[data-day="{local_start.date().isoformat()}"]')
    if day.get_attribute("open") is None:
        day.locator("summary").click()
    day.get_by_role("radio", name=re.compile(f"^{local_start:%H:%M}–")).check()


@SIZES
def test_a_tokyo_customer_books_an_event_type_the_specialist_set_up_on_the_dashboard(
    chromium: Browser, server: Server, watched: Watched, size: dict[str, int]
) -> None:
    specialist, specialist_id = scheduling_specialist(
        chromium, watched, server, size, f"Mary Somerville {size['width']}"
    )
    shoot(specialist, f"dashboard-scheduling-{size['width']}")

    customer = browser_page(chromium, watched, size, zone="Asia/Tokyo")
    customer.goto(f"{server.base}/specialists/{specialist_id}")
    expect(customer).to_have_url(re.compile(r"tz=Asia%2FTokyo"))  # taken from the browser
    kinds = customer.get_by_role("region", name="1. Choose a consultation")
    expect(kinds).to_contain_text("Intro call · 30 min")
    expect(kinds).to_contain_text("A first talk about what you need.")
    kinds.get_by_role("link", name=re.compile("Intro call")).click()
    expect(customer.locator("#shown-zone")).to_have_text("Asia/Tokyo")

    # 09:00–12:00 in Berlin is 17:00–20:00 in Tokyo in winter (16:00–19:00 in summer).
    open_day = berlin_day(5)
    first = at(open_day, 9).astimezone(TOKYO)
    last = at(open_day, 11, 30).astimezone(TOKYO)
    day = customer.locator(f'details.day[data-day="{first.date().isoformat()}"]')
    expect(day.locator("summary")).to_contain_text(f"{first:%A} {first.day} {first:%B}")
    expect(day.locator("summary")).to_contain_text("11 times")
    day_off = at(berlin_day(4), 9).astimezone(TOKYO).date()
    expect(customer.locator(f'details.day[data-day="{day_off.isoformat()}"]')).to_have_count(0)
    choose_time(customer, first)
    end = first + timedelta(minutes=30)
    expect(day).to_contain_text(f"{last:%H:%M}–{last + timedelta(minutes=30):%H:%M}")
    shoot(customer, f"booking-event-type-{size['width']}")

    customer.get_by_label("Your name").fill("Kei Tanaka")
    customer.get_by_label("Your email").fill("kei@example.com")
    customer.get_by_role("button", name="Book this time").click()
    expect(customer.get_by_role("status")).to_contain_text("You're booked with Mary Somerville")
    when = f"{first:%A %d %B %Y, %H:%M}–{end:%H:%M} (Asia/Tokyo)"
    expect(customer.get_by_role("heading", level=1)).to_have_text(when)
    expect(customer.locator("#customer-zone")).to_have_text("Asia/Tokyo")
    expect(customer.get_by_role("link", name="Join the Zoom meeting")).to_be_visible()
    shoot(customer, f"confirmation-tokyo-{size['width']}")

    with customer.expect_download() as download:
        customer.get_by_role("link", name="Add to calendar (.ics)").click()
    ics = Path(download.value.path()).read_text(encoding="utf-8").replace("\r\n ", "")
    assert "METHOD:REQUEST" in ics
    assert f"DTSTART:{first.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}" in ics
    assert f"DTEND:{end.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}" in ics

    # The time is gone for the next visitor; the specialist sees it in Berlin time.
    again = browser_page(chromium, watched, size, zone="Asia/Tokyo")
    again.goto(f"{server.base}/specialists/{specialist_id}")
    again.get_by_role("link", name=re.compile("Intro call")).click()
    # 17:00 is booked, and 17:15 would overlap it: the day starts at 17:30 now.
    taken = again.locator(f'details.day[data-day="{first.date().isoformat()}"]')
    if taken.get_attribute("open") is None:
        taken.locator("summary").click()
    expect(taken.locator("summary")).to_contain_text("9 times")
    expect(taken.get_by_role("radio").first).to_have_accessible_name(
        f"{first + timedelta(minutes=30):%H:%M}–{first + timedelta(minutes=60):%H:%M}"
    )
    specialist.reload()
    booking = specialist.get_by_role("list", name="Upcoming bookings")
    expect(booking).to_contain_text(f"{at(open_day, 9):%a %d %b %Y, %H:%M}–09:30 · Intro call")
    expect(booking).to_contain_text("Kei Tanaka")


@SIZES
def test_a_booking_form_with_mistakes_says_what_to_fix_beside_each_field(
    chromium: Browser, server: Server, watched: Watched, size: dict[str, int]
) -> None:
    _, specialist_id = scheduling_specialist(
        chromium, watched, server, size, f"Emmy Noether {size['width']}"
    )
    customer = browser_page(chromium, watched, size, zone="Europe/Berlin")
    customer.goto(f"{server.base}/specialists/{specialist_id}")
    customer.get_by_role("link", name=re.compile("Intro call")).click()
    customer.get_by_label("Your email").fill("no at sign")
    customer.get_by_role("button", name="Book this time").click()
    expect(customer.locator("#time-error")).to_have_text("Choose a time.")
    expect(customer.locator("#name-error")).to_contain_text("Enter your name")
    expect(customer.locator("#email-error")).to_contain_text("Enter an email address")
    expect(customer.get_by_label("Your email")).to_have_value("no at sign")
    shoot(customer, f"booking-errors-{size['width']}")


def book_at(
    chromium: Browser,
    watched: Watched,
    server: Server,
    size: dict[str, int],
    specialist_id: int,
    start: datetime,
    zone: str,
) -> Page:
    """A customer in `zone` books the Intro call at `start`; answer their confirmation page."""
    customer = browser_page(chromium, watched, size, zone=zone)
    customer.goto(f"{server.base}/specialists/{specialist_id}")
    customer.get_by_role("link", name=re.compile("Intro call")).click()
    choose_time(customer, start.astimezone(ZoneInfo(zone)))
    customer.get_by_label("Your name").fill("Kei Tanaka")
    customer.get_by_label("Your email").fill("kei@example.com")
    customer.get_by_role("button", name="Book this time").click()
    expect(customer.get_by_role("link", name="Join the Zoom meeting")).to_be_visible()
    return customer


def tokyo_span(start: datetime) -> str:
    local = start.astimezone(TOKYO)
    return f"{local:%A %d %B %Y, %H:%M}–{local + timedelta(minutes=30):%H:%M} (Asia/Tokyo)"


@SIZES
def test_a_customer_reschedules_then_cancels_from_the_confirmation_page(
    chromium: Browser, server: Server, watched: Watched, size: dict[str, int]
) -> None:
    specialist, specialist_id = scheduling_specialist(
        chromium, watched, server, size, f"Ada Byron {size['width']}"
    )
    day = berlin_day(6)
    customer = book_at(chromium, watched, server, size, specialist_id, at(day, 9), "Asia/Tokyo")
    join = customer.get_by_role("link", name="Join the Zoom meeting").get_attribute("href")

    customer.get_by_role("link", name="Reschedule").click()
    expect(customer.locator("#current-time")).to_contain_text(tokyo_span(at(day, 9)))
    expect(customer.locator("#shown-zone")).to_have_text("Asia/Tokyo")
    choose_time(customer, at(day, 10, 30).astimezone(TOKYO))
    shoot(customer, f"reschedule-customer-{size['width']}")
    customer.get_by_role("button", name="Move to this time").click()

    expect(customer.get_by_role("status")).to_contain_text("Your booking with Ada Byron")
    expect(customer.get_by_role("heading", level=1)).to_have_text(tokyo_span(at(day, 10, 30)))
    expect(customer.get_by_role("link", name="Join the Zoom meeting")).to_have_attribute(
        "href", join or ""
    )
    with customer.expect_download() as download:
        customer.get_by_role("link", name="Add to calendar (.ics)").click()
    ics = Path(download.value.path()).read_text(encoding="utf-8")
    assert "SEQUENCE:0" not in ics  # the moved event is a newer version of the same UID
    assert f"DTSTART:{at(day, 10, 30).astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}" in ics

    customer.locator("summary", has_text="Cancel this booking").click()
    customer.get_by_label(re.compile("^Reason")).fill("Something came up at work")
    customer.get_by_role("button", name="Yes, cancel this booking").click()
    expect(customer.get_by_role("status")).to_contain_text("Your booking is cancelled")
    expect(customer.get_by_role("status")).to_contain_text("Something came up at work")
    expect(customer.get_by_role("link", name="Reschedule")).to_have_count(0)
    shoot(customer, f"cancelled-by-customer-{size['width']}")

    specialist.reload()
    expect(specialist.get_by_role("list", name="Upcoming bookings")).to_have_count(0)
    past = specialist.get_by_role("list", name="Past and cancelled bookings")
    expect(past).to_contain_text(f"{at(day, 10, 30):%a %d %b %Y, %H:%M}–11:00")
    expect(past).to_contain_text("Something came up at work")


@SIZES
def test_a_specialist_reschedules_then_cancels_from_the_dashboard(
    chromium: Browser, server: Server, watched: Watched, size: dict[str, int]
) -> None:
    specialist, specialist_id = scheduling_specialist(
        chromium, watched, server, size, f"Lise Meitner {size['width']}"
    )
    day = berlin_day(7)
    customer = book_at(chromium, watched, server, size, specialist_id, at(day, 11), "Europe/Berlin")
    specialist.reload()
    upcoming = specialist.get_by_role("list", name="Upcoming bookings")
    expect(upcoming).to_contain_text(f"{at(day, 11):%a %d %b %Y, %H:%M}–11:30 · Intro call")
    upcoming.get_by_role("link", name=re.compile("^Reschedule")).click()
    expect(specialist.get_by_role("heading", level=1)).to_have_text("Move Kei Tanaka's booking")
    choose_time(specialist, at(day + timedelta(days=1), 9, 15))
    shoot(specialist, f"reschedule-specialist-{size['width']}")
    specialist.get_by_role("button", name="Move to this time").click()
    expect(specialist.locator("#done")).to_contain_text("The booking is moved")
    moved = f"{at(day + timedelta(days=1), 9, 15):%a %d %b %Y, %H:%M}–09:45 · Intro call"
    expect(specialist.get_by_role("list", name="Upcoming bookings")).to_contain_text(moved)

    customer.reload()
    when = at(day + timedelta(days=1), 9, 15)
    expect(customer.get_by_role("heading", level=1)).to_have_text(
        f"{when:%A %d %B %Y, %H:%M}–09:45 (Europe/Berlin)"
    )

    upcoming = specialist.get_by_role("list", name="Upcoming bookings")
    upcoming.locator("summary", has_text="Cancel").click()
    upcoming.get_by_label(re.compile("^Reason for Kei Tanaka")).fill("I am ill, sorry")
    upcoming.get_by_role("button", name="Cancel this booking").click()
    expect(specialist.locator("#done")).to_contain_text("The booking is cancelled")
    expect(specialist.get_by_role("list", name="Upcoming bookings")).to_have_count(0)
    shoot(specialist, f"dashboard-after-cancel-{size['width']}")

    customer.reload()
    expect(customer.get_by_role("status")).to_contain_text("This booking is cancelled")
    expect(customer.get_by_role("status")).to_contain_text("I am ill, sorry")
