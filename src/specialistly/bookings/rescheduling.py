"""Rescheduling: the booking takes its new time and frees the old one in one transaction;
then the same Zoom meeting follows it (`moves`)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from specialistly.bookings import emails
from specialistly.bookings.busy import hold_specialist, refuse_overlap
from specialistly.bookings.errors import (
    BookingCancelled,
    BookingNotFound,
    NotBookable,
    SlotNotFound,
    SlotTaken,
    TooLateToChange,
)
from specialistly.bookings.invites import invitations
from specialistly.bookings.meetings import MeetingMaker
from specialistly.bookings.models import Booking, BookingStatus
from specialistly.bookings.moves import MeetingMover, MoveAttempt, claim_move
from specialistly.bookings.reminders import plan_reminders
from specialistly.clock import Clock
from specialistly.db import Database
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.models import EventType
from specialistly.specialists.models import Slot, Specialist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewTime:
    start: datetime
    busy: tuple[datetime, datetime]
    slot_id: int | None


def may_change(booking: Booking, *, by_specialist: bool, now: datetime, cutoff: timedelta) -> None:
    """The customer may change a booking until `cutoff` before its start; the specialist
    at any time. Nobody changes a cancelled one."""
    if booking.status != BookingStatus.CONFIRMED:
        raise BookingCancelled("this booking is cancelled")
    if not by_specialist and booking.start_time - now < cutoff:
        minutes = int(cutoff.total_seconds() // 60)
        raise TooLateToChange(
            f"bookings can be changed online until {minutes} minutes before they start; "
            "please contact the specialist"
        )


class Rescheduler:
    """Move confirmed bookings to another bookable time of theirs."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        maker: MeetingMaker,
        mover: MeetingMover,
        reminder_offsets: tuple[int, ...],
        cutoff: timedelta,
    ) -> None:
        self.db, self.clock, self.maker, self.mover = db, clock, maker, mover
        self.reminder_offsets, self.cutoff = reminder_offsets, cutoff

    async def reschedule(
        self,
        booking_id: int,
        *,
        start_time: datetime | None = None,
        slot_id: int | None = None,
        by_specialist: bool = False,
    ) -> Booking:
        """Move the booking to `start_time` (an event type's booking) or to the one-off slot
        `slot_id` (a slot's booking); then move its meeting. Nothing changes on a refusal."""
        async with self.db.reading() as session:
            booking = await session.get(Booking, booking_id)
            if booking is None:
                raise BookingNotFound(booking_id)
            may_change(
                booking, by_specialist=by_specialist, now=self.clock.now(), cutoff=self.cutoff
            )
            if booking.event_type_id is None:
                if slot_id is None:
                    raise NotBookable("this booking is of a one-off slot: choose another slot")
            else:
                if start_time is None:
                    raise NotBookable("choose one of the times offered")
                await self._refuse_unless_offered(session, booking, start_time)
        move = partial(self._move, booking_id, start_time, slot_id, by_specialist)
        try:
            moved, attempt = await self.db.write(move)
        except IntegrityError:
            # PostgreSQL's constraints decided a race: someone took that time first.
            raise SlotTaken("that time has just been booked") from None
        if attempt is not None:
            log.info("Booking %s rescheduled", booking_id)
            await self.mover.move(booking_id, claimed=attempt)
            async with self.db.reading() as session:
                moved = await session.get(Booking, booking_id) or moved
        return moved

    async def _refuse_unless_offered(
        self, session: AsyncSession, booking: Booking, start: datetime
    ) -> None:
        kind = await session.get(EventType, booking.event_type_id)
        if kind is None or kind.deleted_at is not None or not kind.active:
            raise NotBookable("this kind of consultation is no longer offered")
        specialist = await session.get(Specialist, booking.specialist_id)
        assert specialist is not None  # the foreign key guarantees it
        now = self.clock.now()
        if not await scheduling.offers(
            session, specialist, kind, start, now=now, ignore_booking_id=booking.id
        ):
            raise NotBookable("that time is not bookable: choose one of the times offered")

    def _move(
        self,
        booking_id: int,
        start_time: datetime | None,
        slot_id: int | None,
        by_specialist: bool,
        session: Session,
    ) -> tuple[Booking, MoveAttempt | None]:
        booking = session.scalar(
            select(Booking)
            .where(Booking.id == booking_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if booking is None:
            raise BookingNotFound(booking_id)
        now = self.clock.now()
        may_change(booking, by_specialist=by_specialist, now=now, cutoff=self.cutoff)
        if slot_id is not None and booking.event_type_id is None:
            new = _slot_time(session, booking, slot_id, now)
        elif start_time is not None and booking.event_type_id is not None:
            new = _kind_time(session, booking, start_time, now)
        else:
            raise NotBookable("choose one of the times offered")
        if (new.start, new.slot_id) == (booking.start_time, booking.slot_id):
            return booking, None  # already there: nothing to tell anyone
        hold_specialist(session, booking.specialist_id)
        refuse_overlap(session, booking.specialist_id, *new.busy, besides=booking.id)
        was = booking.start_time
        booking.start_time, booking.slot_id = new.start, new.slot_id
        booking.busy_start, booking.busy_end = new.busy
        session.flush()  # one confirmed booking per slot: the unique index decides here
        booking.calendar_sequence += 1
        plan_reminders(session, booking, now, self.reminder_offsets)
        self._tell(session, booking, was, by_specialist, now)
        return booking, claim_move(session, booking, now)

    def _tell(
        self, session: Session, booking: Booking, was: datetime, by_specialist: bool, now: datetime
    ) -> None:
        """Both parties get the new time in their zone, with the updated invitation."""
        specialist = session.get(Specialist, booking.specialist_id)
        assert specialist is not None  # the foreign key guarantees it
        manage = self.maker.manage_url(booking)
        ics, host_ics = invitations(
            booking, specialist, base_url=self.maker.notifier.base_url, now=now, customer_url=manage
        )
        by = "the specialist" if by_specialist else "the customer"
        for email in (
            emails.rescheduled(
                booking,
                specialist,
                booking.customer_email,
                ics,
                zone=emails.customer_zone(booking, specialist),
                by=by,
                was=was,
                manage_url=manage,
            ),
            emails.rescheduled(
                booking,
                specialist,
                specialist.email,
                host_ics,
                zone=specialist.timezone,
                by=by,
                was=was,
                manage_url=self.maker.notifier.link("/dashboard"),
            ),
        ):
            self.maker.notifier.queue_email(session, email)


def _slot_time(session: Session, booking: Booking, slot_id: int, now: datetime) -> NewTime:
    # FOR SHARE: the slot's deletion (FOR UPDATE) waits for this move, or this for it.
    slot = session.get(Slot, slot_id, with_for_update={"read": True})
    if slot is None or slot.deleted_at is not None or slot.specialist_id != booking.specialist_id:
        raise SlotNotFound(f"no slot {slot_id}")
    if slot.start_time <= now:
        raise SlotTaken("this slot has started already")
    end = slot.start_time + timedelta(minutes=slot.duration_minutes)
    if slot.duration_minutes != booking.duration_minutes:
        raise NotBookable("that slot is of another length than this booking")
    return NewTime(slot.start_time, (slot.start_time, end), slot.id)


def _kind_time(session: Session, booking: Booking, start: datetime, now: datetime) -> NewTime:
    # FOR SHARE: a change or deletion of the event type (FOR UPDATE) waits for this.
    kind = session.get(EventType, booking.event_type_id, with_for_update={"read": True})
    if kind is None or kind.deleted_at is not None or not kind.active:
        raise NotBookable("this kind of consultation is no longer offered")
    if start <= now:
        raise NotBookable("that time has passed")
    end = start + timedelta(minutes=booking.duration_minutes)
    busy = (
        start - timedelta(minutes=kind.buffer_before_minutes),
        end + timedelta(minutes=kind.buffer_after_minutes),
    )
    return NewTime(start, busy, None)
