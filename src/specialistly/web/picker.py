"""The by-day time picker of the booking and reschedule pages, in the reader's time zone.

What it offers comes from the same places the booking checks: an event type's times from
`scheduling.service.times` (one read for the whole range), and the one-off slots that no
confirmed booking covers.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.models import EventType
from specialistly.specialists import slots
from specialistly.specialists.models import Specialist
from specialistly.web.clock_style import clock_range

PAGE_DAYS = 14


@dataclass(frozen=True)
class Choice:
    value: str  # what the form posts back: a UTC start (ISO 8601) or a slot id
    label: str  # "09:30–10:00"


@dataclass(frozen=True)
class Day:
    key: str  # "2026-11-30", the visitor's local date
    label: str  # "Monday 30 November"
    choices: list[Choice]


@dataclass(frozen=True)
class Span:
    """The days a page shows: `first` and `last` as instants, and the links around them."""

    first: datetime
    last: datetime
    first_day: date
    earlier: date | None
    later: date


def span(start_day: str | None, zone: str, now: datetime) -> Span:
    """PAGE_DAYS local days from `start_day` (YYYY-MM-DD; default and at the earliest today)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    try:
        first_day = max(today, date.fromisoformat(start_day or ""))
    except ValueError:
        first_day = today
    if first_day > today + timedelta(days=2 * 366):
        first_day = today
    last_day = first_day + timedelta(days=PAGE_DAYS)
    earlier = max(today, first_day - timedelta(days=PAGE_DAYS)) if first_day > today else None
    return Span(
        first=max(now, _midnight(first_day, tz)),
        last=_midnight(last_day, tz),
        first_day=first_day,
        earlier=earlier,
        later=last_day,
    )


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_day(offers: Iterable[tuple[datetime, int, str]], zone: str) -> list[Day]:
    """Group (start, minutes, value) by the local date in `zone`, labelled start–end."""
    tz = ZoneInfo(zone)
    days: dict[date, list[Choice]] = {}
    for start, minutes, value in sorted(offers):
        local_start = start.astimezone(tz)
        local_end = (start + timedelta(minutes=minutes)).astimezone(tz)
        label = clock_range(local_start, local_end)
        days.setdefault(local_start.date(), []).append(Choice(value, label))
    return [
        Day(day.isoformat(), f"{day:%A} {day.day} {day:%B}", choices)
        for day, choices in days.items()
    ]


async def event_times(
    session: AsyncSession,
    specialist: Specialist,
    kind: EventType,
    shown: Span,
    now: datetime,
    *,
    moving: int | None = None,
) -> list[tuple[datetime, int, str]]:
    """The event type's bookable starts in the span, as picker offers.

    `moving`: the booking being rescheduled, whose own time does not stand in its way.
    """
    starts = await scheduling.times(
        session,
        specialist,
        kind,
        now=now,
        range_start=shown.first,
        range_end=shown.last,
        ignore_booking_id=moving,
    )
    return [(s, kind.duration_minutes, utc_text(s)) for s in starts]


async def open_slots(
    session: AsyncSession,
    specialist_id: int,
    shown: Span,
    now: datetime,
    *,
    moving: int | None = None,
) -> list[tuple[datetime, int, str]]:
    """The one-off slots in the span that are free: not booked, and no booking overlaps them
    (but `moving`, the booking being rescheduled)."""
    found = await slots.upcoming(session, specialist_id, now, available_only=True)
    inside = [s for s, _ in found if shown.first <= s.start_time < shown.last]
    busy = await _busy_between(session, specialist_id, shown.first, shown.last, moving)
    return [
        (s.start_time, s.duration_minutes, str(s.id))
        for s in inside
        if not any(lo < s.end_time and s.start_time < hi for lo, hi in busy)
    ]


async def _busy_between(
    session: AsyncSession, specialist_id: int, first: datetime, last: datetime, besides: int | None
) -> list[tuple[datetime, datetime]]:
    rows = await session.execute(
        select(Booking.busy_start, Booking.busy_end).where(
            Booking.specialist_id == specialist_id,
            Booking.id != (besides or 0),
            Booking.status == BookingStatus.CONFIRMED,
            Booking.busy_start < last + timedelta(hours=12),
            Booking.busy_end > first - timedelta(hours=12),
        )
    )
    return [(lo, hi) for lo, hi in rows.all() if lo is not None and hi is not None]
