"""The one place emails become messages: headers that no input can break."""

import unicodedata
from email.headerregistry import Address
from email.message import EmailMessage

FROM_ADDRESS = Address("Specialistly", "no-reply", "specialistly.local")
SUBJECT_LIMIT = 200
ADDRESS_LIMIT = 320
# Format characters that are part of ordinary text (emoji sequences, some scripts).
_KEPT_FORMAT = {"\u200c", "\u200d"}


def header_value(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Return `text` as one header-safe line: no CR, LF or control characters, at most `limit`."""
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")  # a line break in a name becomes a space, never a new header
        elif category[0] == "C" and char not in _KEPT_FORMAT:
            continue
        else:
            kept.append(char)
    line = " ".join("".join(kept).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    """Build the message to send; raise ValueError when `to` is not one plain address."""
    address = header_value(to, ADDRESS_LIMIT)
    if address != to.strip() or address.count("@") != 1 or any(c in address for c in '<>,;"'):
        raise ValueError("the recipient is not one plain email address")
    local, domain = address.split("@")
    message = EmailMessage()
    message["From"] = FROM_ADDRESS
    message["To"] = Address(addr_spec=f"{local}@{domain}")
    message["Subject"] = header_value(subject)
    message.set_content(body)
    return message
