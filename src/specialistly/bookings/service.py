"""Booking rows: finding, claiming the meeting work, and scheduling retries.

Callers own the transaction; nothing here calls Zoom.
"""

import random
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.models import Booking, BookingStatus, MeetingStatus

CLAIM_FOR = timedelta(minutes=2)
LONGEST_BACKOFF = timedelta(hours=1)


async def locked(session: AsyncSession, booking_id: int) -> Booking | None:
    found: Booking | None = await session.scalar(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return found


async def claim_meeting(session: AsyncSession, booking_id: int, now: datetime) -> Booking | None:
    """Take the right to make this booking's meeting for a while; None when not ours to make."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.meeting_status == MeetingStatus.PENDING,
            or_(Booking.meeting_claimed_until.is_(None), Booking.meeting_claimed_until < now),
        )
        .values(
            meeting_claimed_until=now + CLAIM_FOR, meeting_attempts=Booking.meeting_attempts + 1
        )
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return await locked(session, booking_id)


def backoff(attempts: int, now: datetime, retry_after: float | None) -> datetime:
    """When to try again: exponential with jitter, or Zoom's Retry-After when it said."""
    if retry_after is not None:
        return now + timedelta(seconds=retry_after)
    base = min(LONGEST_BACKOFF.total_seconds(), 5 * 2 ** min(attempts, 12))
    return now + timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311 - jitter


async def due_for_meetings(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    rows = await session.scalars(
        select(Booking.id)
        .where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.meeting_status == MeetingStatus.PENDING,
            or_(Booking.meeting_next_attempt_at.is_(None), Booking.meeting_next_attempt_at <= now),
            or_(Booking.meeting_claimed_until.is_(None), Booking.meeting_claimed_until < now),
        )
        .order_by(Booking.start_time)
        .limit(limit)
    )
    return list(rows)


async def due_for_deletion(session: AsyncSession, limit: int) -> list[int]:
    rows = await session.scalars(
        select(Booking.id).where(Booking.meeting_delete_pending.is_(True)).limit(limit)
    )
    return list(rows)


async def wake_pending(session: AsyncSession, specialist_id: int, now: datetime) -> int:
    """Make a specialist's pending meetings, and moves of rescheduled ones, due now (they
    reconnected Zoom)."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.specialist_id == specialist_id,
            Booking.status == BookingStatus.CONFIRMED,
            or_(
                Booking.meeting_status == MeetingStatus.PENDING,
                and_(
                    Booking.meeting_status == MeetingStatus.CREATED,
                    Booking.meeting_next_attempt_at.is_not(None),
                ),
            ),
        )
        .values(meeting_next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def of_specialist(
    session: AsyncSession, specialist_id: int, limit: int = 500
) -> list[Booking]:
    rows = await session.scalars(
        select(Booking)
        .where(Booking.specialist_id == specialist_id)
        .order_by(Booking.start_time.desc())
        .limit(limit)
    )
    return list(rows)


LONGEST_MEETING = timedelta(hours=8)


async def needs_host(
    session: AsyncSession, specialist_id: int, zoom_user_id: str, now: datetime
) -> bool:
    """Whether a meeting hosted by this Zoom user still needs its grant: one not yet ended
    of a confirmed booking, or one whose deletion is not finished."""
    rows = await session.execute(
        select(Booking.start_time, Booking.duration_minutes, Booking.meeting_delete_pending)
        .where(
            Booking.specialist_id == specialist_id,
            Booking.meeting_host_zoom_user_id == zoom_user_id,
            or_(
                Booking.meeting_delete_pending.is_(True),
                and_(
                    Booking.status == BookingStatus.CONFIRMED,
                    Booking.start_time > now - LONGEST_MEETING,
                ),
            ),
        )
        .limit(500)
    )
    return any(
        pending or start + timedelta(minutes=minutes) > now
        for start, minutes, pending in rows.all()
    )
