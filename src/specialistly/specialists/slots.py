"""Slots: creating without overlap, deleting unless booked, listing what is open."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.models import Booking, BookingStatus
from specialistly.specialists.models import Slot, Specialist

LONGEST_SLOT = timedelta(hours=8)
FURTHEST_AHEAD = timedelta(days=2 * 366)


class SlotRejected(Exception):
    """A slot cannot be created or changed; the message says why."""


class SlotInPast(SlotRejected):
    """A slot must start in the future."""


class SlotTooFarAhead(SlotRejected):
    """A slot starts at most FURTHEST_AHEAD from now."""


class SlotOverlaps(SlotRejected):
    """The specialist has another slot at that time: `other`."""

    def __init__(self, other: Slot) -> None:
        super().__init__(
            f"overlaps slot {other.id} ({other.start_time.isoformat()}, "
            f"{other.duration_minutes} minutes)"
        )
        self.other_start, self.other_end = other.start_time, other.end_time


class SlotBooked(Exception):
    """A booked slot cannot be deleted."""


async def create(
    session: AsyncSession, specialist_id: int, start: datetime, minutes: int, now: datetime
) -> Slot:
    """Add a slot in the future that overlaps none of the specialist's others."""
    if start <= now:
        raise SlotInPast("start_time must be in the future")
    if start > now + FURTHEST_AHEAD:
        raise SlotTooFarAhead("start_time is too far ahead: at most two years from now")
    # Serialise slot changes per specialist so two requests cannot both pass the check.
    await session.execute(
        select(Specialist.id).where(Specialist.id == specialist_id).with_for_update()
    )
    end = start + timedelta(minutes=minutes)
    nearby = await session.scalars(
        select(Slot).where(
            Slot.specialist_id == specialist_id,
            Slot.deleted_at.is_(None),
            Slot.start_time < end,
            Slot.start_time > start - LONGEST_SLOT,
        )
    )
    for other in nearby:
        if other.start_time < end and start < other.end_time:
            raise SlotOverlaps(other)
    slot = Slot(
        specialist_id=specialist_id, start_time=start, duration_minutes=minutes, created_at=now
    )
    session.add(slot)
    await session.flush()
    return slot


async def delete(session: AsyncSession, specialist_id: int, slot_id: int, now: datetime) -> bool:
    """Delete an unbooked slot of this specialist; answer False when there is none.

    The slot's row lock (FOR UPDATE) conflicts with a booking's FOR SHARE, so a booking
    either commits first and is seen by `booked`, or finds the slot deleted.
    """
    slot = await session.get(Slot, slot_id, with_for_update=True)
    if slot is None or slot.specialist_id != specialist_id or slot.deleted_at is not None:
        return False
    if await booked(session, slot.id):
        raise SlotBooked(f"slot {slot_id} is booked; cancel the booking first")
    slot.deleted_at = now
    return True


async def booked(session: AsyncSession, slot_id: int) -> bool:
    found = await session.scalar(
        select(Booking.id).where(
            Booking.slot_id == slot_id, Booking.status == BookingStatus.CONFIRMED
        )
    )
    return found is not None


async def upcoming(
    session: AsyncSession, specialist_id: int, now: datetime, *, available_only: bool
) -> list[tuple[Slot, bool]]:
    """The specialist's future slots, each with whether it can still be booked."""
    taken = (
        select(Booking.slot_id)
        .where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.specialist_id == specialist_id,
            # Bookings of an event type have no slot: a NULL here would make NOT IN unknown.
            Booking.slot_id.is_not(None),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Slot, Slot.id.not_in(taken))
        .where(
            Slot.specialist_id == specialist_id,
            Slot.deleted_at.is_(None),
            Slot.start_time > now,
        )
        .order_by(Slot.start_time)
        .limit(500)
    )
    found = [(slot, bool(free)) for slot, free in rows.all()]
    return [(s, free) for s, free in found if free or not available_only]
