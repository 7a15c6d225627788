"""Notifications and outgoing email as rows, written inside the caller's transaction."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from specialistly.clock import Clock
from specialistly.db import connection_of
from specialistly.notifications.message import Attachment, encode_attachments, header_value
from specialistly.notifications.models import Notification, OutboxEmail, OutboxStatus
from specialistly.security import TokenCipher
from specialistly.statements import Prepared

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    kind: str
    attachments: tuple[Attachment, ...] = field(default=())


class Notifier:
    """Tell a specialist something in the app and by email, atomically with the cause."""

    def __init__(self, *, clock: Clock, base_url: str, cipher: TokenCipher) -> None:
        self.clock, self.base_url, self.cipher = clock, base_url, cipher

    def link(self, path: str) -> str:
        return self.base_url + path

    def notify(
        self,
        session: AsyncSession | Session,
        *,
        specialist_id: int,
        kind: str,
        message: str,
        link_path: str | None = None,
        email: Email | None = None,
    ) -> None:
        now = self.clock.now()
        link = self.link(link_path) if link_path else None
        session.add(
            Notification(
                specialist_id=specialist_id,
                kind=kind,
                message=message,
                link=link,
                created_at=now,
                read=False,
            )
        )
        if email is not None:
            self.queue_email(session, email)

    def queue_email(self, session: AsyncSession | Session, email: Email) -> None:
        """Write the email to the outbox; it is delivered after the transaction commits."""
        session.add(OutboxEmail(**self._outbox_row(email, self.clock.now())))

    def queue_emails(self, session: Session, emails: Iterable[Email]) -> None:
        """`queue_email` for several, in one Core statement (for hot write transactions)."""
        now = self.clock.now()
        rows = [self._outbox_row(email, now) for email in emails]
        if rows:
            _OUTBOX_INSERT.execute(connection_of(session), rows)

    def _outbox_row(self, email: Email, now: datetime) -> dict[str, Any]:
        return {
            "to_address": email.to,
            # One clean line, stored as it will be sent (and never longer than its column).
            "subject": header_value(email.subject),
            # Encrypted at rest: a specialist's notice carries the host's start link.
            "body": self.cipher.encrypt(email.body),
            # Encrypted too: a calendar invitation carries the join link.
            "attachments": (
                self.cipher.encrypt(encode_attachments(email.attachments))
                if email.attachments
                else None
            ),
            "kind": email.kind,
            "created_at": now,
            "attempts": 0,
            "status": OutboxStatus.PENDING,
            "next_attempt_at": now,
        }


_OUTBOX_INSERT = Prepared(cast(Table, OutboxEmail.__table__).insert())


async def list_for(session: AsyncSession, specialist_id: int) -> list[Notification]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.specialist_id == specialist_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(200)
    )
    return list(rows)


async def count_for(session: AsyncSession, specialist_id: int, kind: str) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.specialist_id == specialist_id, Notification.kind == kind)
    )
    return int(total or 0)


async def mark_read(session: AsyncSession, specialist_id: int, notification_id: int) -> bool:
    found = await session.get(Notification, notification_id)
    if found is None or found.specialist_id != specialist_id:
        return False
    found.read = True
    return True


async def resolve(session: AsyncSession, specialist_id: int, kinds: Iterable[str]) -> None:
    """Mark the specialist's unread notices of these kinds read: what they warned of is over."""
    await session.execute(
        update(Notification)
        .where(
            Notification.specialist_id == specialist_id,
            Notification.kind.in_(list(kinds)),
            Notification.read.is_(False),
        )
        .values(read=True)
    )
