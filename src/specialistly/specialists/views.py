"""Sign-up, sign-in and sign-out, and who is signed in."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy.exc import IntegrityError

from specialistly.deps import SESSION_COOKIE, Ctx, CurrentSpecialist
from specialistly.security import hash_password, verify_password
from specialistly.specialists import service
from specialistly.specialists.models import Specialist

router = APIRouter(prefix="/api/v1", tags=["specialists"])


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone, e.g. Europe/Berlin") from None
    return name


class SignUp(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=8, max_length=256)
    timezone: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class Login(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class SpecialistOut(BaseModel):
    id: int
    name: str
    email: str
    timezone: str
    created_at: datetime

    @classmethod
    def of(cls, specialist: Specialist) -> "SpecialistOut":
        return cls(
            id=specialist.id,
            name=specialist.name,
            email=specialist.email,
            timezone=specialist.timezone,
            created_at=specialist.created_at,
        )


def _set_session_cookie(response: Response, token: str, ctx: Ctx) -> None:
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
    now = ctx.clock.now()
    specialist = Specialist(
        name=body.name,
        email=body.email.lower(),
        password_hash=hash_password(body.password),
        timezone=body.timezone,
        created_at=now,
    )
    try:
        async with ctx.db.transaction() as session:
            session.add(specialist)
            await session.flush()
            token = await service.start_session(session, specialist.id, now)
    except IntegrityError:
        raise HTTPException(409, "An account with this email exists already.") from None
    _set_session_cookie(response, token, ctx)
    return SpecialistOut.of(specialist)


@router.post("/auth/login", responses={401: {"description": "Wrong email or password"}})
async def log_in(body: Login, response: Response, ctx: Ctx) -> SpecialistOut:
    """Sign in with email and password; the answer sets the session cookie."""
    async with ctx.db.transaction() as session:
        specialist = await service.by_email(session, body.email)
        if not verify_password(specialist.password_hash if specialist else None, body.password):
            raise HTTPException(401, "Wrong email or password.")
        assert specialist is not None
        token = await service.start_session(session, specialist.id, ctx.clock.now())
    _set_session_cookie(response, token, ctx)
    return SpecialistOut.of(specialist)


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


@router.get("/me", responses={401: {"description": "Not signed in"}})
async def me(specialist: CurrentSpecialist) -> SpecialistOut:
    """The signed-in specialist."""
    return SpecialistOut.of(specialist)
