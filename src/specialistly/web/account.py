"""Sign-up, sign-in and sign-out pages (forms that work without JavaScript).

A form with errors redirects back to its page (post/redirect/get) with them kept in `flash`.
"""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from specialistly.deps import SESSION_COOKIE, Ctx, MaybeSpecialist, client_address
from specialistly.specialists import accounts, service
from specialistly.specialists.views import SignUp, set_session_cookie
from specialistly.web import flash, zones
from specialistly.web.pages import form_data, render, zone_or

router = APIRouter(include_in_schema=False)

# maxlength as the API's limits (specialists.views.SignUp), so a browser stops where we do.
SIGNUP_FIELDS = [
    {"name": "name", "label": "Your name", "kind": "text", "autocomplete": "name", "max": 200},
    {"name": "email", "label": "Email", "kind": "email", "autocomplete": "email", "max": 320},
    {
        "name": "password",
        "label": "Password (8 characters or more)",
        "kind": "password",
        "autocomplete": "new-password",
        "max": 256,
    },
    {"name": "timezone", "label": "Your time zone", "kind": "select", "autocomplete": "off"},
]
LOGIN_FIELDS = [
    {"name": "email", "label": "Email", "kind": "email", "autocomplete": "email", "max": 320},
    {
        "name": "password",
        "label": "Password",
        "kind": "password",
        "autocomplete": "current-password",
        "max": 256,
    },
]
# What to say for each field and kind of problem (pydantic's error types).
SIGNUP_PROBLEMS = {
    ("name", "string_too_long"): "Your name is too long: use at most 200 characters.",
    ("name", ""): "Enter your name.",
    ("email", "string_too_long"): "This email address is too long: at most 320 characters.",
    ("email", ""): "Enter an email address like name@example.com.",
    ("password", "string_too_long"): "Use at most 256 characters for the password.",
    ("password", ""): "Use at least 8 characters for the password.",
    ("timezone", ""): "Choose your time zone from the list.",
}


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/dashboard"


def _page(request: Request, ctx: Ctx, kind: str, **extra: Any) -> Response:
    signup = kind == "signup"
    kept = flash.take(request)
    values = kept.values if kept else {}
    now = ctx.clock.now()
    chosen = zone_or(values.get("timezone"), "")
    guessed = zones.guess(request.headers.get("accept-language", ""), now)
    context = {
        "heading": "Create your specialist account" if signup else "Sign in",
        "action": "/signup" if signup else "/login",
        "fields": SIGNUP_FIELDS if signup else LOGIN_FIELDS,
        "button": "Create account" if signup else "Sign in",
        "other": 'Have an account? <a href="/login">Sign in</a>'
        if signup
        else 'New here? <a href="/signup">Create an account</a>',
        "zones": zones.regions(now, chosen or None) if signup else [],
        "zone": chosen or guessed,
        # No zone chosen yet: the browser's own (app.js) is a better first choice than a guess.
        "browser_zone": not chosen,
        "values": values,
        "errors": kept.errors if kept else {},
        "next": extra.pop("next", None),
    }
    return render(request, ctx, "account.html", context, me=None)


@router.get("/signup")
async def signup_page(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return _page(request, ctx, "signup")


@router.post("/signup")
async def signup(request: Request, ctx: Ctx) -> Response:
    form = await form_data(request, ctx)
    try:
        body = SignUp.model_validate(form)
    except ValidationError as invalid:
        errors = {str(e["loc"][0]): _plain(str(e["loc"][0]), e["type"]) for e in invalid.errors()}
        return _back_to_signup(request, errors, form)
    try:
        _, token = await accounts.register(
            ctx.db,
            name=body.name,
            email=body.email,
            password=body.password,
            timezone=body.timezone,
            now=ctx.clock.now(),
        )
    except accounts.EmailTaken:
        errors = {"email": "An account with this email exists already. Sign in instead."}
        return _back_to_signup(request, errors, form)
    response = RedirectResponse("/dashboard", status_code=303)
    set_session_cookie(response, token, ctx)
    return response


def _back_to_signup(request: Request, errors: dict[str, str], form: dict[str, str]) -> Response:
    return flash.redirect(request, "/signup", "/signup", flash.Kept("signup", errors, form))


def _plain(field: str, problem: str) -> str:
    """The words for a field's problem; its general one when there is none more precise."""
    found = SIGNUP_PROBLEMS.get((field, problem)) or SIGNUP_PROBLEMS.get((field, ""))
    return found or "Check this field."


def _back_to_login(request: Request, errors: dict[str, str], email: str, nxt: str) -> Response:
    url = "/login?" + urlencode({"next": _safe_next(nxt)})
    return flash.redirect(request, url, "/login", flash.Kept("login", errors, {"email": email}))


@router.get("/login")
async def login_page(request: Request, ctx: Ctx, me: MaybeSpecialist, next: str = "") -> Response:
    if me is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _page(request, ctx, "login", next=_safe_next(next))


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    form = await form_data(request, ctx)
    email, password = form.get("email", "")[:320], form.get("password", "")[:256]
    nxt = form.get("next", "")
    if not email or not password:
        missing = "Enter your email and password."
        if email or password:
            missing = "Enter your password." if email else "Enter your email."
        return _back_to_login(request, {"form": missing}, email, nxt)
    try:
        _, token = await accounts.log_in(
            ctx.db,
            email=email,
            password=password,
            address=client_address(request),
            now=ctx.clock.now(),
        )
    except accounts.TooManyAttempts as wait:
        errors = {"form": f"Too many failed sign-ins. Try again in {wait.retry_after} seconds."}
        return _back_to_login(request, errors, email, nxt)
    except accounts.WrongCredentials:
        return _back_to_login(request, {"form": "Wrong email or password."}, email, nxt)
    response = RedirectResponse(_safe_next(nxt), status_code=303)
    set_session_cookie(response, token, ctx)
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Ctx) -> Response:
    await form_data(request, ctx)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with ctx.db.transaction() as session:
            await service.end_session(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
