"""Slots over HTTP: a specialist manages theirs; anyone lists specialists and open slots."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import AwareDatetime, BaseModel, Field

from specialistly.deps import API_ERRORS, Ctx, CurrentSpecialist
from specialistly.specialists import slots
from specialistly.specialists.models import Slot, Specialist

router = APIRouter(prefix="/api/v1", tags=["slots"], responses=API_ERRORS)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class NewSlot(BaseModel):
    start_time: AwareDatetime = Field(
        description="ISO 8601 with an offset, e.g. 2027-01-15T09:00:00-05:00"
    )
    duration_minutes: int = Field(ge=5, le=480)


class SlotOut(BaseModel):
    id: int
    start_time: datetime
    duration_minutes: int
    available: bool

    @classmethod
    def of(cls, slot: Slot, available: bool) -> "SlotOut":
        return cls(
            id=slot.id,
            start_time=slot.start_time.astimezone(UTC),
            duration_minutes=slot.duration_minutes,
            available=available,
        )


class SpecialistCard(BaseModel):
    id: int
    name: str
    timezone: str


@router.post(
    "/slots",
    status_code=201,
    responses={401: {"description": "Signed out"}, 422: {"description": "Past or overlapping"}},
)
async def create_slot(body: NewSlot, specialist: CurrentSpecialist, ctx: Ctx) -> SlotOut:
    """Offer a slot; it is stored in UTC."""
    try:
        async with ctx.db.transaction() as session:
            slot = await slots.create(
                session, specialist.id, body.start_time, body.duration_minutes, ctx.clock.now()
            )
    except slots.SlotRejected as rejected:
        raise HTTPException(422, str(rejected)) from None
    return SlotOut.of(slot, available=True)


@router.delete(
    "/slots/{slot_id}",
    status_code=204,
    responses={404: {"description": "No such slot"}, 409: {"description": "Booked"}},
)
async def delete_slot(slot_id: DbId, specialist: CurrentSpecialist, ctx: Ctx) -> Response:
    try:
        async with ctx.db.transaction() as session:
            found = await slots.delete(session, specialist.id, slot_id, ctx.clock.now())
    except slots.SlotBooked as booked:
        raise HTTPException(409, str(booked)) from None
    if not found:
        raise HTTPException(404, "No such slot.")
    return Response(status_code=204)


@router.get("/specialists")
async def list_specialists(ctx: Ctx) -> list[SpecialistCard]:
    """Everyone who sells their time here."""
    from sqlalchemy import select

    async with ctx.db.reading() as session:
        rows = await session.scalars(select(Specialist).order_by(Specialist.name).limit(500))
        return [SpecialistCard(id=s.id, name=s.name, timezone=s.timezone) for s in rows]


@router.get(
    "/specialists/{specialist_id}/slots", responses={404: {"description": "No such specialist"}}
)
async def list_slots(specialist_id: DbId, ctx: Ctx, available: bool = False) -> list[SlotOut]:
    """The specialist's future slots (only open ones with `available=true`)."""
    async with ctx.db.reading() as session:
        if await session.get(Specialist, specialist_id) is None:
            raise HTTPException(404, "No such specialist.")
        found = await slots.upcoming(
            session, specialist_id, ctx.clock.now(), available_only=available
        )
    return [SlotOut.of(slot, free) for slot, free in found]
