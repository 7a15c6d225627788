"""A specialist's busy time: no two confirmed bookings share any of it (buffers included)."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.orm import Session

from specialistly.bookings.errors import SlotTaken
from specialistly.bookings.models import Booking, BookingStatus
from specialistly.db import connection_of
from specialistly.statements import Prepared

# The advisory-lock namespace of "booking a specialist" on PostgreSQL.
BOOKING_LOCKS = 7301


def hold_specialist(session: Session, specialist_id: int) -> None:
    """PostgreSQL: one booking or move of a specialist at a time, until the commit.

    Concurrent inserts checked by the exclusion constraint would otherwise wait on each
    other and deadlock. The constraint stays as the guarantee; this makes the loser a clean
    409. SQLite needs nothing: its writes run one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        _HOLD.first(connection_of(session), {"specialist": specialist_id})


def holding(query: Select[Any], specialist_id: ColumnElement[int]) -> Select[Any]:
    """`query` that also takes the lock of `hold_specialist` (PostgreSQL only), for the
    specialist its row names: one round trip for both. The lock is taken as the row is
    read, so a check after it (`refuse_overlap`, a statement of its own and so a newer
    snapshot) sees what the holder before committed."""
    return query.add_columns(func.pg_advisory_xact_lock(BOOKING_LOCKS, specialist_id))


_HOLD = Prepared(select(func.pg_advisory_xact_lock(BOOKING_LOCKS, bindparam("specialist"))))


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
    if session.new or session.dirty or session.deleted:
        session.flush()  # what an ORM query's autoflush would do: the check sees them
    params: dict[str, object] = {"specialist_id": specialist_id, "start": start, "end": end}
    if besides is not None:
        params["besides"] = besides
    query = _OVERLAP if besides is None else _OVERLAP_BESIDES
    if query.first(connection_of(session), params) is not None:
        raise SlotTaken("that time overlaps another booking")


# Prepared once (a booking's write runs this every time): Core, no ORM query to build.
_bookings = cast(Table, Booking.__table__)
_overlap = (
    select(_bookings.c.id)
    .where(
        _bookings.c.specialist_id == bindparam("specialist_id"),
        _bookings.c.status == BookingStatus.CONFIRMED,
        _bookings.c.busy_start < bindparam("end"),
        _bookings.c.busy_end > bindparam("start"),
    )
    .limit(1)
)
_OVERLAP_BESIDES = Prepared(_overlap.where(_bookings.c.id != bindparam("besides")))
# The same check as a column of another read (`specialist_id`, `start` and `end` to give).
OVERLAPS = _overlap.exists()
_OVERLAP = Prepared(_overlap)
