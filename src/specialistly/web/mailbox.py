"""`/dev/mailbox`, sandbox mode only: every email the app has sent, readable, files downloadable.

Without SMTP the outbox is where emails end up; this lets a person read them in the browser.
Anywhere but sandbox mode (so never in production) these addresses do not exist.
"""

import re
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.notifications import mailbox
from specialistly.web.pages import render

router = APIRouter(include_in_schema=False)
LINK = re.compile(r"https?://[^\s<>\"']+")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
NOTHING = "There is no email at this address."


def linked(text: str) -> Markup:
    """Escape plain text and make each web address in it a link."""
    parts: list[str] = []
    last = 0
    for found in LINK.finditer(text):
        url = found.group(0).rstrip(".,;:)")
        start, end = found.start(), found.start() + len(url)
        parts.append(str(escape(text[last:start])))
        parts.append(f'<a href="{escape(url)}" rel="noreferrer">{escape(url)}</a>')
        last = end
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above was escaped


def _sandbox_only(ctx: Ctx) -> None:
    if not ctx.settings.sandbox:
        raise HTTPException(404)


@router.get("/dev/mailbox")
async def inbox(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    _sandbox_only(ctx)
    async with ctx.db.reading() as session:
        emails = await mailbox.newest(session, ctx.cipher)
    response = render(request, ctx, "mailbox.html", {"emails": emails, "email": None}, me=me)
    response.headers.update(PRIVATE)
    return response


@router.get("/dev/mailbox/{email_id}")
async def read(request: Request, ctx: Ctx, me: MaybeSpecialist, email_id: int) -> Response:
    _sandbox_only(ctx)
    async with ctx.db.reading() as session:
        email = await mailbox.one(session, ctx.cipher, email_id)
    if email is None:
        raise HTTPException(404, NOTHING)
    context = {"email": email, "body": linked(email.body), "emails": []}
    response = render(request, ctx, "mailbox.html", context, me=me)
    response.headers.update(PRIVATE)
    return response


@router.get("/dev/mailbox/{email_id}/files/{index}/{filename}")
async def download(ctx: Ctx, email_id: int, index: int, filename: str) -> Response:
    _sandbox_only(ctx)
    async with ctx.db.reading() as session:
        email = await mailbox.one(session, ctx.cipher, email_id)
    if email is None or not 0 <= index < len(email.attachments):
        raise HTTPException(404, NOTHING)
    file = email.attachments[index]
    params = "".join(f"; {key}={value}" for key, value in file.params)
    disposition = f"attachment; filename*=UTF-8''{quote(file.filename)}"
    return Response(
        file.content.encode(),
        media_type=f"{file.content_type}; charset=utf-8{params}",
        headers={"Content-Disposition": disposition, **PRIVATE},
    )
