"""The one place emails become messages: headers that no input can break."""

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage

FROM_ADDRESS = Address("Specialistly", "no-reply", "specialistly.local")
SUBJECT_LIMIT = 200
ADDRESS_LIMIT = 320
# Format characters that are part of ordinary text (emoji sequences, some scripts).
_KEPT_FORMAT = {"\u200c", "\u200d"}


@dataclass(frozen=True)
class Attachment:
    """A text file sent with an email, e.g. `invite.ics` as `text/calendar; method=REQUEST`."""

    filename: str
    content_type: str  # "text/<subtype>": only text attachments are sent
    content: str
    params: tuple[tuple[str, str], ...] = ()


def encode_attachments(attachments: Sequence[Attachment]) -> str:
    """Serialize attachments for the outbox (the caller encrypts the result)."""
    return json.dumps(
        [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "content": a.content,
                "params": [list(p) for p in a.params],
            }
            for a in attachments
        ]
    )


def decode_attachments(raw: str) -> tuple[Attachment, ...]:
    """Read what `encode_attachments` wrote."""
    return tuple(
        Attachment(
            filename=item["filename"],
            content_type=item["content_type"],
            content=item["content"],
            params=tuple((str(k), str(v)) for k, v in item["params"]),
        )
        for item in json.loads(raw)
    )


def header_value(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Return `text` as one header-safe line: no CR, LF or control characters, at most `limit`."""
    # Printable ASCII (most names and subjects): nothing to drop, and the space is its only
    # white space; the character-by-character look is for everything else.
    plain = text.isascii() and text.isprintable()
    line = " ".join(text.split()) if plain else _one_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _one_line(text: str) -> str:
    """Any text as one line: white space and line breaks become single spaces, control and
    other invisible characters (but those text needs) are dropped."""
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")  # a line break in a name becomes a space, never a new header
        elif category[0] == "C" and char not in _KEPT_FORMAT:
            continue
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


@dataclass(frozen=True)
class OutgoingEmail:
    """One email on its way out, checked when made: ValueError when `to` is not one plain
    address or an attachment is not text. `message()` builds the MIME message; only a sender
    that hands it to a server asks for it (building it is most of an email's CPU)."""

    to: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        address = header_value(self.to, ADDRESS_LIMIT)
        if (
            address != self.to.strip()
            or address.count("@") != 1
            or any(c in address for c in '<>,;"')
        ):
            raise ValueError("the recipient is not one plain email address")
        local, domain = address.split("@")
        try:
            # The standard library's own parse of the address, as the message's To header
            # makes it: what it refuses is refused here, for every sender.
            Address(addr_spec=f"{local}@{domain}")
        except (ValueError, IndexError, HeaderParseError):
            raise ValueError("the recipient is not one plain email address") from None
        for attachment in self.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            if maintype != "text" or not subtype:
                raise ValueError("only text attachments are sent")
        object.__setattr__(self, "to", address)

    def message(self) -> EmailMessage:
        """The message to send: with attachments multipart/mixed, the text first, then each
        file as its own part."""
        local, domain = self.to.split("@")
        message = EmailMessage()
        message["From"] = FROM_ADDRESS
        message["To"] = Address(addr_spec=f"{local}@{domain}")
        message["Subject"] = header_value(self.subject)
        message.set_content(self.body)
        for attachment in self.attachments:
            message.add_attachment(
                attachment.content,
                subtype=attachment.content_type.partition("/")[2],
                charset="utf-8",
                filename=header_value(attachment.filename, 100),
                params=dict(attachment.params),
            )
        return message
