"""Booking a slot and cancelling: the booking commits first, Zoom is called after."""

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from specialistly.bookings import emails, service
from specialistly.bookings.busy import hold_specialist, holding
from specialistly.bookings.errors import (
    BookingCancelled,
    BookingNotFound,
    IdempotencyKeyReused,
    NotBookable,
    SlotNotFound,
    SlotOfAnotherSpecialist,
    SlotTaken,
    TooLateToChange,
)
from specialistly.bookings.invites import invitations
from specialistly.bookings.meetings import MeetingAttempt, MeetingMaker
from specialistly.bookings.models import (
    Booking,
    BookingStatus,
    IdempotencyKey,
    MeetingStatus,
)
from specialistly.bookings.reminders import cancel_reminders, insert_reminders
from specialistly.bookings.rescheduling import Rescheduler, may_change
from specialistly.clock import Clock
from specialistly.db import Database, connection_of
from specialistly.notifications.service import Notifier
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.models import EventType
from specialistly.scheduling.service import EventTypeNotFound
from specialistly.security import TokenCipher
from specialistly.specialists.models import Slot, Specialist
from specialistly.statements import Prepared

# What booking can refuse is importable from here too, with `Bookings` and `Customer`.
__all__ = [
    "BookingCancelled",
    "BookingNotFound",
    "Bookings",
    "Customer",
    "IdempotencyKeyReused",
    "NotBookable",
    "SlotNotFound",
    "SlotOfAnotherSpecialist",
    "SlotTaken",
    "TooLateToChange",
]
log = logging.getLogger(__name__)
# How many tries a booking request makes for its meeting before the job takes over.
IN_REQUEST_ROUNDS = 3
REQUEST_OWNS_MEETING_FOR = timedelta(seconds=60)


_bookings = cast(Table, Booking.__table__)
_keys = cast(Table, IdempotencyKey.__table__)
_slots = cast(Table, Slot.__table__)
_event_types = cast(Table, EventType.__table__)
# Prepared once (their compiled forms are cached by SQLAlchemy): the booking's own write.
# FOR SHARE (PostgreSQL): a deletion or change (FOR UPDATE) waits for the booking to commit.
_slot = (
    select(
        _slots.c.specialist_id,
        _slots.c.start_time,
        _slots.c.duration_minutes,
        _slots.c.deleted_at,
    )
    .where(_slots.c.id == bindparam("id"))
    .with_for_update(read=True)
)
_event_type = (
    select(
        _event_types.c.specialist_id,
        _event_types.c.duration_minutes,
        _event_types.c.buffer_before_minutes,
        _event_types.c.buffer_after_minutes,
        _event_types.c.active,
        _event_types.c.deleted_at,
    )
    .where(_event_types.c.id == bindparam("id"))
    .with_for_update(read=True)
)
# PostgreSQL: the same row, and the specialist's booking lock with it.
_SLOT, _SLOT_HOLDING = Prepared(_slot), Prepared(holding(_slot, _slots.c.specialist_id))
_EVENT_TYPE = Prepared(_event_type)
_EVENT_TYPE_HOLDING = Prepared(holding(_event_type, _event_types.c.specialist_id))
_BOOKING_INSERT, _KEY_INSERT = Prepared(_bookings.insert()), Prepared(_keys.insert())


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    # The customer's IANA zone, in which they read every time; None: the specialist's.
    timezone: str | None = None


class Bookings:
    """Book, read and cancel; meetings are made by `MeetingMaker` after each commit."""

    def __init__(
        self,
        *,
        db: Database,
        maker: MeetingMaker,
        cipher: TokenCipher,
        clock: Clock,
        notifier: Notifier,
        reminder_offsets: tuple[int, ...] = (),
        rescheduler: Rescheduler | None = None,
        change_cutoff: timedelta = timedelta(0),
    ) -> None:
        self.reminder_offsets = reminder_offsets
        self.rescheduler, self.change_cutoff = rescheduler, change_cutoff
        self.db, self.maker, self.cipher, self.clock, self.notifier = (
            db,
            maker,
            cipher,
            clock,
            notifier,
        )

    async def book(
        self,
        slot_id: int,
        customer: Customer,
        idempotency_key: str | None,
        *,
        specialist_id: int | None = None,
    ) -> tuple[Booking, bool]:
        """Confirm the booking, then try for its meeting; answer it and whether it is new.

        With `specialist_id`, a slot of anyone else is refused before anything is booked.
        """
        digest = _request_digest(slot_id, customer)
        insert = partial(self._insert, slot_id, customer, idempotency_key, digest, specialist_id)
        return await self._confirm(insert, idempotency_key, digest)

    async def book_time(
        self,
        event_type_id: int,
        start_time: datetime,
        customer: Customer,
        idempotency_key: str | None,
    ) -> tuple[Booking, bool]:
        """Book an event type at a start it offers (GET …/times), else `NotBookable`."""
        start_time = start_time.astimezone(UTC)
        digest = _request_digest(f"{event_type_id}@{start_time.isoformat()}", customer)
        async with self.db.reading() as session:
            if idempotency_key and (
                replay := await session.run_sync(_replayed, idempotency_key, digest)
            ):
                return replay, False
            kind = await session.get(EventType, event_type_id)
            if kind is None or kind.deleted_at is not None or not kind.active:
                raise EventTypeNotFound(event_type_id)
            specialist = await session.get(Specialist, kind.specialist_id)
            assert specialist is not None  # the foreign key guarantees it
            offered = await scheduling.offers(
                session, specialist, kind, start_time, now=self.clock.now()
            )
        if not offered:
            raise NotBookable("that time is not bookable: choose one of the times offered")
        insert = partial(self._insert_at, kind, start_time, customer, idempotency_key, digest)
        return await self._confirm(insert, idempotency_key, digest)

    async def _confirm(
        self,
        insert: "Callable[[Session], tuple[Booking | int, MeetingAttempt | None]]",
        idempotency_key: str | None,
        digest: str,
    ) -> tuple[Booking, bool]:
        try:
            booking, claimed = await self.db.write(insert)
        except IntegrityError:
            # Lost a race (PostgreSQL's constraints decide): for the same Idempotency-Key the
            # winner's booking is ours too.
            replay = await self._replay(idempotency_key, digest) if idempotency_key else None
            if replay is None:
                raise SlotTaken("this time has just been booked") from None
            return replay, False
        if claimed is None:
            assert isinstance(booking, Booking)
            return booking, False  # a replay of the same request
        booking_id = claimed.id
        made = await self.maker.ensure(booking_id, rounds=IN_REQUEST_ROUNDS, claimed=claimed)
        if made is not None:
            return made, True  # logged once, as "Meeting created for booking …"
        log.info("Booking %s confirmed; its meeting is not made yet", booking_id)
        return await self.get(booking_id), True

    def _insert(
        self,
        slot_id: int,
        customer: Customer,
        key: str | None,
        digest: str,
        specialist_id: int | None,
        session: Session,
    ) -> "tuple[Booking | int, MeetingAttempt | None]":
        if key and (replay := _replayed(session, key, digest)) is not None:
            return replay, None
        # FOR SHARE: a deletion (FOR UPDATE on the slot) waits for this booking to commit
        # and then sees it, or this waits for the deletion and sees the slot deleted.
        # Bookings of one slot do not block each other here; the unique index decides.
        # Core statements, not ORM objects, on this hot path (the writer's time is the limit).
        conn = connection_of(session)
        held = _on_postgresql(conn)
        slot = (_SLOT_HOLDING if held else _SLOT).first(conn, {"id": slot_id})
        if slot is None or slot.deleted_at is not None:
            raise SlotNotFound(f"no slot {slot_id}")
        if specialist_id is not None and slot.specialist_id != specialist_id:
            raise SlotOfAnotherSpecialist(f"slot {slot_id} is not this specialist's")
        now = self.clock.now()
        if slot.start_time <= now:
            raise SlotTaken("this slot has started already")
        end = slot.start_time + timedelta(minutes=slot.duration_minutes)
        booking = self._new(
            session,
            customer,
            specialist_id=slot.specialist_id,
            start=slot.start_time,
            minutes=slot.duration_minutes,
            busy=(slot.start_time, end),
            held=held,
            slot_id=slot_id,
        )
        return self._add(session, booking, customer, key, digest)

    def _insert_at(
        self,
        kind: EventType,
        start: datetime,
        customer: Customer,
        key: str | None,
        digest: str,
        session: Session,
    ) -> "tuple[Booking | int, MeetingAttempt | None]":
        if key and (replay := _replayed(session, key, digest)) is not None:
            return replay, None
        # FOR SHARE: a change or deletion of the event type (FOR UPDATE) waits for this.
        conn = connection_of(session)
        held = _on_postgresql(conn)
        current = (_EVENT_TYPE_HOLDING if held else _EVENT_TYPE).first(conn, {"id": kind.id})
        if current is None or current.deleted_at is not None or not current.active:
            raise EventTypeNotFound(kind.id)
        end = start + timedelta(minutes=current.duration_minutes)
        busy = (
            start - timedelta(minutes=current.buffer_before_minutes),
            end + timedelta(minutes=current.buffer_after_minutes),
        )
        booking = self._new(
            session,
            customer,
            specialist_id=current.specialist_id,
            start=start,
            minutes=current.duration_minutes,
            busy=busy,
            held=held,
            event_type_id=kind.id,
        )
        return self._add(session, booking, customer, key, digest)

    def _new(
        self,
        session: Session,
        customer: Customer,
        *,
        specialist_id: int,
        start: datetime,
        minutes: int,
        busy: tuple[datetime, datetime],
        held: bool,
        slot_id: int | None = None,
        event_type_id: int | None = None,
    ) -> dict[str, Any]:
        """A confirmed booking's row, with the specialist's booking lock held (`held`: taken
        already). `_add` fills in the customer's zone and refuses an overlap with another
        booking, in the one read of the specialist that claims the booking's meeting."""
        if not held:
            hold_specialist(session, specialist_id)
        now = self.clock.now()
        return {
            "slot_id": slot_id,
            "event_type_id": event_type_id,
            "specialist_id": specialist_id,
            "status": BookingStatus.CONFIRMED,
            "reference": new_reference(),
            "customer_name": customer.name,
            "customer_email": customer.email,
            "manage_token": self.cipher.encrypt(secrets.token_urlsafe(24), remember=True),
            "start_time": start,
            "duration_minutes": minutes,
            "customer_timezone": customer.timezone,
            "busy_start": busy[0],
            "busy_end": busy[1],
            "created_at": now,
            "meeting_status": MeetingStatus.PENDING,
            # The request makes this meeting itself; the job takes over only if it cannot
            # (a job in another process must not claim it first and leave the customer's
            # answer without its link).
            "meeting_next_attempt_at": now + REQUEST_OWNS_MEETING_FOR,
            "meeting_attempts": 0,
            "meeting_outcome_unknown": False,
            "meeting_delete_pending": False,
            "calendar_sequence": 0,
        }

    def _add(
        self,
        session: Session,
        booking: dict[str, Any],
        customer: Customer,
        key: str | None,
        digest: str,
    ) -> "tuple[Booking | int, MeetingAttempt | None]":
        """Insert the booking claimed for this request, its reminders and its key.

        Answers the new booking's id (the request reads it back with its meeting).
        """
        now = self.clock.now()
        conn = connection_of(session)
        claimed = self.maker.claim_new(session, booking)
        # The customer reads times in the specialist's zone unless they chose one.
        booking["customer_timezone"] = customer.timezone or claimed.timezone
        booking_id = _BOOKING_INSERT.insert(conn, booking)
        claimed.id = booking_id
        insert_reminders(session, booking_id, booking["start_time"], now, self.reminder_offsets)
        if key:
            _KEY_INSERT.execute(
                conn,
                {"key": key, "request_digest": digest, "booking_id": booking_id, "created_at": now},
            )
        return booking_id, claimed

    async def _replay(self, key: str, digest: str) -> Booking | None:
        async with self.db.reading() as session:
            return await session.run_sync(_replayed, key, digest)

    async def get(self, booking_id: int) -> Booking:
        async with self.db.reading() as session:
            booking = await session.get(Booking, booking_id)
        if booking is None:
            raise BookingNotFound(booking_id)
        return booking

    async def for_customer(self, booking_id: int, token: str) -> Booking:
        """The booking, if `token` is its manage token (else as if it did not exist)."""
        booking = await self.get(booking_id)
        expected = self.cipher.decrypt(booking.manage_token, remember=True).encode()
        if not hmac.compare_digest(expected, token.encode("utf-8", "replace")):
            raise BookingNotFound(booking_id)
        return booking

    def manage_token(self, booking: Booking) -> str:
        return self.cipher.decrypt(booking.manage_token, remember=True)

    def start_url(self, booking: Booking) -> str | None:
        return self.cipher.decrypt(booking.start_url) if booking.start_url else None

    async def reschedule(
        self,
        booking_id: int,
        *,
        start_time: datetime | None = None,
        slot_id: int | None = None,
        by_specialist: bool = False,
    ) -> Booking:
        """Move the booking to another bookable time, then its Zoom meeting (`Rescheduler`)."""
        if self.rescheduler is None:
            raise NotBookable("rescheduling is not available here")
        return await self.rescheduler.reschedule(
            booking_id,
            start_time=start_time.astimezone(UTC) if start_time else None,
            slot_id=slot_id,
            by_specialist=by_specialist,
        )

    async def cancel(
        self, booking_id: int, *, reason: str | None = None, by_specialist: bool = False
    ) -> Booking:
        """Cancel, free the slot, tell both sides (with the reason); then delete the meeting.

        The customer can cancel until `change_cutoff` before the start (`TooLateToChange`).
        """
        async with self.db.transaction() as session:
            booking = await service.locked(session, booking_id)
            if booking is None:
                raise BookingNotFound(booking_id)
            if booking.status == BookingStatus.CANCELLED:
                return booking
            may_change(
                booking,
                by_specialist=by_specialist,
                now=self.clock.now(),
                cutoff=self.change_cutoff,
            )
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = self.clock.now()
            booking.cancel_reason = reason or None
            # A created meeting, or a create whose answer never came, must not outlive it.
            booking.meeting_delete_pending = booking.meeting_status == MeetingStatus.CREATED or (
                booking.meeting_outcome_unknown
            )
            await cancel_reminders(session, booking.id)
            booking.calendar_sequence += 1
            specialist = await session.get(Specialist, booking.specialist_id)
            if specialist is not None:
                ics, host_ics = invitations(
                    booking, specialist, base_url=self.notifier.base_url, now=self.clock.now()
                )
                by = "the specialist" if by_specialist else "the customer"
                for to, invite, zone in (
                    (booking.customer_email, ics, booking.customer_timezone),
                    (specialist.email, host_ics, specialist.timezone),
                ):
                    self.notifier.queue_email(
                        session,
                        emails.cancellation(booking, specialist, to, invite, zone=zone, by=by),
                    )
        log.info("Booking %s cancelled", booking_id)
        await self.maker.delete_if_pending(booking_id)
        cancelled = await self.get(booking_id)
        if not cancelled.meeting_delete_pending:
            await self.maker.release_retired(cancelled.specialist_id)
        return cancelled


def _replayed(session: Session, key: str, digest: str) -> Booking | None:
    """The booking an earlier request with this Idempotency-Key made, if the body matches."""
    stored = session.get(IdempotencyKey, key)
    if stored is None:
        return None
    if not hmac.compare_digest(stored.request_digest, digest):
        raise IdempotencyKeyReused("this Idempotency-Key was used for another request")
    return session.get(Booking, stored.booking_id)


def new_reference() -> str:
    return "SPL-" + secrets.token_hex(5).upper()


def _request_digest(what: int | str, customer: Customer) -> str:
    raw = json.dumps([what, customer.name, customer.email.lower(), customer.timezone])
    return hashlib.sha256(raw.encode()).hexdigest()


def _on_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"
