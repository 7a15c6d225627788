"""The outbox read back as a mailbox (sandbox mode's `/dev/mailbox`): bodies and files decrypted."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.notifications.message import Attachment, decode_attachments
from specialistly.notifications.models import OutboxEmail
from specialistly.security import TokenCipher, TokenDecryptionError

UNREADABLE = "(This email cannot be read with the current encryption keys.)"


@dataclass(frozen=True)
class MailboxEntry:
    id: int
    to: str
    subject: str
    kind: str
    status: str
    created_at: datetime
    attachment_names: tuple[str, ...]


@dataclass(frozen=True)
class MailboxEmail:
    entry: MailboxEntry
    body: str
    attachments: tuple[Attachment, ...]


def _attachments(row: OutboxEmail, cipher: TokenCipher) -> tuple[Attachment, ...]:
    if not row.attachments:
        return ()
    try:
        return decode_attachments(cipher.decrypt(row.attachments))
    except (TokenDecryptionError, ValueError, KeyError, TypeError):
        return ()


def _entry(row: OutboxEmail, attachments: tuple[Attachment, ...]) -> MailboxEntry:
    return MailboxEntry(
        id=row.id,
        to=row.to_address,
        subject=row.subject,
        kind=row.kind,
        status=str(row.status),
        created_at=row.created_at,
        attachment_names=tuple(a.filename for a in attachments),
    )


async def newest(
    session: AsyncSession, cipher: TokenCipher, limit: int = 200
) -> list[MailboxEntry]:
    """The newest emails first, without their bodies."""
    rows = await session.scalars(
        select(OutboxEmail)
        .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
        .limit(limit)
    )
    return [_entry(row, _attachments(row, cipher)) for row in rows]


async def one(session: AsyncSession, cipher: TokenCipher, email_id: int) -> MailboxEmail | None:
    """One email with its body and files, or None when there is no such email."""
    row = await session.get(OutboxEmail, email_id)
    if row is None:
        return None
    try:
        body = cipher.decrypt(row.body)
    except TokenDecryptionError:
        body = UNREADABLE
    attachments = _attachments(row, cipher)
    return MailboxEmail(entry=_entry(row, attachments), body=body, attachments=attachments)
