"""Calendar invitations (iCalendar, RFC 5545) that travel with every email about a booking.

One booking is one calendar event everywhere: its `UID` never changes and its `SEQUENCE` rises
with each change, so a calendar updates (or, with `METHOD:CANCEL`, removes) the event it holds
instead of adding another. Times are in UTC; the recipient's zone is named in the description.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import cast
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from icalendar import Parameters, vCalAddress
from icalendar.parser import Contentline, param_value

from specialistly.notifications.message import Attachment, header_value

PRODUCT_ID = "-//Specialistly//Bookings//EN"
FILENAME = "invite.ics"
# RFC 5545 3.1: a content line longer than 75 octets is folded (icalendar folds a line once
# it reaches 75 octets); a shorter one is written as it is.
_FOLD_AT = 75
# Characters kept as they are in a mailto: address; anything else is percent-encoded, so no
# address can end the property or add a parameter.
MAILTO_SAFE = "@.+-_~!$&'*=^`{|}#/?%"


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
    return f"booking-{reference}@{_host(base_url)}"


@cache
def _host(base_url: str) -> str:
    """The host name the platform's UIDs end with (one base URL a process)."""
    return urlsplit(base_url).hostname or "specialistly.local"


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
    lines = [local_span(start, duration_minutes, timezone)]
    lines.append(f"Join on Zoom: {join_url}" if join_url else "The Zoom link follows by email.")
    if manage_url:
        lines.append(f"Reschedule or cancel: {manage_url}")
    lines.append(f"Reference: {reference}")
    return "\n".join(lines)


@lru_cache(maxsize=1024)
def local_span(start: datetime, minutes: int, timezone: str) -> str:
    """'Friday 08 January 2027, 18:00–18:30 (Europe/Berlin)': a booking's time as a reader in
    `timezone` sees it. Made once for each: a booking's two emails and two invitations read
    it four times, in one or two zones (made each time, 1.7 % of a booking's instructions)."""
    local = start.astimezone(ZoneInfo(timezone))
    end = local + timedelta(minutes=minutes)
    return f"{local:%A %d %B %Y, %H:%M}–{end:%H:%M} ({timezone})"


def _mailto(person: Person) -> str:
    return "mailto:" + quote(person.email.strip(), safe=MAILTO_SAFE)


def _address(person: Person) -> vCalAddress:
    address = vCalAddress(_mailto(person))
    address.params["CN"] = header_value(person.name, 200)
    return address


def ics(event: CalendarEvent, *, now: datetime) -> str:
    """Render the event as an iCalendar object (CRLF lines, folded, values escaped)."""
    return next(_renderings(event, (event.description,), now=now))


def _renderings(
    event: CalendarEvent, descriptions: Iterable[str], *, now: datetime
) -> Iterator[str]:
    """The event rendered once per description: only DESCRIPTION changes.

    The lines `Calendar.to_ical()` would write for this calendar (its properties in
    icalendar's order), each made by icalendar from its value type (escaping, UTC times,
    quoted parameters, folding) without building the Calendar: its containers and ordering
    were two thirds of an invitation's CPU, and an invitation goes with every booking.
    tests/unit/test_calendar.py holds this to icalendar's own rendering.
    """
    head = [
        b"BEGIN:VCALENDAR",
        _fixed("VERSION", "2.0"),
        _fixed("PRODID", PRODUCT_ID),
        _fixed("CALSCALE", "GREGORIAN"),
        _fixed("METHOD", event.method),
        b"BEGIN:VEVENT",
        _text("SUMMARY", header_value(event.summary, 200)),
        _utc("DTSTART", event.start),
        _utc("DTEND", event.end),
        _utc("DTSTAMP", now),
        _text("UID", event.uid),
        b"SEQUENCE:%d" % event.sequence,
        _attendee(event.attendee),
    ]
    tail = [
        *([_text("LOCATION", event.location)] if event.location else []),
        _organizer(event.organizer),
        _fixed("STATUS", "CANCELLED" if event.cancelled else "CONFIRMED"),
        _fixed("TRANSP", "OPAQUE"),
        b"END:VEVENT",
        b"END:VCALENDAR",
    ]
    for description in descriptions:
        lines = [*head, _text("DESCRIPTION", description), *tail]
        yield (b"\r\n".join(lines) + b"\r\n").decode()


def _utc(name: str, moment: datetime) -> bytes:
    """A DATE-TIME line in UTC (RFC 5545 3.3.5, form #2), as `vDDDTypes` writes it; built
    here because icalendar's value objects were a third of an invitation's CPU."""
    return b"%s:%s" % (name.encode(), format(moment.astimezone(UTC), "%Y%m%dT%H%M%SZ").encode())


@cache
def _fixed(name: str, text: str) -> bytes:
    """A line of one of a few fixed values (the version, the method, …), made once."""
    return _text(name, text)


@lru_cache(maxsize=1024)
def _organizer(specialist: Person) -> bytes:
    """The organizer's line: the same on every invitation of a specialist's bookings."""
    return _line("ORGANIZER", _address(specialist))


# The attendee's parameters after CN, in the (sorted) order icalendar writes them. The
# customer chose the time: no answer is needed, and none is asked for.
_ATTENDEE_AFTER_CN = b";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE:"
# The characters that make icalendar quote a CN value (besides those it always quotes).
_CN_QUOTED_FOR = Parameters.quote_also["CN"]


def _attendee(person: Person) -> bytes:
    """The attendee's content line: what `_line("ATTENDEE", address)` makes of
    `_address(person)` with ROLE, PARTSTAT and RSVP added, with only the CN value rendered
    by icalendar (`param_value`, quoted as `Parameters.to_ical` quotes a CN). Building the
    address and its parameters was a quarter of an invitation; tests/unit/test_calendar.py
    holds the bytes to icalendar's."""
    name = header_value(person.name, 200)
    cn = param_value(name, always_quote=any(c in name for c in _CN_QUOTED_FOR))
    line = b"ATTENDEE;CN=%s%s%s" % (cn.encode(), _ATTENDEE_AFTER_CN, _mailto(person).encode())
    return line if len(line) < _FOLD_AT else _fold(line)


def _text(name: str, value: str) -> bytes:
    """A TEXT property's content line without parameters: its name, and its value as
    icalendar's `vText` escapes it, folded. The bytes `_line(name, vText(value))` makes,
    without the parameters and content line objects that cost a third of an invitation."""
    line = b"%s:%s" % (name.encode(), escape_text(value).encode())
    return line if len(line) < _FOLD_AT else _fold(line)


def escape_text(value: str) -> str:
    """A TEXT value escaped (RFC 5545 3.3.11) exactly as `vText(value).to_ical()` escapes it:
    backslash, semicolon and comma escaped, every line break (`\\N`, CRLF, LF or a lone CR)
    written `\\n`. A booking's two invitations escape five values: building a `vText` for
    each (a str subclass with its own parameters) cost three times the escaping
    (tests/unit/test_calendar.py holds the two equal)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _line(name: str, value: vCalAddress) -> bytes:
    """One property's content line, folded: what `Component.content_line(name, value)`
    makes and `to_ical()` folds."""
    params = cast(Parameters, getattr(value, "params", None) or Parameters())
    line = Contentline.from_parts(name, params, value)
    encoded: bytes = line.encode()
    if len(encoded) < _FOLD_AT:
        return encoded  # icalendar would go through it character by character to keep it
    return _fold(encoded)


def _fold(line: bytes) -> bytes:
    """icalendar's folding of a UTF-8 line, in slices rather than character by character.

    Each folded line is the most whole characters that stay under 75 octets, except that
    one ending in an escape's first character (a backslash, or `^` of RFC 6868) leaves it to
    the next line, as icalendar does so that no escape is split.
    """
    width = _FOLD_AT - 1
    parts, start = [], 0
    while len(line) - start > width:
        end = start + width
        while line[end] & 0xC0 == 0x80:  # inside a character: end before it
            end -= 1
        if line[end - 1] in b"\\^":
            end -= 1
        parts.append(line[start:end])
        start = end
    parts.append(line[start:])
    return b"\r\n ".join(parts)


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
