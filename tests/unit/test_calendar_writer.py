"""`ics` writes invitations directly: byte for byte what the icalendar library renders."""

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from icalendar import Calendar, Event, vCalAddress

from specialistly.notifications.calendar import (
    _MAILTO_SAFE,
    PRODUCT_ID,
    CalendarEvent,
    Person,
    describe,
    ics,
)
from specialistly.notifications.message import header_value


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress("mailto:" + quote(person.email.strip(), safe=_MAILTO_SAFE))
    address.params["CN"] = header_value(person.name, 200)
    for key, value in params.items():
        address.params[key] = value
    return address


def with_icalendar(event: CalendarEvent, *, now: datetime) -> str:
    """The renderer `ics` replaced, kept here as the reference."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", event.method)
    item = Event()
    item.add("uid", event.uid)
    item.add("sequence", event.sequence)
    item.add("dtstamp", now.astimezone(UTC))
    item.add("dtstart", event.start.astimezone(UTC))
    item.add("dtend", event.end.astimezone(UTC))
    item.add("summary", header_value(event.summary, 200))
    item.add("description", event.description)
    if event.location:
        item.add("location", event.location)
    item.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    item.add("transp", "OPAQUE")
    item.add("organizer", _address(event.organizer))
    item.add(
        "attendee",
        _address(event.attendee, ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED", RSVP="FALSE"),
    )
    calendar.add_component(item)
    rendered: bytes = calendar.to_ical()
    return rendered.decode()


# Every character class the escaping, quoting and folding rules treat specially.
ALPHABET = (
    "abcXYZ 0123456789 .-_@+/?=&%#'\"^\\;,:\n\r\t"
    "\u2019\u00e9\u00f6\u00df\u4e2d\u6587\U0001f600\u0301\x00\x7f"
)


def text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def an_event(rng: random.Random) -> CalendarEvent:
    start = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 10**6))
    if rng.random() < 0.5:
        description = text(rng, 300)
    else:
        description = describe(
            start=start,
            duration_minutes=rng.choice([15, 30, 45, 90]),
            timezone=rng.choice(["Europe/Berlin", "Asia/Tokyo", "America/St_Johns", "UTC"]),
            join_url=rng.choice([None, "https://zoom.example/j/1?pwd=a;b,c"]),
            manage_url=rng.choice([None, "https://book.example.com/bookings/7?token=x"]),
            reference="SPL-" + text(rng, 8),
        )
    return CalendarEvent(
        uid=f"booking-{text(rng, 30)}@book.example.com",
        sequence=rng.randint(0, 30),
        start=start,
        end=start + timedelta(minutes=rng.randint(1, 600)),
        summary=text(rng, 250),
        description=description,
        location=rng.choice([None, "", text(rng, 150)]),
        organizer=Person(text(rng, 80), text(rng, 40) + "@example.com"),
        attendee=Person(text(rng, 80), " " + text(rng, 60) + "@example.jp "),
        cancelled=rng.random() < 0.3,
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_writer_renders_what_icalendar_renders(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        event = an_event(rng)
        now = datetime(2026, 11, 27, 12, 0, 0, rng.randint(0, 999999), tzinfo=UTC)
        assert ics(event, now=now) == with_icalendar(event, now=now)


def test_plain_ascii_at_the_folding_limit() -> None:
    for size in range(60, 90):
        event = CalendarEvent(
            uid="booking-SPL-1@x",
            sequence=0,
            start=datetime(2027, 1, 1, tzinfo=UTC),
            end=datetime(2027, 1, 1, 1, tzinfo=UTC),
            summary="s" * size,
            description="d" * (size - 3) + "\\;é",
            location=None,
            organizer=Person("O", "o@x"),
            attendee=Person("A B", "a@x"),
        )
        now = datetime(2026, 1, 1, tzinfo=UTC)
        assert ics(event, now=now) == with_icalendar(event, now=now)
