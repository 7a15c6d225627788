"""Event type and working-hours rows, and what the bookable times are computed from.

Callers own the transaction; nothing here calls out.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.scheduling.models import DateOverride, EventType, WeeklyHours
from specialistly.scheduling.times import (
    Availability,
    Busy,
    Interval,
    WeeklyWindow,
    Window,
    bookable_times,
)
from specialistly.specialists.models import Slot, Specialist

# How far a booking or a slot can reach into the range from outside it: the longest event
# (8 hours) with the longest buffers (4 hours each side), and a day for local dates.
REACH = timedelta(days=1, hours=16)


class SpecialistNotFound(Exception):
    """No specialist has this id."""


class EventTypeNotFound(Exception):
    """No such event type for this specialist (or it is deleted, or inactive where it must be)."""


@dataclass(frozen=True)
class Hours:
    """A specialist's working hours: weekly windows, and dated overrides (empty: a day off)."""

    weekly: Sequence[WeeklyWindow]
    overrides: Mapping[date, Sequence[Window]]


# --- event types -------------------------------------------------------------------------


async def event_types(
    session: AsyncSession, specialist_id: int, *, active_only: bool
) -> list[EventType]:
    query = select(EventType).where(
        EventType.specialist_id == specialist_id, EventType.deleted_at.is_(None)
    )
    if active_only:
        query = query.where(EventType.active.is_(True))
    return list(await session.scalars(query.order_by(EventType.id).limit(1000)))


async def specialist(session: AsyncSession, specialist_id: int) -> Specialist:
    """The specialist, for public reads; `SpecialistNotFound` otherwise."""
    found = await session.get(Specialist, specialist_id)
    if found is None:
        raise SpecialistNotFound(specialist_id)
    return found


async def event_type(
    session: AsyncSession,
    specialist_id: int,
    event_type_id: int,
    *,
    active_only: bool = False,
    lock: bool = False,
) -> EventType:
    """The specialist's own, not deleted event type; `EventTypeNotFound` otherwise."""
    found = await session.get(EventType, event_type_id, with_for_update=lock)
    if (
        found is None
        or found.specialist_id != specialist_id
        or found.deleted_at is not None
        or (active_only and not found.active)
    ):
        raise EventTypeNotFound(event_type_id)
    return found


async def add_event_type(
    session: AsyncSession, specialist_id: int, fields: Mapping[str, Any], now: datetime
) -> EventType:
    created = EventType(specialist_id=specialist_id, created_at=now, **fields)
    session.add(created)
    await session.flush()
    return created


async def change_event_type(
    session: AsyncSession, specialist_id: int, event_type_id: int, fields: Mapping[str, Any]
) -> EventType:
    found = await event_type(session, specialist_id, event_type_id, lock=True)
    for name, value in fields.items():
        setattr(found, name, value)
    await session.flush()
    return found


async def remove_event_type(
    session: AsyncSession, specialist_id: int, event_type_id: int, now: datetime
) -> None:
    """Delete it; one that bookings point at is only deactivated and hidden, for their sake.

    The row lock (FOR UPDATE) is what a booking of this event type must conflict with (it
    reads the row FOR SHARE, as bookings of slots do), so none slips in between the look at
    the bookings and the delete.
    """
    found = await event_type(session, specialist_id, event_type_id, lock=True)
    used = await session.scalar(select(exists().where(Booking.event_type_id == found.id)))
    if used:
        found.active = False
        found.deleted_at = now
    else:
        await session.delete(found)


# --- working hours -----------------------------------------------------------------------


async def hours(
    session: AsyncSession,
    specialist_id: int,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Hours:
    """The weekly windows, and the overrides (of the dates between the two given)."""
    weekly = await session.scalars(
        select(WeeklyHours)
        .where(WeeklyHours.specialist_id == specialist_id)
        .order_by(WeeklyHours.weekday, WeeklyHours.start_minute)
    )
    query = select(DateOverride).where(DateOverride.specialist_id == specialist_id)
    if first_day is not None:
        query = query.where(DateOverride.day >= first_day)
    if last_day is not None:
        query = query.where(DateOverride.day <= last_day)
    overrides: dict[date, list[Window]] = {}
    for row in await session.scalars(query.order_by(DateOverride.day, DateOverride.start_minute)):
        windows = overrides.setdefault(row.day, [])
        if row.start_minute is not None and row.end_minute is not None:
            windows.append(Window(row.start_minute, row.end_minute))
    return Hours(
        weekly=[WeeklyWindow(w.weekday, Window(w.start_minute, w.end_minute)) for w in weekly],
        overrides=overrides,
    )


async def replace_hours(session: AsyncSession, specialist_id: int, new: Hours) -> None:
    """Put the whole set in place of the old one, in the caller's transaction."""
    # Two replacements at once would each delete the old rows and both insert theirs:
    # the specialist's row lock makes them take turns (SQLite has one writer anyway).
    await session.execute(
        select(Specialist.id).where(Specialist.id == specialist_id).with_for_update()
    )
    await session.execute(delete(WeeklyHours).where(WeeklyHours.specialist_id == specialist_id))
    await session.execute(delete(DateOverride).where(DateOverride.specialist_id == specialist_id))
    session.add_all(
        WeeklyHours(
            specialist_id=specialist_id,
            weekday=w.weekday,
            start_minute=w.window.start,
            end_minute=w.window.end,
        )
        for w in new.weekly
    )
    for day, windows in new.overrides.items():
        session.add_all(
            DateOverride(
                specialist_id=specialist_id, day=day, start_minute=w.start, end_minute=w.end
            )
            for w in windows
        )
        if not windows:
            session.add(DateOverride(specialist_id=specialist_id, day=day))


# --- bookable times ----------------------------------------------------------------------


async def times(
    session: AsyncSession,
    specialist: Specialist,
    kind: EventType,
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
    ignore_booking_id: int | None = None,
) -> list[datetime]:
    """Read what the times depend on, in one session, and compute them.

    `ignore_booking_id`: a booking being moved, whose own time must not keep it from moving
    a little.
    """
    rules = kind.rules()
    # Only what can touch a start between these two matters; a far-away range reads nothing.
    lo = max(range_start, now + rules.min_notice)
    hi = min(range_end, now + rules.horizon)
    if lo >= hi:
        return []
    zone = ZoneInfo(specialist.timezone)
    found_hours = await hours(
        session,
        specialist.id,
        first_day=(lo - REACH).astimezone(zone).date(),
        last_day=(hi + REACH).astimezone(zone).date(),
    )
    busy = await _busy(session, specialist.id, lo - REACH, hi + REACH, ignore_booking_id)
    booked = exists().where(Booking.slot_id == Slot.id, Booking.status == BookingStatus.CONFIRMED)
    slots = await session.execute(
        select(Slot.start_time, Slot.duration_minutes).where(
            Slot.specialist_id == specialist.id,
            Slot.deleted_at.is_(None),
            Slot.start_time > lo - REACH,
            Slot.start_time < hi + REACH,
            ~booked,
        )
    )
    extra = [Interval(start, start + timedelta(minutes=m)) for start, m in slots.all()]
    availability = Availability(
        zone=zone, weekly=found_hours.weekly, overrides=found_hours.overrides, extra=extra
    )
    return bookable_times(availability, rules, busy, now=now, range_start=lo, range_end=hi)


async def offers(
    session: AsyncSession,
    specialist: Specialist,
    kind: EventType,
    start: datetime,
    *,
    now: datetime,
    ignore_booking_id: int | None = None,
) -> bool:
    """Whether `start` is one of the event type's bookable times now."""
    offered = await times(
        session,
        specialist,
        kind,
        now=now,
        range_start=start,
        range_end=start + timedelta(minutes=1),
        ignore_booking_id=ignore_booking_id,
    )
    return start in offered


async def _busy(
    session: AsyncSession,
    specialist_id: int,
    lo: datetime,
    hi: datetime,
    ignore_booking_id: int | None = None,
) -> list[Busy]:
    """Confirmed bookings starting between `lo` and `hi`, with their event type's buffers."""
    rows = await session.execute(
        select(
            Booking.start_time,
            Booking.duration_minutes,
            Booking.event_type_id,
            EventType.buffer_before_minutes,
            EventType.buffer_after_minutes,
        )
        .outerjoin(EventType, EventType.id == Booking.event_type_id)
        .where(
            Booking.specialist_id == specialist_id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.start_time > lo,
            Booking.start_time < hi,
            Booking.id != (ignore_booking_id or 0),
        )
    )
    return [
        Busy(
            start=start,
            end=start + timedelta(minutes=minutes),
            buffer_before=timedelta(minutes=before or 0),
            buffer_after=timedelta(minutes=after or 0),
            event_type_id=kind,
        )
        for start, minutes, kind, before, after in rows.all()
    ]
