"""Reminders before a booking: one row per offset, each sent exactly once across processes.

The booking flows own the rows' lifetime (`schedule_reminders` when a booking is made or moved,
`cancel_reminders` when it is cancelled), inside their own transaction. The `reminders` job
sends what is due: it marks a row sent with a conditional UPDATE and queues both emails in the
same transaction, so whichever process wins that UPDATE sends, and nobody else ever does.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Table,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from specialistly.bookings.emails import customer_zone, when
from specialistly.bookings.models import Booking, BookingStatus, MeetingProvider
from specialistly.clock import Clock
from specialistly.db import Base, Database, UTCDateTime, connection_of
from specialistly.notifications.service import Email, Notifier
from specialistly.security import TokenCipher
from specialistly.specialists.models import Specialist
from specialistly.statements import Prepared

log = logging.getLogger(__name__)


class BookingReminder(Base):
    """A reminder `offset_minutes` before a booking's start; `sent_at` once it went (or skipped)."""

    __tablename__ = "booking_reminders"
    __table_args__ = (
        UniqueConstraint("booking_id", "offset_minutes", name="uq_booking_reminders_offset"),
        Index("ix_booking_reminders_due", "sent_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    offset_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Done without an email: the booking was cancelled or had started when it came due.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


_REMINDERS_INSERT = Prepared(cast(Table, BookingReminder.__table__).insert())


async def schedule_reminders(
    session: AsyncSession, booking: Booking, now: datetime, offsets: Iterable[int]
) -> list[int]:
    """`plan_reminders` in an async transaction."""
    return await session.run_sync(plan_reminders, booking, now, tuple(offsets))


def plan_reminders(
    session: Session,
    booking: Booking,
    now: datetime,
    offsets: Iterable[int],
    *,
    fresh: bool = False,
) -> list[int]:
    """(Re)plan the booking's reminders for its current start; answer the offsets planned.

    Call it in the transaction that books or moves the booking. An offset whose moment has
    passed gets no reminder; a reminder sent for an earlier start time is planned again for
    the new one, while one that can no longer come is left as it is.
    """
    planned = [
        minutes
        for minutes in sorted(set(offsets), reverse=True)
        if booking.start_time - timedelta(minutes=minutes) > now
    ]
    if not fresh:  # a booking just made has no reminders to replace
        session.execute(
            delete(BookingReminder).where(
                BookingReminder.booking_id == booking.id,
                (BookingReminder.sent_at.is_(None)) | (BookingReminder.offset_minutes.in_(planned)),
            )
        )
    _insert(session, booking.id, booking.start_time, planned)
    return planned


def insert_reminders(
    session: Session, booking_id: int, start_time: datetime, now: datetime, offsets: Iterable[int]
) -> list[int]:
    """Plan the reminders of a booking just inserted (it has none to replace)."""
    planned = [
        minutes
        for minutes in sorted(set(offsets), reverse=True)
        if start_time - timedelta(minutes=minutes) > now
    ]
    _insert(session, booking_id, start_time, planned)
    return planned


def _insert(session: Session, booking_id: int, start_time: datetime, planned: list[int]) -> None:
    if not planned:
        return
    # One Core executemany rather than ORM objects: this runs in every booking's write.
    _REMINDERS_INSERT.execute(
        connection_of(session),
        [
            {
                "booking_id": booking_id,
                "offset_minutes": minutes,
                "due_at": start_time - timedelta(minutes=minutes),
                "sent_at": None,
                "skipped": False,
            }
            for minutes in planned
        ],
    )


async def cancel_reminders(session: AsyncSession, booking_id: int) -> None:
    """Drop the booking's unsent reminders; call it in the transaction that cancels it."""
    await session.execute(
        delete(BookingReminder).where(
            BookingReminder.booking_id == booking_id, BookingReminder.sent_at.is_(None)
        )
    )


@dataclass
class RemindersRun:
    sent: int = 0
    skipped: int = 0


class Reminders:
    """Send the reminders that are due: both parties, with the booking as it is now."""

    def __init__(
        self, *, db: Database, notifier: Notifier, clock: Clock, cipher: TokenCipher
    ) -> None:
        self.db, self.notifier, self.clock, self.cipher = db, notifier, clock, cipher

    async def run(self, *, limit: int = 200) -> RemindersRun:
        async with self.db.reading() as session:
            due = list(
                await session.scalars(
                    select(BookingReminder.id)
                    .where(
                        BookingReminder.sent_at.is_(None),
                        BookingReminder.due_at <= self.clock.now(),
                    )
                    .order_by(BookingReminder.due_at, BookingReminder.id)
                    .limit(limit)
                )
            )
        run = RemindersRun()
        for reminder_id in due:
            outcome = await self.send_one(reminder_id)
            if outcome == "sent":
                run.sent += 1
            elif outcome == "skipped":
                run.skipped += 1
        if run.sent or run.skipped:
            log.info("Reminders job: %d sent, %d skipped", run.sent, run.skipped)
        return run

    async def send_one(self, reminder_id: int) -> str | None:
        """Claim one reminder and queue its emails, all in one transaction; None if not ours."""
        async with self.db.transaction() as session:
            now = self.clock.now()
            # The claim: of all processes, only one sees this UPDATE change a row (on
            # PostgreSQL the others wait for its commit, then find sent_at set).
            claimed = await session.execute(
                update(BookingReminder)
                .where(
                    BookingReminder.id == reminder_id,
                    BookingReminder.sent_at.is_(None),
                    BookingReminder.due_at <= now,
                )
                .values(sent_at=now)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            reminder = await session.get(BookingReminder, reminder_id)
            booking = await session.get(Booking, reminder.booking_id) if reminder else None
            if reminder is None or booking is None:
                return None
            due = booking.start_time - timedelta(minutes=reminder.offset_minutes)
            if booking.status != BookingStatus.CONFIRMED or booking.start_time <= now:
                reminder.skipped = True
                return "skipped"
            if due > now:
                # The booking moved later without its reminders being planned again: wait.
                reminder.sent_at, reminder.due_at = None, due
                return None
            specialist = await session.get(Specialist, booking.specialist_id)
            if specialist is None:
                reminder.skipped = True
                return "skipped"
            manage = self.notifier.link(
                f"/bookings/{booking.id}?token={self.cipher.decrypt(booking.manage_token)}"
            )
            start_url = self.cipher.decrypt(booking.start_url) if booking.start_url else None
            self.notifier.queue_email(session, customer_reminder(booking, specialist, manage))
            self.notifier.queue_email(session, specialist_reminder(booking, specialist, start_url))
            return "sent"


def _join(booking: Booking) -> str:
    if not booking.join_url:
        return "Your Zoom link will follow by email as soon as the meeting is created."
    note = ""
    if booking.meeting_provider == MeetingProvider.PLATFORM_ZOOM:
        note = "\nThis meeting is hosted on Specialistly's own Zoom account."
    return f"Join on Zoom: {booking.join_url}{note}"


def customer_reminder(booking: Booking, specialist: Specialist, manage_url: str) -> Email:
    body = (
        f"Hello {booking.customer_name},\n\nA reminder: your consultation with {specialist.name} "
        f"is on {when(booking, customer_zone(booking, specialist))}.\n\n{_join(booking)}\n\n"
        f"Reschedule or cancel: {manage_url}\nReference: {booking.reference}\n"
    )
    return Email(booking.customer_email, f"Reminder: {specialist.name}", body, "booking_reminder")


def specialist_reminder(booking: Booking, specialist: Specialist, start_url: str | None) -> Email:
    start = f"Start it as host: {start_url}" if start_url else "The Zoom meeting is not ready yet."
    body = (
        f"Hello {specialist.name},\n\nA reminder: {booking.customer_name} "
        f"<{booking.customer_email}> is booked for {when(booking, specialist.timezone)}.\n\n"
        f"{start}\nReference: {booking.reference}\n"
    )
    return Email(
        specialist.email, f"Reminder: {booking.customer_name}", body, "booking_reminder_host"
    )
