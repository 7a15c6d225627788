"""Delivering the outbox: by SMTP when SMTP_URL is set, else to the log (the outbox keeps it)."""

import asyncio
import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import or_, select, update

from specialistly.clock import Clock
from specialistly.config import Settings
from specialistly.db import Database
from specialistly.notifications.models import OutboxEmail
from specialistly.security import TokenCipher

log = logging.getLogger(__name__)
FROM_ADDRESS = "Specialistly <no-reply@specialistly.local>"
MAX_ATTEMPTS = 10
CLAIM_FOR = timedelta(minutes=5)


class EmailSender(Protocol):
    channel: str

    async def send(self, to: str, subject: str, body: str) -> None: ...


class LogSender:
    """No SMTP configured: the outbox row is the email; the log says it was written."""

    channel = "outbox"

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info("Email kept in the outbox (SMTP_URL not set): to=%s subject=%r", to, subject)


class SmtpSender:
    """Send through an SMTP server given as smtp://user:pass@host:port (smtps:// for TLS)."""

    channel = "smtp"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = FROM_ADDRESS, to, subject
        message.set_content(body)
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        factory = smtplib.SMTP_SSL if self._tls else smtplib.SMTP
        with factory(self._host, self._port, timeout=20) as smtp:
            if self._user and self._password:
                smtp.login(self._user, self._password)
            smtp.send_message(message)


def sender_for(settings: Settings) -> EmailSender:
    if settings.smtp_url is not None:
        return SmtpSender(settings.smtp_url.get_secret_value())
    return LogSender()


async def deliver_outbox(
    db: Database, sender: EmailSender, clock: Clock, cipher: TokenCipher, *, limit: int = 100
) -> int:
    """Deliver unsent outbox emails; answer how many went out. Failures stay for the next run."""
    async with db.reading() as session:
        ids = list(
            await session.scalars(
                select(OutboxEmail.id)
                .where(OutboxEmail.sent_at.is_(None), OutboxEmail.attempts < MAX_ATTEMPTS)
                .order_by(OutboxEmail.id)
                .limit(limit)
            )
        )
    sent = 0
    for email_id in ids:
        email = await _claim(db, email_id, clock)
        if email is None:
            continue  # another process has it, or it went out meanwhile
        try:
            await sender.send(email.to_address, email.subject, cipher.decrypt(email.body))
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("Email %s not delivered: %s", email_id, type(exc).__name__)
            await _finish(db, email_id, sent_at=None, error=f"{type(exc).__name__}")
            continue
        await _finish(db, email_id, sent_at=clock.now(), error=None)
        sent += 1
    return sent


async def _claim(db: Database, email_id: int, clock: Clock) -> OutboxEmail | None:
    now = clock.now()
    async with db.transaction() as session:
        claimed = await session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email_id,
                OutboxEmail.sent_at.is_(None),
                or_(OutboxEmail.claimed_at.is_(None), OutboxEmail.claimed_at < now - CLAIM_FOR),
            )
            .values(claimed_at=now, attempts=OutboxEmail.attempts + 1)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        return await session.get(OutboxEmail, email_id)


async def _finish(
    db: Database, email_id: int, *, sent_at: datetime | None, error: str | None
) -> None:
    async with db.transaction() as session:
        email = await session.get(OutboxEmail, email_id)
        if email is not None:
            email.sent_at, email.last_error, email.claimed_at = sent_at, error, None
