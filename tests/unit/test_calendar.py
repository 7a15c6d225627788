"""Calendar invitations: built with icalendar, read back with icalendar, field by field."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, vCalAddress, vText
from icalendar.parser import Contentline

from specialistly.bookings.invites import invitations
from specialistly.bookings.models import Booking, BookingStatus, MeetingStatus
from specialistly.notifications.calendar import (
    MAILTO_SAFE,
    CalendarEvent,
    Person,
    _attendee,
    _fold,
    booking_uid,
    escape_text,
    ics,
    invitation,
)
from specialistly.notifications.calendar import invitations as calendar_invitations
from specialistly.notifications.message import header_value
from specialistly.specialists.models import Specialist

NOW = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
START = datetime(2027, 1, 15, 17, 0, tzinfo=UTC)  # Saturday 02:00 in Tokyo
JOIN = "https://zoom.example/j/12345678901?pwd=abc"
MANAGE = "https://book.example.com/bookings/7?token=secret-manage-token"
BASE = "https://book.example.com"


def a_booking(**changes: object) -> tuple[Booking, Specialist]:
    values: dict[str, object] = {
        "id": 7,
        "reference": "BK-7Q2X",
        "status": BookingStatus.CONFIRMED,
        "customer_name": "Kenji Sato",
        "customer_email": "kenji+zoom@example.jp",
        "start_time": START,
        "duration_minutes": 45,
        "join_url": JOIN,
        "meeting_status": MeetingStatus.CREATED,
    }
    values.update(changes)
    specialist = Specialist(name="Dana Berg", email="dana@example.com", timezone="Europe/Berlin")
    return Booking(**values), specialist


def event_of(text: str) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def invite(booking: Booking, specialist: Specialist, sequence: int = 0) -> str:
    """The customer's invitation (the customer reads Tokyo time)."""
    booking.calendar_sequence = sequence
    booking.customer_timezone = "Asia/Tokyo"
    attachment, _ = invitations(booking, specialist, base_url=BASE, now=NOW, customer_url=MANAGE)
    assert attachment.filename == "invite.ics"
    assert attachment.content_type == "text/calendar"
    return attachment.content


def test_a_confirmed_booking_is_a_request_with_every_field() -> None:
    calendar, event = event_of(invite(*a_booking(), sequence=0))
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert event["UID"] == "booking-BK-7Q2X@book.example.com"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(minutes=45)
    assert event.decoded("DTSTAMP") == NOW
    assert event["STATUS"] == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Consultation: Kenji Sato with Dana Berg"
    assert str(event["LOCATION"]) == JOIN
    description = str(event["DESCRIPTION"])
    assert JOIN in description
    assert MANAGE in description
    assert "Saturday 16 January 2027, 02:00–02:45 (Asia/Tokyo)" in description
    assert "BK-7Q2X" in description
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:dana@example.com"
    assert organizer.params["CN"] == "Dana Berg"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:kenji+zoom@example.jp"
    assert attendee.params["CN"] == "Kenji Sato"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert attendee.params["RSVP"] == "FALSE"


def test_times_are_written_in_utc_with_z() -> None:
    text = invite(*a_booking())
    assert "DTSTART:20270115T170000Z\r\n" in text
    assert "DTEND:20270115T174500Z\r\n" in text
    assert "DTSTAMP:20270110T080000Z\r\n" in text


def test_the_attachment_says_its_method_in_its_content_type() -> None:
    booking, specialist = a_booking(status=BookingStatus.CANCELLED)
    booking.calendar_sequence = 2
    for attachment in invitations(booking, specialist, base_url=BASE, now=NOW):
        assert dict(attachment.params) == {"method": "CANCEL"}


def test_the_specialist_gets_the_same_event_with_their_own_time_and_link() -> None:
    booking, specialist = a_booking(customer_timezone="Asia/Tokyo", calendar_sequence=1)
    customer, host = invitations(booking, specialist, base_url=BASE, now=NOW, customer_url=MANAGE)
    _, theirs = event_of(customer.content)
    _, ours = event_of(host.content)
    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "DTSTAMP", "SUMMARY", "LOCATION"):
        assert ours[name] == theirs[name]
    assert ours["SEQUENCE"] == 1
    description = str(ours["DESCRIPTION"])
    assert "Friday 15 January 2027, 18:00–18:45 (Europe/Berlin)" in description
    assert BASE + "/dashboard" in description
    assert "secret-manage-token" not in host.content
    assert "Saturday 16 January 2027, 02:00–02:45 (Asia/Tokyo)" in str(theirs["DESCRIPTION"])


def test_a_move_keeps_the_uid_and_raises_the_sequence() -> None:
    booking, specialist = a_booking()
    _, first = event_of(invite(booking, specialist, sequence=0))
    booking.start_time = START + timedelta(days=1)
    _, moved = event_of(invite(booking, specialist, sequence=1))
    assert moved["UID"] == first["UID"]
    assert moved["SEQUENCE"] == 1
    assert moved.decoded("DTSTART") == START + timedelta(days=1)
    assert str(moved["LOCATION"]) == JOIN


def test_a_cancelled_booking_is_a_cancel_of_the_same_event() -> None:
    booking, specialist = a_booking()
    _, first = event_of(invite(booking, specialist))
    booking.status = BookingStatus.CANCELLED
    calendar, cancelled = event_of(invite(booking, specialist, sequence=3))
    assert calendar["METHOD"] == "CANCEL"
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["UID"] == first["UID"]
    assert cancelled["SEQUENCE"] == 3


def test_a_booking_without_a_join_link_has_no_location_and_says_it_follows() -> None:
    _, event = event_of(invite(*a_booking(join_url=None, meeting_status=MeetingStatus.PENDING)))
    assert "LOCATION" not in event
    assert "The Zoom link follows by email." in str(event["DESCRIPTION"])


def test_the_uid_host_comes_from_the_public_base_url() -> None:
    assert booking_uid("BK-1", "http://127.0.0.1:8000") == "booking-BK-1@127.0.0.1"
    assert booking_uid("BK-1", "") == "booking-BK-1@specialistly.local"


HOSTILE_NAMES = [
    "Eve\r\nATTENDEE:mailto:attacker@example.com",
    'Mallory; ROLE=CHAIR, "quoted": yes',
    "Line\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil",
    "Tab\there\x00and\x1bcontrol",
    "名前, テスト; 東京",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_no_customer_name_breaks_the_calendar(name: str) -> None:
    booking, specialist = a_booking(customer_name=name)
    specialist.name = name
    calendar, event = event_of(invite(booking, specialist))
    assert len(calendar.walk("VEVENT")) == 1
    assert [str(a) for a in [event["ATTENDEE"]]] == ["mailto:kenji+zoom@example.jp"]
    assert str(event["ORGANIZER"]) == "mailto:dana@example.com"
    assert event["UID"] == "booking-BK-7Q2X@book.example.com"
    assert "ROLE" not in event["ORGANIZER"].params
    assert event["ATTENDEE"].params["ROLE"] == "REQ-PARTICIPANT"
    # Names come back as one line, every other character kept.
    one_line = " ".join(name.replace("\x00", "").replace("\x1b", "").split())
    assert event["ATTENDEE"].params["CN"] == one_line
    assert str(event["SUMMARY"]) == f"Consultation: {one_line} with {one_line}"
    assert calendar["METHOD"] == "REQUEST"


def an_event(**changes: Any) -> CalendarEvent:
    values: dict[str, Any] = {
        "uid": "booking-X@example.com",
        "sequence": 0,
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "S",
        "description": "D",
        "location": JOIN,
        "organizer": Person("O", "o@example.com"),
        "attendee": Person("A", "a@example.com"),
    }
    return CalendarEvent(**(values | changes))


def test_no_address_can_add_a_parameter_or_a_property() -> None:
    event = an_event(
        description="D; with, punctuation\\ and\nlines",
        attendee=Person("A", "a@example.com\r\nATTENDEE;ROLE=CHAIR:mailto:x@y;z,w"),
    )
    text = ics(event, now=NOW)
    _, parsed = event_of(text)
    attendee = parsed["ATTENDEE"]
    assert not isinstance(attendee, list)  # still one attendee
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert str(attendee).startswith("mailto:a@example.com%0D%0AATTENDEE%3BROLE")
    assert not any(c in str(attendee)[len("mailto:") :] for c in ";:,\r\n")
    assert "\r\nATTENDEE;ROLE=CHAIR" not in text
    assert str(parsed["DESCRIPTION"]) == "D; with, punctuation\\ and\nlines"
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert invitation(event, now=NOW).content == text


@pytest.mark.parametrize(
    "descriptions",
    [("",), ("one line",), ("a long line, with; commas\nand a new line " * 9, "DESCRIPTION:x")],
)
def test_each_reader_s_invitation_is_what_icalendar_renders_for_that_description(
    descriptions: tuple[str, ...],
) -> None:
    event = an_event(sequence=2, summary="DESCRIPTION: not this one", description="")
    rendered = calendar_invitations(event, descriptions, now=NOW)
    for description, attachment in zip(descriptions, rendered, strict=True):
        calendar, item = event_of(attachment.content)
        assert str(item["DESCRIPTION"]) == description
        assert attachment.content == calendar.to_ical().decode()
        assert attachment.content == ics(replace(event, description=description), now=NOW)


def built_by_icalendar(event: CalendarEvent, now: datetime) -> str:
    """The invitation as icalendar's own Calendar and Event write it: the reference."""
    calendar = Calendar()
    for name, value in (
        ("prodid", "-//Specialistly//Bookings//EN"),
        ("version", "2.0"),
        ("calscale", "GREGORIAN"),
        ("method", event.method),
    ):
        calendar.add(name, value)
    item = Event()
    item.add("uid", event.uid)
    item.add("sequence", event.sequence)
    item.add("dtstamp", now)
    item.add("dtstart", event.start.astimezone(UTC))
    item.add("dtend", event.end.astimezone(UTC))
    item.add("summary", header_value(event.summary, 200))
    item.add("description", event.description)
    if event.location:
        item.add("location", event.location)
    item.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    item.add("transp", "OPAQUE")
    for name, person, params in (
        ("organizer", event.organizer, {}),
        (
            "attendee",
            event.attendee,
            {"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"},
        ),
    ):
        address = vCalAddress("mailto:" + quote(person.email.strip(), safe=MAILTO_SAFE))
        address.params["CN"] = header_value(person.name, 200)
        for key, value in params.items():
            address.params[key] = value
        item.add(name, address)
    calendar.add_component(item)
    return calendar.to_ical().decode()


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "x" * 300, "Ünïcødé " * 20])
@pytest.mark.parametrize("cancelled", [False, True])
def test_the_invitation_is_byte_for_byte_what_icalendar_builds(name: str, cancelled: bool) -> None:
    event = an_event(
        sequence=3,
        summary=f"Consultation: {name} with {name}",
        description=f"{name}\nJoin on Zoom: {JOIN}\nReschedule or cancel: {MANAGE}; {name}",
        location=None if cancelled else JOIN + ";x=" + name[:20],
        organizer=Person(name, "o@example.com"),
        attendee=Person(name, f" a+{len(name)}@example.com "),
        cancelled=cancelled,
        start=START.astimezone(timezone(timedelta(hours=9))),
    )
    now = NOW.replace(microsecond=654321)  # a clock's now: icalendar writes whole seconds
    assert ics(event, now=now) == built_by_icalendar(event, now)


def test_long_lines_are_folded_exactly_as_icalendar_folds_them() -> None:
    # Escapes at every place around the fold (a backslash or RFC 6868's `^` must not end a
    # folded line), runs of them, characters of two, three and four octets across the fold,
    # and lengths either side of each limit.
    rng = random.Random(5545)
    lines = ["x" * n for n in range(70, 230)]
    lines += ["x" * n + "\\n" + "y" * 80 for n in range(68, 78)]
    lines += ["x" * n + "^^" + "y" * 160 for n in range(68, 150)]
    lines += ["x" * n + wide * 40 for n in range(60, 78) for wide in ("é", "–", "😀")]
    for alphabet in ('ab ,;:\\^"n', "ab\\^é–😀"):
        lines += ["".join(rng.choices(alphabet, k=rng.randrange(40, 400))) for _ in range(2000)]
    for line in lines:
        folded = Contentline(line).to_ical()
        assert _fold(line.encode()) == folded, line
        assert Contentline.from_ical(folded.decode()) == line


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab\\;,:"^\r\nNé😀 ')) | st.text())
def test_text_is_escaped_exactly_as_icalendar_escapes_it(value: str) -> None:
    assert escape_text(value) == vText(value).to_ical().decode()


@settings(max_examples=1000, deadline=None)
@given(st.text(), st.text(alphabet=st.sampled_from("ab@.+ ;:,'\"^\r\né")))
def test_the_attendee_line_is_exactly_what_icalendar_writes(name: str, email: str) -> None:
    person = Person(name, email)
    address = vCalAddress("mailto:" + quote(email.strip(), safe=MAILTO_SAFE))
    address.params["CN"] = header_value(name, 200)
    for key, value in (("ROLE", "REQ-PARTICIPANT"), ("PARTSTAT", "ACCEPTED"), ("RSVP", "FALSE")):
        address.params[key] = value
    line = Contentline.from_parts("ATTENDEE", address.params, address)
    assert _attendee(person) == line.to_ical()
