"""Sign-up, sign-in and sign-out, and who is signed in."""

from datetime import datetime
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from specialistly.deps import API_ERRORS, SESSION_COOKIE, Ctx, CurrentSpecialist, client_address
from specialistly.specialists import accounts, password_resets, service
from specialistly.specialists.models import Specialist
from specialistly.text import Text

router = APIRouter(prefix="/api/v1", tags=["specialists"], responses=API_ERRORS)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone, e.g. Europe/Berlin") from None
    return name


class SignUp(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    password: Text = Field(min_length=8, max_length=256)
    timezone: Annotated[Text, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class Login(BaseModel):
    email: Text = Field(max_length=320)
    password: Text = Field(max_length=256)


class PasswordResetAsk(BaseModel):
    email: Text = Field(max_length=320)


class PasswordResetConfirm(BaseModel):
    token: Text = Field(min_length=1, max_length=200)
    password: Text = Field(min_length=8, max_length=256)


class Accepted(BaseModel):
    detail: str


class ProfileChange(BaseModel):
    """Fields to change; absent ones stay as they are."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    timezone: Annotated[Text, Field(min_length=1, max_length=64), AfterValidator(_zone)] | None = (
        None
    )
    bio: Text | None = Field(default=None, max_length=2000, description="null clears it")

    @model_validator(mode="after")
    def _name_and_zone_stay_set(self) -> Self:
        for name in sorted(self.model_fields_set & {"name", "timezone"}):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class SpecialistOut(BaseModel):
    id: int
    name: str
    email: str
    timezone: str
    bio: str
    public_url: str = Field(description="the specialist's booking page")
    created_at: datetime

    @classmethod
    def of(cls, specialist: Specialist, ctx: Ctx) -> "SpecialistOut":
        return cls(
            id=specialist.id,
            name=specialist.name,
            email=specialist.email,
            timezone=specialist.timezone,
            bio=specialist.bio or "",
            public_url=f"{ctx.settings.base_url}/specialists/{specialist.id}",
            created_at=specialist.created_at,
        )


def set_session_cookie(response: Response, token: str, ctx: Ctx) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=ctx.settings.production,
        path="/",
    )


@router.post("/specialists", status_code=201, responses={409: {"description": "Email taken"}})
async def sign_up(body: SignUp, response: Response, ctx: Ctx) -> SpecialistOut:
    """Create a specialist account and sign it in."""
    try:
        specialist, token = await accounts.register(
            ctx.db,
            name=body.name,
            email=body.email,
            password=body.password,
            timezone=body.timezone,
            now=ctx.clock.now(),
        )
    except accounts.EmailTaken:
        raise HTTPException(409, "An account with this email exists already.") from None
    set_session_cookie(response, token, ctx)
    return SpecialistOut.of(specialist, ctx)


@router.post(
    "/auth/login",
    responses={
        401: {"description": "Wrong email or password"},
        429: {
            "description": "Too many failed sign-ins for this account or from this address; "
            "see Retry-After"
        },
    },
)
async def log_in(body: Login, request: Request, response: Response, ctx: Ctx) -> SpecialistOut:
    """Sign in with email and password; the answer sets the session cookie."""
    try:
        specialist, token = await accounts.log_in(
            ctx.db,
            email=body.email,
            password=body.password,
            address=client_address(request),
            now=ctx.clock.now(),
        )
    except accounts.WrongCredentials:
        raise HTTPException(401, "Wrong email or password.") from None
    except accounts.TooManyAttempts as wait:
        raise HTTPException(
            429,
            "Too many failed sign-ins. Try again later.",
            headers={"Retry-After": str(wait.retry_after)},
        ) from None
    set_session_cookie(response, token, ctx)
    return SpecialistOut.of(specialist, ctx)


@router.post("/auth/logout", status_code=204)
async def log_out(request: Request, ctx: Ctx) -> Response:
    """End this browser's session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with ctx.db.transaction() as session:
            await service.end_session(session, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


RESET_ASKED = (
    "If an account uses this email address, a link to set a new password is on its way. "
    "It works once, within an hour."
)


@router.post(
    "/auth/password-reset",
    status_code=202,
    responses={
        429: {
            "description": "Asked too often for this address or from this client; see Retry-After"
        }
    },
)
async def ask_password_reset(body: PasswordResetAsk, request: Request, ctx: Ctx) -> Accepted:
    """Email a single-use link to set a new password; the answer is the same for every address."""
    try:
        await password_resets.request_reset(
            ctx.db,
            ctx.notifier,
            email=body.email,
            address=client_address(request),
            now=ctx.clock.now(),
        )
    except password_resets.TooManyAttempts as wait:
        raise HTTPException(
            429,
            "Too many reset requests. Try again later.",
            headers={"Retry-After": str(wait.retry_after)},
        ) from None
    return Accepted(detail=RESET_ASKED)


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    responses={410: {"description": "The link is unknown, used already or expired"}},
)
async def confirm_password_reset(body: PasswordResetConfirm, ctx: Ctx) -> Response:
    """Set a new password with the emailed token (once); every session is signed out."""
    try:
        await password_resets.reset(
            ctx.db, token=body.token, password=body.password, now=ctx.clock.now()
        )
    except password_resets.ResetLinkInvalid:
        raise HTTPException(
            410, "This reset link was used already or has expired. Ask for a new one."
        ) from None
    return Response(status_code=204)


@router.get("/me", responses={401: {"description": "Not signed in"}})
async def me(specialist: CurrentSpecialist, ctx: Ctx) -> SpecialistOut:
    """The signed-in specialist, with their public booking page."""
    return SpecialistOut.of(specialist, ctx)


@router.patch("/me", responses={401: {"description": "Not signed in"}})
async def change_me(body: ProfileChange, specialist: CurrentSpecialist, ctx: Ctx) -> SpecialistOut:
    """Change the name, time zone or bio given; the others stay."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "bio" in changes and changes["bio"] is None:
        changes["bio"] = ""
    try:
        async with ctx.db.transaction() as session:
            changed = await service.change_profile(session, specialist.id, changes)
    except LookupError:
        raise HTTPException(401, "Sign in first.") from None
    return SpecialistOut.of(changed, ctx)
