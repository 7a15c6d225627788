"""Moving a rescheduled booking's Zoom meeting: the same meeting, PATCHed to the new time.

The booking keeps the start its meeting has at Zoom (`meeting_start_time`); while that
differs from the booking's start, a move is due. A PATCH with the same body leaves the
meeting as once, so a lost answer is simply tried again; a claim keeps two movers of one
booking from crossing (an older start landing after a newer one).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from specialistly import observability as metrics
from specialistly.bookings import service
from specialistly.bookings.meetings import NOT_CONNECTED_RECHECK, MeetingMaker
from specialistly.bookings.models import Booking, BookingStatus, MeetingProvider, MeetingStatus
from specialistly.clock import Clock
from specialistly.connections.errors import ZoomNotConnected, ZoomReauthorizationRequired
from specialistly.connections.flows import ZoomAccess
from specialistly.db import Database
from specialistly.specialists.models import Specialist
from specialistly.zoom.errors import ZoomApiError, ZoomError, ZoomNotFound, ZoomUnavailable

log = logging.getLogger(__name__)
# Zoom refusing the change itself (a missing scope, say) is retried this rarely.
REFUSED_RECHECK = timedelta(hours=6)


@dataclass(frozen=True)
class MoveAttempt:
    """What moving a booking's meeting needs, read once under the claim."""

    booking_id: int
    specialist_id: int
    reference: str
    provider: MeetingProvider
    meeting_id: int
    host: str | None
    start_time: datetime
    duration_minutes: int
    timezone: str
    attempts: int

    def changes(self) -> dict[str, Any]:
        """The PATCH body: the new start in UTC with the host's zone, as the create sent it."""
        return {
            "start_time": self.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": self.duration_minutes,
            "timezone": self.timezone,
        }


def needs_move(booking: Booking) -> bool:
    return (
        booking.status == BookingStatus.CONFIRMED
        and booking.meeting_status == MeetingStatus.CREATED
        and booking.zoom_meeting_id is not None
        and booking.meeting_start_time != booking.start_time
    )


def claim_move(session: Session, booking: Booking, now: datetime) -> MoveAttempt | None:
    """In the transaction that moved the booking (its row locked): due now, and ours to do."""
    if not needs_move(booking):
        return None
    booking.meeting_next_attempt_at = now
    booking.meeting_claimed_until = now + service.CLAIM_FOR
    booking.meeting_attempts = 1
    specialist = session.get(Specialist, booking.specialist_id)
    return _attempt(booking, specialist)


def _attempt(booking: Booking, specialist: Specialist | None) -> MoveAttempt | None:
    if booking.zoom_meeting_id is None or booking.meeting_provider is None:
        return None
    return MoveAttempt(
        booking_id=booking.id,
        specialist_id=booking.specialist_id,
        reference=booking.reference,
        provider=booking.meeting_provider,
        meeting_id=booking.zoom_meeting_id,
        host=booking.meeting_host_zoom_user_id,
        start_time=booking.start_time,
        duration_minutes=booking.duration_minutes,
        timezone=specialist.timezone if specialist else "UTC",
        attempts=booking.meeting_attempts,
    )


async def due_for_moves(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    rows = await session.scalars(
        select(Booking.id)
        .where(
            Booking.status == BookingStatus.CONFIRMED,
            Booking.meeting_status == MeetingStatus.CREATED,
            Booking.meeting_next_attempt_at <= now,
            or_(Booking.meeting_claimed_until.is_(None), Booking.meeting_claimed_until < now),
        )
        .order_by(Booking.start_time)
        .limit(limit)
    )
    return list(rows)


class MeetingMover:
    """Move bookings' meetings to their new times, on the account that hosts each."""

    def __init__(self, *, db: Database, maker: MeetingMaker, clock: Clock) -> None:
        self.db, self.maker, self.clock = db, maker, clock

    async def move(self, booking_id: int, *, claimed: MoveAttempt | None = None) -> bool:
        """PATCH the meeting to the booking's start; answer whether it is there now."""
        attempt = claimed or await self.db.write(partial(self._claim, booking_id))
        if attempt is None:
            return False

        async def patch(access: ZoomAccess) -> None:
            await self.maker.meetings.update(
                access.token, attempt.meeting_id, attempt.changes(), base_url=access.api_base_url
            )

        try:
            await self.maker.as_host(attempt.provider, attempt.specialist_id, patch, attempt.host)
        except ZoomNotFound:
            # Deleted at Zoom (by the host, say): the booking gets a new meeting instead.
            await self.db.write(partial(self._gone, attempt))
            metrics.MEETINGS.labels("lost", attempt.provider.value).inc()
            await self.maker.ensure(booking_id)
            return False
        except (ZoomNotConnected, ZoomReauthorizationRequired) as exc:
            reason = f"the specialist's Zoom cannot be used: {exc}"
            await self._later(attempt, reason, wait=NOT_CONNECTED_RECHECK)
            return False
        except ZoomApiError as exc:
            reason = f"Zoom refused the move: {exc.message}"
            await self._later(attempt, reason, wait=REFUSED_RECHECK, tell=True)
            return False
        except ZoomError as exc:
            retry_after = exc.retry_after if isinstance(exc, ZoomUnavailable) else None
            await self._later(attempt, f"Zoom unavailable: {exc}", retry_after=retry_after)
            return False
        done = await self.db.write(partial(self._moved, attempt))
        metrics.MEETINGS.labels("moved", attempt.provider.value).inc()
        log.info("Meeting of booking %s moved to its new time", booking_id)
        return done

    def _claim(self, booking_id: int, session: Session) -> MoveAttempt | None:
        now = self.clock.now()
        claimed = session.execute(
            update(Booking)
            .where(
                Booking.id == booking_id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.meeting_status == MeetingStatus.CREATED,
                or_(Booking.meeting_claimed_until.is_(None), Booking.meeting_claimed_until < now),
            )
            .values(
                meeting_claimed_until=now + service.CLAIM_FOR,
                meeting_attempts=Booking.meeting_attempts + 1,
            )
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        booking = session.get(Booking, booking_id, populate_existing=True)
        if booking is None or not needs_move(booking):
            if booking is not None:
                booking.meeting_claimed_until = booking.meeting_next_attempt_at = None
            return None
        return _attempt(booking, session.get(Specialist, booking.specialist_id))

    def _moved(self, attempt: MoveAttempt, session: Session) -> bool:
        booking = _locked(session, attempt.booking_id)
        if booking is None or booking.zoom_meeting_id != attempt.meeting_id:
            return False
        booking.meeting_start_time = attempt.start_time
        booking.meeting_claimed_until = None
        booking.meeting_last_error = None
        # Moved again while this PATCH was on its way: the next move is due at once.
        still = needs_move(booking)
        booking.meeting_next_attempt_at = self.clock.now() if still else None
        return not still

    def _gone(self, attempt: MoveAttempt, session: Session) -> None:
        booking = _locked(session, attempt.booking_id)
        if booking is None or booking.zoom_meeting_id != attempt.meeting_id:
            return
        booking.meeting_claimed_until = None
        if booking.status != BookingStatus.CONFIRMED:
            booking.meeting_next_attempt_at = None
            return
        log.warning("Meeting of booking %s is gone at Zoom; making a new one", booking.id)
        booking.meeting_status = MeetingStatus.PENDING
        booking.zoom_meeting_id = booking.join_url = booking.start_url = None
        booking.meeting_provider = booking.meeting_start_time = None
        booking.meeting_outcome_unknown = False
        booking.meeting_attempts = 0
        booking.meeting_next_attempt_at = self.clock.now()
        booking.meeting_last_error = "the meeting was deleted at Zoom"

    async def _later(
        self,
        attempt: MoveAttempt,
        reason: str,
        *,
        retry_after: float | None = None,
        wait: timedelta | None = None,
        tell: bool = False,
    ) -> None:
        """Try again later: after `wait`, else with backoff; `tell` the specialist once."""
        now = self.clock.now()
        when = now + wait if wait else service.backoff(attempt.attempts, now, retry_after)
        await self.db.write(partial(self._defer, attempt, reason, when, tell))
        metrics.MEETINGS.labels("move_deferred", attempt.provider.value).inc()
        log.warning("Meeting of booking %s not moved yet: %s", attempt.booking_id, reason)

    def _defer(
        self,
        attempt: MoveAttempt,
        reason: str,
        when: datetime,
        tell: bool,
        session: Session,
    ) -> None:
        booking = _locked(session, attempt.booking_id)
        if booking is None:
            return
        booking.meeting_claimed_until = None
        booking.meeting_last_error = reason
        if not needs_move(booking):
            booking.meeting_next_attempt_at = None
            return
        booking.meeting_next_attempt_at = when
        if tell and attempt.attempts <= 1:
            self.maker.notifier.notify(
                session,
                specialist_id=booking.specialist_id,
                kind="meeting_move_failed",
                message=f"Zoom did not move the meeting of booking {booking.reference} to its "
                f"new time ({reason}). The join link still works; start the meeting at the new "
                "time, or reconnect Zoom and allow Specialistly to update meetings.",
                link_path="/dashboard",
            )


def _locked(session: Session, booking_id: int) -> Booking | None:
    found: Booking | None = session.scalar(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return found
