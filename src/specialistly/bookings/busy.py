"""A specialist's busy time: no two confirmed bookings share any of it (buffers included)."""

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from specialistly.bookings.errors import SlotTaken
from specialistly.bookings.models import Booking, BookingStatus

# The advisory-lock namespace of "booking a specialist" on PostgreSQL.
BOOKING_LOCKS = 7301


def hold_specialist(session: Session, specialist_id: int) -> None:
    """PostgreSQL: one booking or move of a specialist at a time, until the commit.

    Concurrent inserts checked by the exclusion constraint would otherwise wait on each
    other and deadlock. The constraint stays as the guarantee; this makes the loser a clean
    409. SQLite needs nothing: its writes run one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :specialist)"),
            {"space": BOOKING_LOCKS, "specialist": specialist_id},
        )


def refuse_overlap(
    session: Session,
    specialist_id: int,
    start: datetime,
    end: datetime,
    *,
    besides: int | None = None,
) -> None:
    """Raise `SlotTaken` when a confirmed booking (other than `besides`) shares the time.

    SQLite: this runs under its one writer, so nothing can slip in between. PostgreSQL: the
    exclusion constraint of migration 0013 decides between concurrent transactions.
    """
    query = select(Booking.id).where(
        Booking.specialist_id == specialist_id,
        Booking.status == BookingStatus.CONFIRMED,
        Booking.busy_start < end,
        Booking.busy_end > start,
    )
    if besides is not None:
        query = query.where(Booking.id != besides)
    if session.scalar(query.limit(1)) is not None:
        raise SlotTaken("that time overlaps another booking")
