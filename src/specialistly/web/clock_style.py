"""12- or 24-hour times, as the visitor's language and region write them (Accept-Language).

A pure ASGI middleware sets the style for the request; `clock` and `clock_range` read it, so
every time a page shows follows the visitor without being passed down by hand.
"""

from contextvars import ContextVar
from datetime import datetime

from starlette.types import ASGIApp, Receive, Scope, Send

TWELVE_HOUR: ContextVar[bool] = ContextVar("twelve_hour", default=False)
# Where the everyday clock is 12-hour (CLDR's preferred formats): these languages wherever
# they are written, and these language-regions (English in Britain writes 24-hour).
TWELVE_HOUR_LANGUAGES = {"hi", "bn", "ur", "ar", "ko", "fil", "tl", "el", "ta", "te"}
TWELVE_HOUR_LOCALES = {
    "en", "en-us", "en-ca", "en-au", "en-nz", "en-in", "en-ph", "en-pk", "es-us", "es-mx",
    "es-co", "zh-tw", "zh-hk",
}  # fmt: skip


def prefers_12_hour(accept_language: str) -> bool:
    """Whether the first language the visitor asks for writes a 12-hour clock."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip().lower().replace("_", "-")
    if not first or first == "*":
        return False
    parts = first.split("-")
    if first in TWELVE_HOUR_LOCALES or parts[0] in TWELVE_HOUR_LANGUAGES:
        return True
    return len(parts) > 1 and f"{parts[0]}-{parts[-1]}" in TWELVE_HOUR_LOCALES


def clock(moment: datetime) -> str:
    """'9:30 AM' or '09:30', the moment as it is (convert to the zone first)."""
    if not TWELVE_HOUR.get():
        return f"{moment:%H:%M}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def clock_range(start: datetime, end: datetime) -> str:
    """'9:00–9:30 AM', '11:30 AM–12:00 PM' or '09:00–09:30'."""
    first, last = clock(start), clock(end)
    if TWELVE_HOUR.get() and first[-2:] == last[-2:]:
        return f"{first[:-3]}–{last}"
    return f"{first}–{last}"


class ClockStyle:
    """Set the request's clock style from its Accept-Language header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", [])).get(b"accept-language", b"")
        token = TWELVE_HOUR.set(prefers_12_hour(header[:200].decode("latin-1")))
        try:
            await self.app(scope, receive, send)
        finally:
            TWELVE_HOUR.reset(token)
