"""Liveness and readiness for load balancers and operators."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from specialistly import observability
from specialistly.bookings.models import Booking, BookingStatus, MeetingStatus
from specialistly.connections.models import ConnectionStatus, ZoomConnection
from specialistly.notifications.models import OutboxEmail, OutboxStatus

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


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text: this process's counters and pools, and database-wide gauges read now."""
    ctx = request.app.state.ctx
    async with ctx.db.reading() as session:
        rows = await session.execute(
            select(ZoomConnection.status, func.count()).group_by(ZoomConnection.status)
        )
        by_status = {status: int(count) for status, count in rows.all()}
        pending = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.meeting_status == MeetingStatus.PENDING,
            )
        )
        emails = await session.execute(
            select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
        )
        emails_by_status = {status: int(count) for status, count in emails.all()}
    for status in ConnectionStatus:
        observability.CONNECTIONS.labels(status.value).set(by_status.get(status, 0))
    observability.PENDING_MEETINGS.set(pending or 0)
    observability.observe_pools(ctx.db.engines)
    for email_status in OutboxStatus:
        observability.OUTBOX_EMAILS.labels(email_status.value).set(
            emails_by_status.get(email_status, 0)
        )
    return PlainTextResponse(
        generate_latest(observability.REGISTRY).decode(), media_type=CONTENT_TYPE_LATEST
    )
