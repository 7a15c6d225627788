"""Booking a slot and cancelling: the booking commits first, Zoom is called after."""

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from specialistly.bookings import emails, service
from specialistly.bookings.invites import invitations
from specialistly.bookings.meetings import MeetingAttempt, MeetingMaker
from specialistly.bookings.models import (
    Booking,
    BookingStatus,
    IdempotencyKey,
    MeetingStatus,
)
from specialistly.bookings.reminders import cancel_reminders, plan_reminders
from specialistly.clock import Clock
from specialistly.db import Database
from specialistly.notifications.service import Notifier
from specialistly.security import TokenCipher
from specialistly.specialists.models import Slot, Specialist

log = logging.getLogger(__name__)
# How many tries a booking request makes for its meeting before the job takes over.
IN_REQUEST_ROUNDS = 3
REQUEST_OWNS_MEETING_FOR = timedelta(seconds=60)


class SlotNotFound(Exception):
    """No such slot, or it was deleted."""


class SlotOfAnotherSpecialist(SlotNotFound):
    """The slot exists but belongs to another specialist than the one booked with."""


class SlotTaken(Exception):
    """The slot is booked already, or it has started."""


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request."""


class BookingNotFound(Exception):
    """No such booking for this caller (a wrong token looks the same as none)."""


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
    ) -> None:
        self.reminder_offsets = reminder_offsets
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
        try:
            booking, claimed = await self._commit_booking(
                slot_id, customer, idempotency_key, digest, specialist_id
            )
        except IntegrityError:
            # Lost a race: for the same Idempotency-Key the winner's booking is ours too.
            replay = await self._replay(idempotency_key, digest) if idempotency_key else None
            if replay is None:
                raise SlotTaken("this slot has just been booked") from None
            return replay, False
        if claimed is None:
            return booking, False  # a replay of the same request
        made = await self.maker.ensure(booking.id, rounds=IN_REQUEST_ROUNDS, claimed=claimed)
        return made or await self.get(booking.id), True

    async def _commit_booking(
        self,
        slot_id: int,
        customer: Customer,
        key: str | None,
        digest: str,
        specialist_id: int | None,
    ) -> "tuple[Booking, MeetingAttempt | None]":
        """Insert the booking, claimed for this request's meeting (None: a replay)."""
        booking, claimed = await self.db.write(
            partial(self._insert, slot_id, customer, key, digest, specialist_id)
        )
        if claimed is not None:
            log.info("Booking %s confirmed for slot %s", booking.id, slot_id)
        return booking, claimed

    def _insert(
        self,
        slot_id: int,
        customer: Customer,
        key: str | None,
        digest: str,
        specialist_id: int | None,
        session: Session,
    ) -> "tuple[Booking, MeetingAttempt | None]":
        if key and (replay := _replayed(session, key, digest)) is not None:
            return replay, None
        # FOR SHARE: a deletion (FOR UPDATE on the slot) waits for this booking to commit
        # and then sees it, or this waits for the deletion and sees the slot deleted.
        # Bookings of one slot do not block each other here; the unique index decides.
        slot = session.get(Slot, slot_id, with_for_update={"read": True})
        if slot is None or slot.deleted_at is not None:
            raise SlotNotFound(f"no slot {slot_id}")
        if specialist_id is not None and slot.specialist_id != specialist_id:
            raise SlotOfAnotherSpecialist(f"slot {slot_id} is not this specialist's")
        now = self.clock.now()
        if slot.start_time <= now:
            raise SlotTaken("this slot has started already")
        booking = Booking(
            slot_id=slot.id,
            specialist_id=slot.specialist_id,
            status=BookingStatus.CONFIRMED,
            reference="SPL-" + secrets.token_hex(5).upper(),
            customer_name=customer.name,
            customer_email=customer.email,
            manage_token=self.cipher.encrypt(secrets.token_urlsafe(24)),
            start_time=slot.start_time,
            duration_minutes=slot.duration_minutes,
            customer_timezone=customer.timezone or _zone_of(session, slot.specialist_id),
            created_at=now,
            meeting_status=MeetingStatus.PENDING,
            # The request makes this meeting itself; the job takes over only if it cannot
            # (a job in another process must not claim it first and leave the customer's
            # answer without its link).
            meeting_next_attempt_at=now + REQUEST_OWNS_MEETING_FOR,
            meeting_attempts=0,
            meeting_outcome_unknown=False,
            meeting_delete_pending=False,
        )
        claimed = self.maker.claim_new(session, booking)
        session.add(booking)
        session.flush()
        claimed.id = booking.id
        plan_reminders(session, booking, now, self.reminder_offsets, fresh=True)
        if key:
            session.add(
                IdempotencyKey(
                    key=key, request_digest=digest, booking_id=booking.id, created_at=now
                )
            )
            session.flush()
        return booking, claimed

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
        expected = self.cipher.decrypt(booking.manage_token).encode()
        if not hmac.compare_digest(expected, token.encode("utf-8", "replace")):
            raise BookingNotFound(booking_id)
        return booking

    def manage_token(self, booking: Booking) -> str:
        return self.cipher.decrypt(booking.manage_token)

    def start_url(self, booking: Booking) -> str | None:
        return self.cipher.decrypt(booking.start_url) if booking.start_url else None

    async def cancel(
        self, booking_id: int, *, reason: str | None = None, by_specialist: bool = False
    ) -> Booking:
        """Cancel, free the slot, tell both sides (with the reason); then delete the meeting."""
        async with self.db.transaction() as session:
            booking = await service.locked(session, booking_id)
            if booking is None:
                raise BookingNotFound(booking_id)
            if booking.status == BookingStatus.CANCELLED:
                return booking
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


def _zone_of(session: Session, specialist_id: int) -> str | None:
    specialist = session.get(Specialist, specialist_id)
    return specialist.timezone if specialist else None


def _request_digest(slot_id: int, customer: Customer) -> str:
    raw = json.dumps([slot_id, customer.name, customer.email.lower(), customer.timezone])
    return hashlib.sha256(raw.encode()).hexdigest()
