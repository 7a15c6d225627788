"""FastAPI dependencies: the app context, and the signed-in specialist."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from specialistly.context import AppContext
from specialistly.specialists import service
from specialistly.specialists.models import Specialist

SESSION_COOKIE = "specialistly_session"


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def optional_specialist(request: Request, ctx: Ctx) -> Specialist | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with ctx.db.reading() as session:
        return await service.specialist_for_session(session, token, ctx.clock.now())


async def current_specialist(
    specialist: Annotated[Specialist | None, Depends(optional_specialist)],
) -> Specialist:
    if specialist is None:
        raise HTTPException(401, "Sign in first.")
    return specialist


CurrentSpecialist = Annotated[Specialist, Depends(current_specialist)]
MaybeSpecialist = Annotated[Specialist | None, Depends(optional_specialist)]


# Answers any API operation may give: a body that is not JSON, a missing session, bad input.
API_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "The request body cannot be read"},
    401: {"description": "Not signed in"},
    422: {"description": "Invalid input; `detail` says where and why"},
}


def client_address(request: Request) -> str:
    """The address the connection came from, as the server saw it; never a header's word.

    The app reads no X-Forwarded-For itself (a client can write anything there). Under
    `specialistly serve`, uvicorn puts the forwarded address here only for a proxy listed in
    its trusted-proxy setting FORWARDED_ALLOW_IPS (default: this host, 127.0.0.1 and ::1).
    """
    return request.client.host if request.client else "unknown"
