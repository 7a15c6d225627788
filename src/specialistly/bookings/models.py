"""Bookings, their meeting, and idempotency keys."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from specialistly.db import Base, UTCDateTime


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class MeetingStatus(enum.StrEnum):
    PENDING = "pending"
    CREATED = "created"
    FAILED = "failed"


class MeetingProvider(enum.StrEnum):
    SPECIALIST_ZOOM = "specialist_zoom"
    PLATFORM_ZOOM = "platform_zoom"


class Booking(Base):
    """A customer's booking of a slot, and the one Zoom meeting that goes with it."""

    __tablename__ = "bookings"
    __table_args__ = (
        # One confirmed booking per slot, whatever the concurrency: the database decides.
        Index(
            "uq_bookings_confirmed_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'confirmed'"),
            postgresql_where=text("status = 'confirmed'"),
        ),
        # A specialist's confirmed busy time from a point on: the overlap check of every
        # booking and the booking page's busy times (migration 0017).
        Index("ix_bookings_busy", "specialist_id", "status", "busy_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A one-off slot's booking; None for a booking of an event type at a bookable time.
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("slots.id", ondelete="RESTRICT"), index=True
    )
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[BookingStatus] = mapped_column(_enum(BookingStatus))
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(320))
    manage_token: Mapped[str] = mapped_column(Text)  # encrypted: replays must return it
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by bookings of an event type (not of a one-off slot): its buffers make the booking
    # busy for longer in the bookable times.
    event_type_id: Mapped[int | None] = mapped_column(ForeignKey("event_types.id"), index=True)
    customer_timezone: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The time this booking makes its specialist busy: start − buffer before, end + buffer
    # after. No two confirmed bookings of one specialist overlap here (PostgreSQL: an
    # exclusion constraint, migration 0013; SQLite: checked under its one writer).
    busy_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    busy_end: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting_status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus))
    meeting_provider: Mapped[MeetingProvider | None] = mapped_column(_enum(MeetingProvider))
    zoom_meeting_id: Mapped[int | None] = mapped_column(BigInteger)
    join_url: Mapped[str | None] = mapped_column(Text)
    start_url: Mapped[str | None] = mapped_column(Text)  # encrypted: it carries the host's key
    # Where the last create went, and whether it may have happened without our knowing:
    # set before every create call and cleared by a definite answer, so a crash or a lost
    # answer is followed by a look at the host's meetings before any new create.
    meeting_attempt_provider: Mapped[MeetingProvider | None] = mapped_column(_enum(MeetingProvider))
    # The Zoom user whose account hosts (or may host) the meeting on the specialist's Zoom:
    # after a reconnect with another Zoom user, cancelling still acts on this account.
    meeting_host_zoom_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    meeting_outcome_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    meeting_attempts: Mapped[int] = mapped_column(Integer, default=0)
    meeting_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    meeting_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    meeting_last_error: Mapped[str | None] = mapped_column(Text)
    # Cancelled with a meeting at Zoom that is not deleted yet: a job finishes the deletion.
    meeting_delete_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    customer_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The calendar invitation's SEQUENCE: 0 when booked, one more with each change sent.
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customer_link_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The start the Zoom meeting has at Zoom: after a reschedule it differs from `start_time`
    # until the meeting is moved (PATCH); `meeting_next_attempt_at` then says when to try.
    meeting_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """A client's `Idempotency-Key`: the same key and body return the same booking."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
