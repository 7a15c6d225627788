"""Event types, working hours and bookable times over HTTP.

A specialist manages their own event types and hours (another's answer 404); anyone reads a
specialist's active event types and bookable times.
"""

from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Path, Query, Response

from specialistly.deps import API_ERRORS, Ctx, CurrentSpecialist
from specialistly.scheduling import service
from specialistly.scheduling.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    EventTypeChange,
    EventTypeOut,
    NewEventType,
)
from specialistly.scheduling.times_query import RangeRejected, TimesOut, time_range, times_json

router = APIRouter(prefix="/api/v1", tags=["scheduling"], responses=API_ERRORS)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such event type of yours"}}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RangeRejected("timezone is not an IANA time zone, e.g. Europe/Berlin") from None


@router.get("/event-types")
async def list_event_types(specialist: CurrentSpecialist, ctx: Ctx) -> list[EventTypeOut]:
    """The signed-in specialist's event types, active or not."""
    async with ctx.db.reading() as session:
        found = await service.event_types(session, specialist.id, active_only=False)
    return [EventTypeOut.of(kind) for kind in found]


@router.post("/event-types", status_code=201)
async def create_event_type(
    body: NewEventType, specialist: CurrentSpecialist, ctx: Ctx
) -> EventTypeOut:
    """Add a kind of consultation."""
    async with ctx.db.transaction() as session:
        created = await service.add_event_type(
            session, specialist.id, body.model_dump(), ctx.clock.now()
        )
    return EventTypeOut.of(created)


@router.patch("/event-types/{event_type_id}", responses=NOT_FOUND)
async def change_event_type(
    event_type_id: DbId, body: EventTypeChange, specialist: CurrentSpecialist, ctx: Ctx
) -> EventTypeOut:
    """Change the fields given; the others stay."""
    try:
        async with ctx.db.transaction() as session:
            changed = await service.change_event_type(
                session, specialist.id, event_type_id, body.changes()
            )
    except service.EventTypeNotFound:
        raise HTTPException(404, "No such event type.") from None
    return EventTypeOut.of(changed)


@router.delete("/event-types/{event_type_id}", status_code=204, responses=NOT_FOUND)
async def delete_event_type(
    event_type_id: DbId, specialist: CurrentSpecialist, ctx: Ctx
) -> Response:
    """Delete it (one that bookings use is hidden and deactivated, and they keep it)."""
    try:
        async with ctx.db.transaction() as session:
            await service.remove_event_type(session, specialist.id, event_type_id, ctx.clock.now())
    except service.EventTypeNotFound:
        raise HTTPException(404, "No such event type.") from None
    return Response(status_code=204)


@router.get("/availability")
async def get_availability(specialist: CurrentSpecialist, ctx: Ctx) -> AvailabilityOut:
    """The signed-in specialist's working hours, in their time zone."""
    async with ctx.db.reading() as session:
        hours = await service.hours(session, specialist.id)
    return AvailabilityOut.of(specialist.timezone, hours)


@router.put("/availability")
async def put_availability(
    body: AvailabilityIn, specialist: CurrentSpecialist, ctx: Ctx
) -> AvailabilityOut:
    """Replace the whole set of working hours at once."""
    async with ctx.db.transaction() as session:
        await service.replace_hours(session, specialist.id, body.hours())
        hours = await service.hours(session, specialist.id)
    return AvailabilityOut.of(specialist.timezone, hours)


@router.get(
    "/specialists/{specialist_id}/event-types",
    responses={404: {"description": "No such specialist"}},
)
async def public_event_types(specialist_id: DbId, ctx: Ctx) -> list[EventTypeOut]:
    """A specialist's active event types."""
    try:
        async with ctx.db.reading() as session:
            await service.specialist(session, specialist_id)
            found = await service.event_types(session, specialist_id, active_only=True)
    except service.SpecialistNotFound:
        raise HTTPException(404, "No such specialist.") from None
    return [EventTypeOut.of(kind) for kind in found]


@router.get(
    "/specialists/{specialist_id}/times",
    responses={404: {"description": "No such specialist, or no such active event type of theirs"}},
    response_model=TimesOut,
)
async def bookable_times(
    specialist_id: DbId,
    ctx: Ctx,
    event_type_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    start: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            description="ISO date (a day in `timezone`) or instant with an offset; default now",
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description="ISO date (inclusive) or instant (exclusive); default `from` + 14 days; "
            "at most 62 days after `from`",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        Query(max_length=64, description="the zone of dates in from/to; default the specialist's"),
    ] = None,
) -> Response:
    """Every bookable start of the event type in the range, in UTC."""
    now = ctx.clock.now()
    try:
        async with ctx.db.reading() as session:
            specialist = await service.specialist(session, specialist_id)
            first, last = time_range(start, end, _zone(timezone or specialist.timezone), now)
            kind = await service.event_type(session, specialist_id, event_type_id, active_only=True)
            starts = await service.times(
                session, specialist, kind, now=now, range_start=first, range_end=last
            )
    except service.SpecialistNotFound:
        raise HTTPException(404, "No such specialist.") from None
    except RangeRejected as rejected:
        raise HTTPException(422, str(rejected)) from None
    except service.EventTypeNotFound:
        raise HTTPException(404, "No such event type for this specialist.") from None
    body = times_json(starts, timedelta(minutes=kind.duration_minutes))
    return Response(body, media_type="application/json")
