"""Sending one email: by SMTP when SMTP_URL is set, else to the log (the outbox keeps it)."""

import logging
import ssl
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from specialistly.config import Settings
from specialistly.notifications.message import OutgoingEmail, header_value

log = logging.getLogger(__name__)
REASON_LIMIT = 500


class SmtpTlsRequired(Exception):
    """The server offers no TLS, and a password never crosses the wire in clear."""


class EmailSender(Protocol):
    channel: str

    async def send(self, email: OutgoingEmail) -> None: ...

    def reason(self, error: Exception) -> str: ...


class LogSender:
    """No SMTP configured: the outbox row is the email; the log says it was written (no
    MIME message is built: nothing would read it)."""

    channel = "outbox"

    async def send(self, email: OutgoingEmail) -> None:
        log.info(
            "Email kept in the outbox (SMTP_URL not set): to=%s subject=%r",
            email.to,
            header_value(email.subject),
        )

    def reason(self, error: Exception) -> str:
        return _reason(error, secrets=())


class SmtpSender:
    """Send through smtp://user:pass@host:port (STARTTLS; required with a password) or smtps://.

    Each message has its own connection, so one the server refuses leaves nothing behind.
    """

    channel = "smtp"

    def __init__(self, url: str, *, ca_file: Path | None = None, timeout: float = 20) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._timeout = timeout

    async def send(self, email: OutgoingEmail) -> None:
        message = email.message()
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._implicit_tls,
            start_tls=False,  # decided below, once the server has said what it offers
            tls_context=self._tls,
            timeout=self._timeout,
        )
        async with smtp:
            if not self._implicit_tls:
                await smtp.ehlo()
                if smtp.supports_extension("starttls"):
                    await smtp.starttls()
                elif self._password is not None:
                    raise SmtpTlsRequired(
                        "the SMTP server offers no STARTTLS; the password is never sent in clear "
                        "(use a server with TLS, or smtps://)"
                    )
            if self._user is not None and self._password is not None:
                await smtp.login(self._user, self._password)
            await smtp.send_message(message)

    def reason(self, error: Exception) -> str:
        """Say why a message failed, in words an operator can act on; never the password."""
        return _reason(error, secrets=(self._password,) if self._password else ())


def _reason(error: Exception, *, secrets: tuple[str, ...]) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        refused = error.recipients[0]
        detail = f"recipient refused: {refused.code} {refused.message}"
    elif isinstance(error, aiosmtplib.SMTPResponseException):
        detail = f"{error.code} {error.message}"
    else:
        detail = str(error)
    text = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def sender_for(settings: Settings) -> EmailSender:
    if settings.smtp_url is not None:
        return SmtpSender(settings.smtp_url.get_secret_value(), ca_file=settings.smtp_ca_file)
    return LogSender()
