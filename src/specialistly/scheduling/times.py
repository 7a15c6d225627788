"""Bookable times: a pure function of working hours, bookings, an event type, now and a range.

No database and no clock: everything comes in as arguments, so the rules are tested in
milliseconds and the same answer serves the API, the pages and the booking check.

The rules:

- Working hours are wall-clock windows in the specialist's zone. A date with an override uses
  the override's windows (none: a day off); any other date uses the weekly windows of its
  weekday. Each window is turned into UTC for its own date, so a 09:00 America/New_York window
  is 14:00Z on a January Monday and 13:00Z on a July Monday.
- A boundary that falls into a spring-forward gap (02:30 on the day New York skips from 02:00 to
  03:00) moves forward to the first valid instant after the gap (03:00 EDT, 07:00Z). A boundary
  in an autumn repeated hour (01:30 on the day 01:00–02:00 happens twice) is its first
  occurrence (`fold=0`, 01:30 EDT). A window whose both ends fall into one gap is empty.
- One-off slots (not deleted, not booked) are extra availability: UTC windows of their own.
  Windows that overlap or touch, across midnight included, are merged into one.
- Starts lie on a 15-minute grid aligned to the start of each (merged) window: a window from
  09:10 offers 09:10, 09:25, 09:40 … whatever the duration, so a 50-minute consultation is
  not limited to one start per 50 minutes (cal.com's default step is the duration; a fixed
  quarter-hour grid gives customers more choice and reads well on a calendar).
- A start `s` is bookable when the whole `[s − buffer_before, s + duration + buffer_after)`
  fits inside one window and overlaps no busy interval; a confirmed booking is busy over
  `[start − its buffer_before, end + its buffer_after)` (its own event type's buffers).
- `s ≥ now + min_notice`, `s < now + horizon_days`, `range_start ≤ s < range_end`.
- `max_per_day`: a local day (the specialist's zone) that already has that many confirmed
  bookings of this event type offers no more starts of it.

Cost: one pass over the windows with a pointer into the sorted, merged busy intervals; a busy
interval makes the walk jump past it in one step, so the work grows with windows, starts and
bookings, never with minutes.
"""

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

GRID = timedelta(minutes=15)
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Window:
    """Wall-clock minutes since local midnight: `end` may be 1440 (24:00)."""

    start: int
    end: int


@dataclass(frozen=True)
class WeeklyWindow:
    weekday: int  # Monday 0 … Sunday 6
    window: Window


@dataclass(frozen=True)
class Interval:
    """An instant range in UTC, end exclusive."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Busy:
    """A confirmed booking: its time and the buffers of its event type (0 without one)."""

    start: datetime
    end: datetime
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    event_type_id: int | None = None


@dataclass(frozen=True)
class Availability:
    zone: ZoneInfo
    weekly: Sequence[WeeklyWindow] = ()
    overrides: Mapping[date, Sequence[Window]] = field(default_factory=dict)
    extra: Sequence[Interval] = ()  # one-off slots, in UTC


@dataclass(frozen=True)
class EventRules:
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    max_per_day: int | None = None
    event_type_id: int | None = None


def bookable_times(
    availability: Availability,
    rules: EventRules,
    busy: Iterable[Busy],
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
) -> list[datetime]:
    """Answer every bookable start in `[range_start, range_end)`, in UTC and in order."""
    earliest = max(range_start, now + rules.min_notice)
    latest = min(range_end, now + rules.horizon)  # starts must be before this
    if earliest >= latest:
        return []
    busy = list(busy)
    zone = availability.zone
    full_days = _days_at_cap(busy, rules, zone)
    reach_before = rules.buffer_before
    reach_after = rules.duration + rules.buffer_after
    windows = _windows(availability, earliest - reach_before, latest + reach_after)
    blocked = _merged([Interval(b.start - b.buffer_before, b.end + b.buffer_after) for b in busy])
    blocked_ends = [b.end for b in blocked]

    found: list[datetime] = []
    for window in windows:
        k = _ceil_steps(max(earliest, window.start + reach_before) - window.start)
        while True:
            start = window.start + k * GRID
            if start >= latest or start + reach_after > window.end:
                break
            first, last = start - reach_before, start + reach_after
            # The first blocked interval that ends after our first minute.
            i = bisect_right(blocked_ends, first)
            if i < len(blocked) and blocked[i].start < last:
                k = _ceil_steps(blocked[i].end + reach_before - window.start)
                continue
            if not full_days or start.astimezone(zone).date() not in full_days:
                found.append(start)
            k += 1
    return found


def _days_at_cap(busy: Sequence[Busy], rules: EventRules, zone: ZoneInfo) -> set[date]:
    if rules.max_per_day is None:
        return set()
    per_day = Counter(
        b.start.astimezone(zone).date() for b in busy if b.event_type_id == rules.event_type_id
    )
    return {day for day, count in per_day.items() if count >= rules.max_per_day}


def _ceil_steps(span: timedelta) -> int:
    return max(0, -(-span // GRID))


def _windows(availability: Availability, lo: datetime, hi: datetime) -> list[Interval]:
    """The merged UTC windows that reach into `[lo, hi)`."""
    zone = availability.zone
    weekly: dict[int, list[Window]] = {}
    for entry in availability.weekly:
        weekly.setdefault(entry.weekday, []).append(entry.window)
    # A day's windows reach at most one day either side of its UTC date.
    day = lo.astimezone(zone).date() - timedelta(days=1)
    last_day = hi.astimezone(zone).date() + timedelta(days=1)
    found: list[Interval] = []
    while day <= last_day:
        todays = availability.overrides.get(day)
        if todays is None:
            todays = weekly.get(day.weekday(), ())
        for window in todays:
            start, end = (
                local_instant(day, window.start, zone),
                local_instant(day, window.end, zone),
            )
            if start < end and start < hi and end > lo:
                found.append(Interval(start, end))
        day += timedelta(days=1)
    found.extend(w for w in availability.extra if w.start < hi and w.end > lo)
    return _merged(found)


def _merged(intervals: list[Interval]) -> list[Interval]:
    """Sort and join intervals that overlap or touch."""
    merged: list[Interval] = []
    for each in sorted(intervals, key=lambda i: i.start):
        if merged and each.start <= merged[-1].end:
            if each.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, each.end)
        else:
            merged.append(each)
    return merged


def local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a date in a zone (see the module's DST rules)."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # A wall time that does not exist: the gap lies between the two readings of it.
    return _transition(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), instant, zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in `(before, after]` with `after`'s UTC offset (to the second)."""
    offset = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle <= before:
            break
        if middle.astimezone(zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return after
