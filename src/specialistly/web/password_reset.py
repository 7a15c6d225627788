"""Password reset pages: ask for a link, open it, choose a new password (post/redirect/get).

The token travels only in the emailed link's query (`token=` is masked in the logs) and in the
form posted from that page; these pages are never cached and send no referrer.
"""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.deps import Ctx, MaybeSpecialist, client_address
from specialistly.specialists import password_resets, service
from specialistly.specialists.views import set_session_cookie
from specialistly.web.pages import form_data, render

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ASK_ERRORS = {
    "email": "Enter the email address of your account, like name@example.com.",
    "wait": "You asked for several links already. Wait a few minutes, then try again.",
}
NEW_ERRORS = {"password": "Use at least 8 characters (at most 256)."}


def _page(request: Request, ctx: Ctx, me: MaybeSpecialist, step: str, **extra: object) -> Response:
    response = render(
        request,
        ctx,
        "password_reset.html",
        {"step": step, "errors": {}, **extra},
        me=me,
        status=410 if step == "gone" else 200,
    )
    response.headers.update(PRIVATE)
    return response


def _see(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)


@router.get("/password-reset")
async def ask_page(request: Request, ctx: Ctx, me: MaybeSpecialist, error: str = "") -> Response:
    errors = {"email": ASK_ERRORS[error]} if error in ASK_ERRORS else {}
    return _page(request, ctx, me, "ask", errors=errors)


@router.post("/password-reset")
async def ask(request: Request, ctx: Ctx) -> Response:
    form = await form_data(request, ctx)
    email = form.get("email", "")
    if not 3 <= len(email) <= 320 or email.count("@") != 1:
        return _see("/password-reset", error="email")
    try:
        await password_resets.request_reset(
            ctx.db,
            ctx.notifier,
            email=email,
            address=client_address(request),
            now=ctx.clock.now(),
        )
    except password_resets.TooManyAttempts:
        return _see("/password-reset", error="wait")
    return _see("/password-reset/sent")


@router.get("/password-reset/sent")
async def sent_page(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    return _page(request, ctx, me, "sent")


@router.get("/password-reset/new")
async def new_password_page(
    request: Request, ctx: Ctx, me: MaybeSpecialist, token: str = "", error: str = ""
) -> Response:
    try:
        await password_resets.check(ctx.db, token[:200], ctx.clock.now())
    except password_resets.ResetLinkInvalid:
        return _page(request, ctx, me, "gone")
    errors = {"password": NEW_ERRORS[error]} if error in NEW_ERRORS else {}
    return _page(request, ctx, me, "new", token=token, errors=errors)


@router.post("/password-reset/new")
async def new_password(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    form = await form_data(request, ctx)
    token, password = form.get("token", "")[:200], form.get("password", "")
    if not 8 <= len(password) <= 256:
        return _see("/password-reset/new", token=token, error="password")
    now = ctx.clock.now()
    try:
        specialist_id = await password_resets.reset(ctx.db, token=token, password=password, now=now)
    except password_resets.ResetLinkInvalid:
        return _page(request, ctx, me, "gone")
    async with ctx.db.transaction() as session:
        session_token = await service.start_session(session, specialist_id, now)
    response = _see("/password-reset/done")
    set_session_cookie(response, session_token, ctx)
    return response


@router.get("/password-reset/done")
async def done_page(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    return _page(request, ctx, me, "done")
