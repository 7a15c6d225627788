"""Rendering pages: templates, the CSRF token, who is signed in, and time formatting.

Every page answers `Cache-Control: no-store`: each carries a CSRF token, and many show what
changes under them (open times, a booking, the dashboard), so Back must ask again.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from specialistly.context import AppContext
from specialistly.specialists.models import Specialist
from specialistly.text import is_clean
from specialistly.web import flash
from specialistly.web.clock_style import clock, clock_range
from specialistly.web.csrf import FIELD, CsrfGuard

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"


def zone_or(name: str | None, default: str) -> str:
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return default
        return name
    return default


def local(moment: datetime, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """`moment` in `zone`; `%H:%M` in `fmt` becomes the visitor's 12- or 24-hour clock."""
    shown = moment.astimezone(ZoneInfo(zone))
    return clock(shown).join(shown.strftime(part) for part in fmt.split("%H:%M"))


def local_span(start: datetime, end: datetime, zone: str, day_fmt: str = "%a %d %b %Y") -> str:
    """'Mon 30 Nov 2026, 9:00–9:30 AM' in `zone` (an end on another day is named in full)."""
    tz = ZoneInfo(zone)
    first, last = start.astimezone(tz), end.astimezone(tz)
    if first.date() != last.date():
        return (
            f"{local(start, zone, day_fmt + ', %H:%M')} – {local(end, zone, day_fmt + ', %H:%M')}"
        )
    return f"{first.strftime(day_fmt)}, {clock_range(first, last)}"


def guard(ctx: AppContext) -> CsrfGuard:
    secret = ctx.settings.secret_key
    return CsrfGuard(secret.get_secret_value() if secret else "", secure=ctx.settings.production)


def render(
    request: Request,
    ctx: AppContext,
    template: str,
    context: dict[str, Any],
    *,
    me: Specialist | None,
    status: int = 200,
) -> Response:
    """Render a page with the CSRF token, the signed-in specialist and the sandbox banner."""
    csrf_guard = guard(ctx)
    token, new_cookie = csrf_guard.token(request)
    page = {"me": me, "csrf": token, "sandbox": ctx.settings.sandbox, **context}
    response = TEMPLATES.TemplateResponse(request, template, page, status_code=status)
    csrf_guard.set_cookie(response, new_cookie)
    flash.drop_if_taken(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


async def form_data(request: Request, ctx: AppContext) -> dict[str, str]:
    """Read a posted form after checking its CSRF token; text fields only."""
    form = await request.form()
    if not guard(ctx).valid(request, form.get(FIELD)):
        raise HTTPException(403, "This form has expired. Go back, reload the page and try again.")
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    if not all(is_clean(v) for v in values.values()):
        raise HTTPException(400, "The form holds characters that cannot be text.")
    return values


def not_found(
    request: Request, ctx: AppContext, me: Specialist | None, title: str, text: str
) -> Response:
    """The 404 page for people, saying what to do."""
    return render(request, ctx, "error.html", {"title": title, "text": text}, me=me, status=404)
