"""The signed-in specialist's notifications."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel

from specialistly.deps import API_ERRORS, Ctx, CurrentSpecialist
from specialistly.notifications import service

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], responses=API_ERRORS)


class NotificationOut(BaseModel):
    id: int
    kind: str
    message: str
    link: str | None
    created_at: datetime
    read: bool


@router.get("", responses={401: {"description": "Signed out"}})
async def notifications(specialist: CurrentSpecialist, ctx: Ctx) -> list[NotificationOut]:
    """Newest first."""
    async with ctx.db.reading() as session:
        rows = await service.list_for(session, specialist.id)
    return [
        NotificationOut(
            id=n.id,
            kind=n.kind,
            message=n.message,
            link=n.link,
            created_at=n.created_at,
            read=n.read,
        )
        for n in rows
    ]


@router.post(
    "/{notification_id}/read",
    status_code=204,
    responses={401: {"description": "Signed out"}, 404: {"description": "No such notification"}},
)
async def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    specialist: CurrentSpecialist,
    ctx: Ctx,
) -> Response:
    async with ctx.db.transaction() as session:
        if not await service.mark_read(session, specialist.id, notification_id):
            raise HTTPException(404, "No such notification.")
    return Response(status_code=204)
