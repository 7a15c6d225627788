"""Calendar invitations (iCalendar, RFC 5545) that travel with every email about a booking.

One booking is one calendar event everywhere: its `UID` never changes and its `SEQUENCE` rises
with each change, so a calendar updates (or, with `METHOD:CANCEL`, removes) the event it holds
instead of adding another. Times are in UTC; the recipient's zone is named in the description.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

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


def ics(event: CalendarEvent, *, now: datetime) -> str:
    """Render the event as an iCalendar object (CRLF lines, folded, values escaped).

    Written out directly: byte for byte what the `icalendar` library renders for the same
    event (its properties in its canonical order, its escaping, quoting and folding; a unit
    test compares the two), at a small fraction of its cost, since every email about a
    booking carries one.
    """
    attendee = _address_line(
        "ATTENDEE",
        event.attendee,
        # The customer chose the time: no answer is needed, and none is asked for.
        (("PARTSTAT", "ACCEPTED"), ("ROLE", "REQ-PARTICIPANT"), ("RSVP", "FALSE")),
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:" + _text(PRODUCT_ID),
        "CALSCALE:GREGORIAN",
        "METHOD:" + event.method,
        "BEGIN:VEVENT",
        "SUMMARY:" + _text(header_value(event.summary, 200)),
        "DTSTART:" + _utc(event.start),
        "DTEND:" + _utc(event.end),
        "DTSTAMP:" + _utc(now),
        "UID:" + _text(event.uid),
        f"SEQUENCE:{int(event.sequence)}",
        attendee,
        "DESCRIPTION:" + _text(event.description),
    ]
    if event.location:
        lines.append("LOCATION:" + _text(event.location))
    lines += [
        _address_line("ORGANIZER", event.organizer, ()),
        "STATUS:" + ("CANCELLED" if event.cancelled else "CONFIRMED"),
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def _utc(moment: datetime) -> str:
    t = moment.astimezone(UTC)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"


def _text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 section 3.3.11 says (in icalendar's order)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


_PARAM_ESCAPES = {"^": "^^", "\n": "^n", "\r": "^n", "\r\n": "^n", '"': "^'"}
_PARAM_ESCAPE = re.compile(r'\^|\r\n|\r|\n|"')
_PARAM_QUOTED = re.compile("[,;:\u2019]")


def _param(key: str, value: str) -> str:
    """`KEY=value`: RFC 6868 escapes, quoted when RFC 5545 needs it (CN also for ' and ' ')."""
    escaped = _PARAM_ESCAPE.sub(lambda found: _PARAM_ESCAPES[found.group(0)], value)
    quote = (key == "CN" and (" " in value or "'" in value)) or _PARAM_QUOTED.search(escaped)
    return f'{key}="{escaped}"' if quote else f"{key}={escaped}"


def _address_line(name: str, person: Person, params: tuple[tuple[str, str], ...]) -> str:
    address = "mailto:" + quote(person.email.strip(), safe=_MAILTO_SAFE)
    pairs = sorted((("CN", header_value(person.name, 200)), *params))
    return name + "".join(";" + _param(key, value) for key, value in pairs) + ":" + address


def _fold(line: str, limit: int = 75) -> str:
    """Fold a content line at 75 octets (RFC 5545 section 3.1), never inside a UTF-8
    character and never right after a backslash or caret (so an escape stays whole)."""
    if len(line) < limit and (line.isascii() or len(line.encode()) < limit):
        return line
    folded: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode())
        if current and size + width >= limit:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                folded.append("".join(current))
                current, size = [carried], len(carried.encode())
            else:
                folded.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += width
    if current:
        folded.append("".join(current))
    return "\r\n ".join(folded)


def invitation(event: CalendarEvent, *, now: datetime) -> Attachment:
    """The event as the `invite.ics` attachment of an email."""
    return Attachment(
        filename=FILENAME,
        content_type="text/calendar",
        content=ics(event, now=now),
        params=(("method", event.method),),
    )
