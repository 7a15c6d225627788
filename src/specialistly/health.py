"""Liveness and readiness for load balancers and operators."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 when the database is reachable and migrated to the newest revision."""
    ready, detail = await request.app.state.ctx.db.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "detail": detail},
        status_code=200 if ready else 503,
    )
