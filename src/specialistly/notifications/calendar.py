"""Calendar invitations (iCalendar, RFC 5545) that travel with every email about a booking.

One booking is one calendar event everywhere: its `UID` never changes and its `SEQUENCE` rises
with each change, so a calendar updates (or, with `METHOD:CANCEL`, removes) the event it holds
instead of adding another. Times are in UTC; the recipient's zone is named in the description.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from specialistly.notifications.message import Attachment, header_value

PRODUCT_ID = "-//Specialistly//Bookings//EN"
FILENAME = "invite.ics"
# Characters kept as they are in a mailto: address; anything else is percent-encoded, so no
# address can end the property or add a parameter.
_MAILTO_SAFE = "@.+-_~!$&'*=^`{|}#/?%"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class CalendarEvent:
    """What a booking's invitation says; `cancelled` makes it a cancellation."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str | None
    organizer: Person
    attendee: Person
    cancelled: bool = False

    @property
    def method(self) -> str:
        return "CANCEL" if self.cancelled else "REQUEST"


def booking_uid(reference: str, base_url: str) -> str:
    """The one UID of a booking's event, on every email about it."""
    host = urlsplit(base_url).hostname or "specialistly.local"
    return f"booking-{reference}@{host}"


def describe(
    *,
    start: datetime,
    duration_minutes: int,
    timezone: str,
    join_url: str | None,
    manage_url: str | None,
    reference: str,
) -> str:
    """The event's description: the time in the reader's zone, the join and manage links."""
    local = start.astimezone(ZoneInfo(timezone))
    end = local + timedelta(minutes=duration_minutes)
    lines = [f"{local:%A %d %B %Y, %H:%M}–{end:%H:%M} ({timezone})"]
    lines.append(f"Join on Zoom: {join_url}" if join_url else "The Zoom link follows by email.")
    if manage_url:
        lines.append(f"Reschedule or cancel: {manage_url}")
    lines.append(f"Reference: {reference}")
    return "\n".join(lines)


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress("mailto:" + quote(person.email.strip(), safe=_MAILTO_SAFE))
    address.params["CN"] = header_value(person.name, 200)
    for key, value in params.items():
        address.params[key] = value
    return address


def ics(event: CalendarEvent, *, now: datetime) -> str:
    """Render the event as an iCalendar object (CRLF lines, folded, values escaped)."""
    return next(_renderings(event, (event.description,), now=now))


def _renderings(
    event: CalendarEvent, descriptions: Iterable[str], *, now: datetime
) -> Iterator[str]:
    """The event rendered once per description: built once, only DESCRIPTION changes."""
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
    if event.location:
        item.add("location", event.location)
    item.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    item.add("transp", "OPAQUE")
    item.add("organizer", _address(event.organizer))
    item.add(
        "attendee",
        _address(
            event.attendee,
            ROLE="REQ-PARTICIPANT",
            # The customer chose the time: no answer is needed, and none is asked for.
            PARTSTAT="ACCEPTED",
            RSVP="FALSE",
        ),
    )
    calendar.add_component(item)
    # What Calendar.to_ical() does (content lines, each folded, CRLF-joined), with the lines
    # folded once and only DESCRIPTION folded again for each reader: folding is most of
    # icalendar's time here.
    item["DESCRIPTION"] = vText("")
    folded = [line.to_ical() for line in calendar.content_lines() if line]
    where = next(i for i, line in enumerate(folded) if line.startswith(b"DESCRIPTION:"))
    for description in descriptions:
        folded[where] = item.content_line("DESCRIPTION", vText(description)).to_ical()
        yield (b"\r\n".join(folded) + b"\r\n").decode()


def invitation(event: CalendarEvent, *, now: datetime) -> Attachment:
    """The event as the `invite.ics` attachment of an email."""
    return invitations(event, (event.description,), now=now)[0]


def invitations(
    event: CalendarEvent, descriptions: Sequence[str], *, now: datetime
) -> list[Attachment]:
    """`invite.ics` of the same event for several readers, each with their own description
    (their zone's time, their own links): one event built, rendered once per reader."""
    return [
        Attachment(
            filename=FILENAME,
            content_type="text/calendar",
            content=content,
            params=(("method", event.method),),
        )
        for content in _renderings(event, descriptions, now=now)
    ]
