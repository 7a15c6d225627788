"""A real SMTP server for tests (aiosmtpd): STARTTLS or implicit TLS, a certificate made here."""

import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers import free_port

USER, PASSWORD = "mailer", "s3cret-smtp-pass"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for localhost and 127.0.0.1, and its key; return both."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Inbox:
    """What the server saw: messages, logins (and whether TLS was on), recipients it refused."""

    refuse: set[str] = field(default_factory=set)
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        tls = server.transport.get_extra_info("sslcontext") is not None
        self.logins.append((auth_data.login.decode(), tls))
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
        return AuthResult(success=ok)

    def recipients(self) -> list[str]:
        return [to for tos, _ in self.messages for to in tos]


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    cert: Path | None


@contextmanager
def smtp_server(
    folder: Path, *, tls: str = "starttls", inbox: Inbox | None = None
) -> Iterator[SmtpServer]:
    """Serve SMTP on 127.0.0.1: `starttls` (required, AUTH only over TLS), `implicit` or `none`."""
    inbox = inbox or Inbox()
    port = free_port()
    cert: Path | None = None
    options: dict[str, Any] = {"authenticator": inbox.authenticate}
    if tls != "none":
        cert, key = self_signed_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if tls == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        else:
            options |= {"ssl_context": context, "auth_require_tls": False}
    else:
        options |= {"auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port=port, inbox=inbox, cert=cert)
    finally:
        controller.stop()
