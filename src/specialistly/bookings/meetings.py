"""Exactly one Zoom meeting per booking, on the specialist's account or the platform's.

Before every create the booking records that a create on that account may happen; a
definite answer clears it. So after a lost answer, a timeout or a crash, the next attempt
first looks for the booking's reference among the host's upcoming meetings.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from specialistly import observability as metrics
from specialistly.bookings import emails, service
from specialistly.bookings.busy import OVERLAPS
from specialistly.bookings.errors import SlotTaken
from specialistly.bookings.invites import invitations
from specialistly.bookings.models import Booking, BookingStatus, MeetingProvider, MeetingStatus
from specialistly.clock import Clock
from specialistly.connections import service as connection_rows
from specialistly.connections.errors import ZoomNotConnected, ZoomReauthorizationRequired
from specialistly.connections.flows import Connections, ZoomAccess
from specialistly.connections.models import ConnectionStatus, ZoomConnection
from specialistly.connections.platform import PlatformZoom
from specialistly.connections.retired import NoRetiredGrant, RetiredGrants
from specialistly.db import Database, connection_of, detached
from specialistly.notifications.service import Notifier
from specialistly.security import TokenCipher
from specialistly.specialists.models import Specialist
from specialistly.statements import Prepared
from specialistly.zoom.api import ZoomMeeting, ZoomMeetings
from specialistly.zoom.errors import (
    ZoomAccessTokenRejected,
    ZoomApiError,
    ZoomError,
    ZoomUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
SPECIALIST, PLATFORM = MeetingProvider.SPECIALIST_ZOOM, MeetingProvider.PLATFORM_ZOOM
# The specialist's Zoom failing this many attempts in a row hands the meeting to the platform.
FALLBACK_AFTER_ATTEMPTS = 3
NOT_CONNECTED_RECHECK = timedelta(hours=1)


_specialists = cast(Table, Specialist.__table__)
_connections = cast(Table, ZoomConnection.__table__)
# The specialist and their Zoom connection in one read (the claim of a new booking), and
# whether another confirmed booking of theirs shares the new one's busy time.
_HOST = Prepared(
    select(
        _specialists.c.name,
        _specialists.c.timezone,
        _connections.c.status,
        _connections.c.zoom_user_id,
        _connections.c.access_token,
        _connections.c.refresh_token,
        _connections.c.access_token_expires_at,
        _connections.c.api_url,
        _connections.c.last_error,
        OVERLAPS.label("overlaps"),
    )
    .select_from(
        _specialists.outerjoin(_connections, _connections.c.specialist_id == _specialists.c.id)
    )
    .where(_specialists.c.id == bindparam("specialist_id"))
)


def _connection_of(row: Any) -> ZoomConnection | None:
    """A detached copy of what `Connections` needs of the connection, from `_HOST`'s row."""
    if row.status is None:
        return None
    return detached(
        ZoomConnection,
        {
            "status": row.status,
            "zoom_user_id": row.zoom_user_id,
            "access_token": row.access_token,
            "refresh_token": row.refresh_token,
            "access_token_expires_at": row.access_token_expires_at,
            "api_url": row.api_url,
            "last_error": row.last_error,
        },
    )


_bookings = cast(Table, Booking.__table__)
_BOOKING_KEYS = tuple(column.key for column in _bookings.columns)
# A booking locked for its meeting's record (FOR UPDATE OF bookings on PostgreSQL), and what
# its emails need of the specialist.
_BOOKING_AND_SPECIALIST = Prepared(
    select(
        _bookings,
        _specialists.c.name.label("specialist_name"),
        _specialists.c.email.label("specialist_email"),
        _specialists.c.timezone.label("specialist_timezone"),
    )
    .select_from(_bookings.join(_specialists, _specialists.c.id == _bookings.c.specialist_id))
    .where(_bookings.c.id == bindparam("id"))
    .with_for_update(of=_bookings)
)
# `_booking_of` reads the booking's columns by position.
assert tuple(_BOOKING_AND_SPECIALIST.statement.exported_columns.keys())[: len(_BOOKING_KEYS)] == (
    _BOOKING_KEYS
)
_UPDATE_BOOKING = Prepared(_bookings.update().where(_bookings.c.id == bindparam("booking_id")))


def _booking_of(row: Any) -> tuple[Booking, dict[str, Any]]:
    """A detached booking from a row of `_BOOKING_AND_SPECIALIST` (written back by Core),
    and its values as read, for `_update_changed`. The booking's columns come first."""
    values = dict(zip(_BOOKING_KEYS, row, strict=False))
    return detached(Booking, values), values


def _specialist_of(row: Any) -> Specialist:
    return detached(
        Specialist,
        {
            "id": row.specialist_id,
            "name": row.specialist_name,
            "email": row.specialist_email,
            "timezone": row.specialist_timezone,
        },
    )


def _update_changed(session: Session, booking: Booking, before: dict[str, Any]) -> None:
    """Write back what changed on a detached booking since `before`.

    Its values are read from its `__dict__`, where the ORM keeps a loaded column's value
    (see `detached`): a booking in no session is never expired.
    """
    now = vars(booking)
    changed = {key: now[key] for key in _BOOKING_KEYS if now[key] != before[key]}
    if changed:
        _UPDATE_BOOKING.execute(connection_of(session), {**changed, "booking_id": booking.id})


@dataclass
class Deferred(Exception):
    """No meeting this time, and why; when to try again follows from the fields."""

    reason: str
    retry_after: float | None = None
    failed: bool = False
    wait_for_reconnect: bool = False


class MeetingMaker:
    """Make, find and delete bookings' meetings; the only code that calls Zoom for them."""

    def __init__(
        self,
        *,
        db: Database,
        connections: Connections,
        platform: PlatformZoom,
        meetings: ZoomMeetings,
        cipher: TokenCipher,
        clock: Clock,
        notifier: Notifier,
        fallback: Literal["platform", "none"],
        retired: RetiredGrants | None = None,
    ) -> None:
        self.db, self.connections, self.platform, self.meetings = (
            db,
            connections,
            platform,
            meetings,
        )
        self.cipher, self.clock, self.notifier = cipher, clock, notifier
        self.use_platform = fallback == "platform" and platform.configured
        self.retired = retired

    def claim_new(self, session: Session, booking: dict[str, Any]) -> "MeetingAttempt":
        """Claim a booking's row being inserted for its request, in the insert's transaction.

        When the specialist's Zoom is connected, the booking also records that a create on
        that account may happen: the request then creates at once, with no write between
        its booking and Zoom, and a crash meanwhile is still followed by a look first. The
        connection read here (one joined read with the specialist) also serves the
        request's first Zoom call, so it needs no read of its own.

        The same read refuses the booking (`SlotTaken`) when another confirmed booking of
        the specialist shares its busy time: the caller holds the specialist's booking lock
        (`busy.hold_specialist`), as for `busy.refuse_overlap`.
        """
        now = self.clock.now()
        booking["meeting_claimed_until"] = now + service.CLAIM_FOR
        booking["meeting_attempts"] = 1
        row = _HOST.first(
            connection_of(session),
            {
                "specialist_id": booking["specialist_id"],
                "start": booking["busy_start"],
                "end": booking["busy_end"],
            },
        )
        if row is not None and row.overlaps:
            raise SlotTaken("that time overlaps another booking")
        connection = _connection_of(row) if row is not None else None
        marked = connection is not None and connection.status == ConnectionStatus.CONNECTED
        if marked and connection is not None:
            booking["meeting_attempt_provider"] = SPECIALIST
            booking["meeting_outcome_unknown"] = True
            booking["meeting_host_zoom_user_id"] = connection.zoom_user_id
        snapshot = MeetingAttempt(
            id=0,  # the caller sets it once the row is inserted
            specialist_id=booking["specialist_id"],
            reference=booking["reference"],
            start_time=booking["start_time"],
            duration_minutes=booking["duration_minutes"],
            timezone=row.timezone if row is not None else "UTC",
            specialist_name=row.name if row is not None else "",
            customer_name=booking["customer_name"],
            attempts=1,
            # Nothing has been sent to Zoom yet: this attempt need not look before creating.
            outcome_unknown=False,
            attempt_provider=booking.get("meeting_attempt_provider"),
            host=booking.get("meeting_host_zoom_user_id"),
            marked=marked,
            connection=connection,
        )
        return snapshot

    async def ensure(
        self, booking_id: int, *, rounds: int = 1, claimed: "MeetingAttempt | None" = None
    ) -> Booking | None:
        """Give a confirmed booking its meeting, trying up to `rounds` times now.

        `claimed` is a first round already claimed (by `claim_new`). Answers the booking
        with its meeting when this call stored one.
        """
        for round_no in range(rounds):
            snapshot = claimed if round_no == 0 and claimed is not None else None
            if snapshot is None:
                async with self.db.transaction() as session:
                    booking = await service.claim_meeting(session, booking_id, self.clock.now())
                    if booking is None:
                        return None
                    specialist = await session.get(Specialist, booking.specialist_id)
                    assert specialist is not None
                    snapshot = MeetingAttempt.of(booking, specialist)
            try:
                provider, meeting = await self._make(snapshot)
            except Deferred as deferred:
                last = round_no == rounds - 1 or deferred.wait_for_reconnect or deferred.failed
                if not await self._defer(booking_id, deferred, final=last, attempt=snapshot):
                    # Cancelled meanwhile: a create that may have landed must not outlive it.
                    await self.delete_if_pending(booking_id)
                    return None
                if last:
                    return None
                continue
            return await self._store(booking_id, provider, meeting)
        return None

    # --- making ------------------------------------------------------------------------

    async def _make(self, b: "MeetingAttempt") -> tuple[MeetingProvider, ZoomMeeting]:
        if b.outcome_unknown and b.attempt_provider == PLATFORM:
            return PLATFORM, await self._on_platform(b)
        if (found := await self._on_replaced_account(b)) is not None:
            return SPECIALIST, found
        try:
            return SPECIALIST, await self._on_specialist(b)
        except (ZoomNotConnected, ZoomReauthorizationRequired) as exc:
            reason = f"the specialist's Zoom cannot be used: {exc}"
            if not self.use_platform or (b.outcome_unknown and b.attempt_provider == SPECIALIST):
                # A create on their account may exist: only their account can tell us.
                raise Deferred(reason, wait_for_reconnect=True) from None
        except ZoomUnavailable as exc:
            if not self.use_platform or b.attempts < FALLBACK_AFTER_ATTEMPTS:
                raise Deferred(f"Zoom unavailable: {exc.reason}", exc.retry_after) from None
            if b.outcome_unknown and b.attempt_provider == SPECIALIST:
                raise Deferred(f"Zoom unavailable: {exc.reason}", exc.retry_after) from None
        except ZoomApiError as exc:
            if not self.use_platform:
                raise Deferred(f"Zoom refused the meeting: {exc.message}", failed=True) from None
        return PLATFORM, await self._on_platform(b)

    async def _on_replaced_account(self, b: "MeetingAttempt") -> ZoomMeeting | None:
        """Look for a create whose outcome is unknown on the account it went to, when the
        specialist has since connected another Zoom user (the new account cannot see it)."""
        if not (b.outcome_unknown and b.attempt_provider == SPECIALIST and b.host):
            return None
        if self.retired is None:
            return None
        try:
            return await self.retired.call(b.specialist_id, b.host, self._looker(b))
        except NoRetiredGrant:
            return None  # the host is the account connected now: `_once` looks there
        except ZoomError as exc:
            raise Deferred(f"Zoom unavailable: {exc}") from None

    async def _on_specialist(self, b: "MeetingAttempt") -> ZoomMeeting:
        # The connection read with the claim, if any, serves once; later attempts read anew.
        known, b.connection = b.connection, None
        return await self.connections.call(
            b.specialist_id, lambda access: self._once(b, SPECIALIST, access), known=known
        )

    async def _on_platform(self, b: "MeetingAttempt") -> ZoomMeeting:
        try:
            return await self.platform.call(lambda access: self._once(b, PLATFORM, access))
        except ZoomApiError as exc:
            raise Deferred(f"Zoom refused the meeting: {exc.message}", failed=True) from None
        except ZoomError as exc:
            retry_after = exc.retry_after if isinstance(exc, ZoomUnavailable) else None
            raise Deferred(f"Zoom unavailable: {exc}", retry_after) from None

    async def _once(
        self, b: "MeetingAttempt", provider: MeetingProvider, access: ZoomAccess
    ) -> ZoomMeeting:
        """Look first when a create on this account may have happened; else create."""
        base = access.api_base_url
        if b.outcome_unknown and b.attempt_provider == provider:
            found = await self.meetings.find_by_agenda(access.token, b.reference, base_url=base)
            if found is not None:
                metrics.MEETINGS.labels("found", provider.value).inc()
                log.info("Meeting for booking %s found at Zoom; not creating another", b.id)
                return found
        if not b.premarked_for(provider, access):
            await self._mark_attempt(b.id, provider)
        b.marked = False
        b.outcome_unknown, b.attempt_provider = True, provider
        try:
            meeting = await self.meetings.create(access.token, b.meeting_body(), base_url=base)
        except (ZoomApiError, ZoomAccessTokenRejected):
            # A definite "no": nothing was created, so nothing needs looking for.
            await self._mark_attempt(b.id, provider, known=True)
            b.outcome_unknown = False
            raise
        return meeting

    async def _mark_attempt(
        self, booking_id: int, provider: MeetingProvider, *, known: bool = False
    ) -> None:
        """Record that a create may happen, unless the booking was cancelled meanwhile.

        The mark and the cancel lock the same row, so a cancel either comes first (and
        nothing is created) or sees the mark (and its deletion looks for the meeting).
        """
        async with self.db.transaction() as session:
            booking = await service.locked(session, booking_id)
            if booking is None:
                return
            if not known and booking.status != BookingStatus.CONFIRMED:
                raise Deferred("the booking was cancelled")
            booking.meeting_attempt_provider = provider
            booking.meeting_outcome_unknown = not known
            if not known:
                booking.meeting_host_zoom_user_id = await self._host_now(session, booking, provider)

    @staticmethod
    async def _host_now(
        session: AsyncSession, booking: Booking, provider: MeetingProvider
    ) -> str | None:
        """The Zoom user a create on `provider` goes to now (the connected one)."""
        if provider == PLATFORM:
            return None
        connection = await connection_rows.get(session, booking.specialist_id)
        return connection.zoom_user_id if connection else None

    # --- recording ---------------------------------------------------------------------

    async def _store(
        self, booking_id: int, provider: MeetingProvider, meeting: ZoomMeeting
    ) -> Booking | None:
        """Record the meeting and queue its emails in one transaction; answer the booking."""
        booking, outcome = await self.db.write(
            partial(self._record_meeting, booking_id, provider, meeting)
        )
        if outcome == "already":
            return booking
        metrics.MEETINGS.labels(
            "duplicate" if outcome == "duplicate" else "created", provider.value
        ).inc()
        if outcome == "duplicate":
            await self._delete_at_zoom(provider, booking.specialist_id, meeting.id, meeting.host_id)
            return None
        if outcome == "cancelled":
            await self.delete_if_pending(booking_id)
            return None
        log.info("Meeting created for booking %s on %s", booking_id, provider.value)
        return booking

    def _record_meeting(
        self, booking_id: int, provider: MeetingProvider, meeting: ZoomMeeting, session: Session
    ) -> tuple[Booking, str]:
        # Core statements, not the ORM: one read of the booking (locked) with its specialist,
        # one UPDATE of what changed, one INSERT of the emails.
        conn = connection_of(session)
        row = _BOOKING_AND_SPECIALIST.first(conn, {"id": booking_id})
        assert row is not None
        (booking, before), specialist = _booking_of(row), _specialist_of(row)
        if booking.meeting_status == MeetingStatus.CREATED:
            return booking, "already" if booking.zoom_meeting_id == meeting.id else "duplicate"
        self._record(booking, provider, meeting)
        if booking.status == BookingStatus.CANCELLED:
            booking.meeting_delete_pending = True  # cancelled while we were creating
            _update_changed(session, booking, before)
            return booking, "cancelled"
        self._tell_meeting_ready(session, booking, specialist, meeting.start_url or "")
        _update_changed(session, booking, before)
        return booking, "created"

    def _record(self, booking: Booking, provider: MeetingProvider, meeting: ZoomMeeting) -> None:
        booking.meeting_status = MeetingStatus.CREATED
        booking.meeting_provider = provider
        booking.zoom_meeting_id = meeting.id
        booking.join_url = meeting.join_url
        booking.start_url = self.cipher.encrypt(meeting.start_url) if meeting.start_url else None
        booking.meeting_outcome_unknown = False
        booking.meeting_attempt_provider = provider
        booking.meeting_host_zoom_user_id = (
            (meeting.host_id or booking.meeting_host_zoom_user_id)
            if provider == SPECIALIST
            else None
        )
        booking.meeting_claimed_until = None
        booking.meeting_last_error = None
        booking.meeting_start_time = _when(meeting.start_time)
        # A create sent before a reschedule made the meeting at the old time: move it now.
        moved = booking.meeting_start_time != booking.start_time
        booking.meeting_next_attempt_at = self.clock.now() if moved else None

    def manage_url(self, booking: Booking) -> str:
        """The customer's own link to their booking (the manage token is its key)."""
        token = self.cipher.decrypt(booking.manage_token, remember=True)
        return self.notifier.link(emails.manage_path(booking.id, token))

    def _tell_meeting_ready(
        self, session: Session, booking: Booking, specialist: Specialist, start_url: str
    ) -> None:
        """Queue both emails about the meeting and note on `booking` (the caller writes it
        back) that the customer was told."""
        manage = self.manage_url(booking)
        now = self.clock.now()
        if booking.customer_confirmed_at is not None:
            booking.calendar_sequence += 1  # the event the customer has now gets its link
        ics, host_ics = invitations(
            booking, specialist, base_url=self.notifier.base_url, now=now, customer_url=manage
        )
        if booking.customer_confirmed_at is None:
            to_customer = emails.customer_confirmation(booking, specialist, manage, ics)
            booking.customer_confirmed_at = now
        else:
            to_customer = emails.customer_link(booking, specialist, manage, ics)
        booking.customer_link_sent_at = now
        self.notifier.queue_emails(
            session,
            (to_customer, emails.specialist_notice(booking, specialist, start_url, host_ics)),
        )

    async def _defer(
        self, booking_id: int, deferred: Deferred, *, final: bool, attempt: "MeetingAttempt"
    ) -> bool:
        """Record why there is no meeting yet; answer False when the booking was cancelled.

        The status is read in the transaction that would queue the confirmation, so a
        cancelled booking never tells its customer "you're booked".
        """
        now = self.clock.now()
        async with self.db.transaction() as session:
            booking = await service.locked(session, booking_id)
            if booking is None:
                return False
            booking.meeting_claimed_until = None
            if attempt.marked and not attempt.outcome_unknown:
                # Marked at booking time, but this attempt never reached the create.
                booking.meeting_outcome_unknown = False
            if booking.status != BookingStatus.CONFIRMED:
                return False
            if booking.meeting_status != MeetingStatus.PENDING:
                return True
            booking.meeting_last_error = deferred.reason
            if deferred.failed:
                booking.meeting_status = MeetingStatus.FAILED
                self.notifier.notify(
                    session,
                    specialist_id=booking.specialist_id,
                    kind="meeting_failed",
                    message=f"Zoom refused the meeting for booking {booking.reference}: "
                    f"{deferred.reason}. Contact {booking.customer_email} with another link.",
                )
            elif deferred.wait_for_reconnect:
                booking.meeting_next_attempt_at = now + NOT_CONNECTED_RECHECK
            else:
                booking.meeting_next_attempt_at = service.backoff(
                    booking.meeting_attempts, now, deferred.retry_after
                )
            if final and booking.customer_confirmed_at is None:
                specialist = await _specialist(session, booking.specialist_id)
                manage = self.manage_url(booking)
                ics, _ = invitations(
                    booking,
                    specialist,
                    base_url=self.notifier.base_url,
                    now=now,
                    customer_url=manage,
                )
                self.notifier.queue_email(
                    session, emails.customer_confirmation(booking, specialist, manage, ics)
                )
                booking.customer_confirmed_at = now
        outcome = "failed" if deferred.failed else "deferred"
        metrics.MEETINGS.labels(outcome, "none").inc()
        log.warning("Meeting for booking %s deferred: %s", booking_id, deferred.reason)
        return True

    # --- deleting ----------------------------------------------------------------------

    async def delete_if_pending(self, booking_id: int) -> None:
        """Finish deleting a cancelled booking's meeting at Zoom; a 404 counts as done."""
        async with self.db.reading() as session:
            booking = await session.get(Booking, booking_id)
            if booking is None or not booking.meeting_delete_pending:
                return
            snapshot = MeetingAttempt.of(booking, None)
            meeting_id, provider = booking.zoom_meeting_id, booking.meeting_provider
            specialist_id, host = booking.specialist_id, booking.meeting_host_zoom_user_id
        try:
            if meeting_id is None and snapshot.outcome_unknown and snapshot.attempt_provider:
                # A create whose answer never came: find it by reference before giving up.
                found = await self._find(snapshot)
                meeting_id, provider = (
                    (found.id, snapshot.attempt_provider) if found else (None, None)
                )
            if meeting_id is not None and provider is not None:
                await self._delete_at_zoom(provider, specialist_id, meeting_id, host)
        except (ZoomError, ZoomNotConnected, ZoomReauthorizationRequired) as exc:
            log.warning("Meeting of booking %s not deleted yet: %s", booking_id, exc)
            return
        async with self.db.transaction() as session:
            booking = await service.locked(session, booking_id)
            if booking is None:
                return
            claimed = booking.meeting_claimed_until
            if meeting_id is None and claimed is not None and claimed > self.clock.now():
                # Nothing found, but a create may still be on its way to Zoom: look again
                # once its attempt has ended (its answer recorded, or its claim expired).
                return
            booking.meeting_delete_pending = False
            booking.meeting_outcome_unknown = False
            booking.join_url = booking.start_url = None

    def _looker(self, b: "MeetingAttempt") -> Callable[[ZoomAccess], Awaitable[ZoomMeeting | None]]:
        async def look(access: ZoomAccess) -> ZoomMeeting | None:
            return await self.meetings.find_by_agenda(
                access.token, b.reference, base_url=access.api_base_url
            )

        return look

    async def _find(self, b: "MeetingAttempt") -> ZoomMeeting | None:
        return await self.as_host(b.attempt_provider, b.specialist_id, self._looker(b), b.host)

    async def _delete_at_zoom(
        self, provider: MeetingProvider, specialist_id: int, meeting_id: int, host: str | None
    ) -> None:
        async def delete(access: ZoomAccess) -> bool:
            return await self.meetings.delete(
                access.token, meeting_id, base_url=access.api_base_url
            )

        await self.as_host(provider, specialist_id, delete, host)

    async def as_host(
        self,
        provider: MeetingProvider | None,
        specialist_id: int,
        work: Callable[[ZoomAccess], Awaitable[T]],
        host: str | None,
    ) -> T:
        """Act as the account that hosts the meeting: the platform's, a grant a reconnect
        with another Zoom user replaced, or the specialist's connected one."""
        if provider == PLATFORM:
            return await self.platform.call(work)
        if host and self.retired is not None:
            try:
                return await self.retired.call(specialist_id, host, work)
            except NoRetiredGrant:
                pass
        return await self.connections.call(specialist_id, work)

    async def release_retired(self, specialist_id: int | None = None) -> int:
        """Revoke the replaced grants no upcoming meeting needs any more."""
        return await self.retired.sweep(specialist_id) if self.retired is not None else 0


def _when(zoom_time: str) -> datetime | None:
    """Zoom's `2027-05-01T10:00:00Z` as an aware datetime (None if it is not one)."""
    try:
        parsed = datetime.fromisoformat(zoom_time)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


async def _specialist(session: AsyncSession, specialist_id: int) -> Specialist:
    found = await session.get(Specialist, specialist_id)
    if found is None:  # the foreign key makes this impossible short of a broken database
        raise LookupError(f"specialist {specialist_id} is missing")
    return found


@dataclass
class MeetingAttempt:
    """What a meeting attempt needs of a booking, read once under the claim."""

    id: int
    specialist_id: int
    reference: str
    start_time: Any
    duration_minutes: int
    timezone: str
    specialist_name: str
    customer_name: str
    attempts: int
    outcome_unknown: bool
    attempt_provider: MeetingProvider | None
    host: str | None
    # The booking already records a create on `attempt_provider` (to `host`) as possible.
    marked: bool = False
    # The specialist's Zoom connection as read in the claim's transaction (claim_new only).
    connection: ZoomConnection | None = None

    def premarked_for(self, provider: MeetingProvider, access: ZoomAccess) -> bool:
        """Whether the stored mark already covers a create on `provider` with `access`."""
        return (
            self.marked
            and self.attempt_provider == provider
            and (provider == PLATFORM or access.zoom_user_id == self.host)
        )

    @classmethod
    def of(cls, booking: Booking, specialist: Specialist | None) -> "MeetingAttempt":
        return cls(
            id=booking.id,
            specialist_id=booking.specialist_id,
            reference=booking.reference,
            start_time=booking.start_time,
            duration_minutes=booking.duration_minutes,
            timezone=specialist.timezone if specialist else "UTC",
            specialist_name=specialist.name if specialist else "",
            customer_name=booking.customer_name,
            attempts=booking.meeting_attempts,
            outcome_unknown=booking.meeting_outcome_unknown,
            attempt_provider=booking.meeting_attempt_provider,
            host=booking.meeting_host_zoom_user_id,
        )

    def meeting_body(self) -> dict[str, Any]:
        """Zoom's create body: UTC start with Z plus the specialist's zone, reference in agenda."""
        return {
            "topic": f"{self.specialist_name} · {self.customer_name}"[:200],
            "type": 2,
            "start_time": self.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": self.duration_minutes,
            "timezone": self.timezone,
            "agenda": f"Specialistly booking {self.reference}",
            "settings": {"join_before_host": False, "waiting_room": True},
        }
