"""In-app notifications and the email outbox."""

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from specialistly.db import Base, UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxEmail(Base):
    """Every email is written here in the sender's transaction; delivery happens after commit.

    A pending email is due at `next_attempt_at`; each attempt counts in `attempts`. After the
    last attempt it is `failed` (no next attempt) until an operator retries it.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_emails_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Encrypted JSON of the files sent with it (message.encode_attachments), or None.
    attachments: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxStatus.PENDING,
        server_default=OutboxStatus.PENDING.value,
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def attempt_failed(self, reason: str, *, retry_at: datetime | None) -> None:
        """Record a failed attempt: due again at `retry_at`, or failed when there is none."""
        self.claimed_at, self.last_error, self.next_attempt_at = None, reason, retry_at
        if retry_at is None:
            self.status = OutboxStatus.FAILED

    def due_again(self, now: datetime) -> None:
        """Make the email due now, failed or not (an operator's retry)."""
        self.status, self.next_attempt_at, self.claimed_at = OutboxStatus.PENDING, now, None
