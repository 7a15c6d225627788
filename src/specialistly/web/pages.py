"""Rendering pages: templates, the CSRF token, who is signed in, and time formatting.

A form shown again with its errors answers 200: the page is the answer, and browsers log
every 4xx document as a console error.
"""

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from specialistly.context import AppContext
from specialistly.specialists.models import Specialist
from specialistly.text import is_clean
from specialistly.web.csrf import FIELD, CsrfGuard

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def zone_or(name: str | None, default: str) -> str:
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return default
        return name
    return default


def local(moment: datetime, zone: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


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
