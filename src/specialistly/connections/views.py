"""Connect, callback, status and disconnect: HTTP in, flows out, nothing else."""

import logging
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from specialistly.config import CALLBACK_PATH
from specialistly.connections import service
from specialistly.connections.errors import ConnectFailed
from specialistly.connections.flows import RECONNECT_PATH
from specialistly.deps import API_ERRORS, Ctx, CurrentSpecialist, MaybeSpecialist

log = logging.getLogger(__name__)
router = APIRouter(tags=["zoom connection"], responses=API_ERRORS)


class ZoomStatus(BaseModel):
    status: Literal["not_connected", "connected", "needs_reconnect"]
    zoom_email: str | None = None
    zoom_user_id: str | None = None
    access_token_expires_at: datetime | None = None
    expires_in_minutes: int | None = None
    last_refreshed_at: datetime | None = None
    refresh_error_count: int = 0
    last_error: str | None = None


@router.get(
    "/api/v1/zoom/connect",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To Zoom's consent page"}, 401: {"description": "Signed out"}},
)
async def connect(specialist: CurrentSpecialist, ctx: Ctx) -> RedirectResponse:
    """Send the specialist to Zoom with a single-use state and a PKCE S256 challenge."""
    return RedirectResponse(await ctx.connections.start_connect(specialist.id), status_code=302)


@router.get(RECONNECT_PATH, status_code=302, include_in_schema=False)
async def reconnect(specialist: MaybeSpecialist, ctx: Ctx) -> RedirectResponse:
    """The link in the reconnect email: sign in if needed, then straight to Zoom."""
    if specialist is None:
        return RedirectResponse("/login?" + urlencode({"next": RECONNECT_PATH}), status_code=302)
    return RedirectResponse(await ctx.connections.start_connect(specialist.id), status_code=302)


@router.get(
    CALLBACK_PATH,
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the dashboard"}},
)
async def callback(
    request: Request,
    specialist: MaybeSpecialist,
    ctx: Ctx,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> RedirectResponse:
    """Finish connecting; land on the dashboard saying whether it worked and why not."""
    try:
        await ctx.connections.finish_connect(
            specialist.id if specialist else None, state=state, code=code, error=error
        )
    except ConnectFailed as failed:
        # Zoom failing us is the operator's business; a declined or stale sign-in is not.
        level = logging.WARNING if failed.reason == "zoom_unavailable" else logging.INFO
        # The detail may come from the callback URL (%r: it stays on one line).
        log.log(level, "Connecting Zoom did not complete: %s (%r)", failed.reason, failed.detail)
        query = {"zoom": "error", "reason": failed.reason}
        if failed.reason == "missing_scopes":
            query["missing"] = failed.detail
        return RedirectResponse("/dashboard?" + urlencode(query), status_code=302)
    return RedirectResponse("/dashboard?zoom=connected", status_code=302)


@router.get("/api/v1/zoom/status", responses={401: {"description": "Signed out"}})
async def status(specialist: CurrentSpecialist, ctx: Ctx) -> ZoomStatus:
    """The signed-in specialist's Zoom connection, never its tokens."""
    async with ctx.db.reading() as session:
        connection = await service.get(session, specialist.id)
    if connection is None:
        return ZoomStatus(status="not_connected")
    expiry = connection.access_token_expires_at
    minutes = None
    if expiry is not None and connection.access_token is not None:
        minutes = max(0, int((expiry - ctx.clock.now()).total_seconds() // 60))
    return ZoomStatus(
        status=connection.status.value,
        zoom_email=connection.zoom_email,
        zoom_user_id=connection.zoom_user_id,
        access_token_expires_at=expiry if connection.access_token else None,
        expires_in_minutes=minutes,
        last_refreshed_at=connection.last_refreshed_at,
        refresh_error_count=connection.refresh_error_count,
        last_error=connection.last_error,
    )


@router.delete(
    "/api/v1/zoom/connection", status_code=204, responses={401: {"description": "Signed out"}}
)
async def disconnect(specialist: CurrentSpecialist, ctx: Ctx) -> Response:
    """Revoke the grant at Zoom, then delete the tokens."""
    await ctx.connections.disconnect(specialist.id)
    return Response(status_code=204)
