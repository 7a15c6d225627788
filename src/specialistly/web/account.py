"""Sign-up, sign-in and sign-out pages (forms that work without JavaScript)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from specialistly.deps import SESSION_COOKIE, Ctx, MaybeSpecialist, client_address
from specialistly.specialists import accounts, service
from specialistly.specialists.views import SignUp, set_session_cookie
from specialistly.web.pages import form_data, render, zones

router = APIRouter(include_in_schema=False)

SIGNUP_FIELDS = [
    {"name": "name", "label": "Your name", "kind": "text", "autocomplete": "name"},
    {"name": "email", "label": "Email", "kind": "email", "autocomplete": "email"},
    {
        "name": "password",
        "label": "Password (8 characters or more)",
        "kind": "password",
        "autocomplete": "new-password",
    },
    {"name": "timezone", "label": "Your time zone", "kind": "select", "autocomplete": "off"},
]
LOGIN_FIELDS = [
    {"name": "email", "label": "Email", "kind": "email", "autocomplete": "email"},
    {
        "name": "password",
        "label": "Password",
        "kind": "password",
        "autocomplete": "current-password",
    },
]


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/dashboard"


def _page(request: Request, ctx: Ctx, kind: str, **extra: Any) -> Response:
    signup = kind == "signup"
    context = {
        "heading": "Create your specialist account" if signup else "Sign in",
        "action": "/signup" if signup else "/login",
        "fields": SIGNUP_FIELDS if signup else LOGIN_FIELDS,
        "button": "Create account" if signup else "Sign in",
        "other": 'Have an account? <a href="/login">Sign in</a>'
        if signup
        else 'New here? <a href="/signup">Create an account</a>',
        "zones": zones(),
        "values": extra.pop("values", {}),
        "errors": extra.pop("errors", {}),
        "next": extra.pop("next", None),
    }
    return render(request, ctx, "account.html", context, me=None, status=extra.pop("status", 200))


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
        errors = {str(e["loc"][0]): _plain(str(e["loc"][0])) for e in invalid.errors()}
        return _page(request, ctx, "signup", values=form, errors=errors)
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
        return _page(request, ctx, "signup", values=form, errors=errors)
    response = RedirectResponse("/dashboard", status_code=303)
    set_session_cookie(response, token, ctx)
    return response


def _plain(field: str) -> str:
    return {
        "name": "Enter your name.",
        "email": "Enter an email address like name@example.com.",
        "password": "Use at least 8 characters.",
        "timezone": "Choose your time zone from the list.",
    }.get(field, "Check this field.")


@router.get("/login")
async def login_page(request: Request, ctx: Ctx, me: MaybeSpecialist, next: str = "") -> Response:
    if me is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _page(request, ctx, "login", next=_safe_next(next))


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    form = await form_data(request, ctx)
    email, password = form.get("email", "")[:320], form.get("password", "")[:256]
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
        return _page(
            request, ctx, "login", values={"email": email}, errors=errors, next=form.get("next")
        )
    except accounts.WrongCredentials:
        errors = {"form": "Wrong email or password."}
        return _page(
            request,
            ctx,
            "login",
            values={"email": email},
            errors=errors,
            next=form.get("next"),
        )
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
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
