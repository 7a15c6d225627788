"""Bookings over HTTP: customers book and manage with their token; specialists see theirs."""

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Header, HTTPException, Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from sqlalchemy import select

from specialistly.bookings import service
from specialistly.bookings.flows import (
    BookingCancelled,
    BookingNotFound,
    Customer,
    IdempotencyKeyReused,
    NotBookable,
    SlotNotFound,
    SlotTaken,
    TooLateToChange,
)
from specialistly.bookings.models import Booking
from specialistly.deps import API_ERRORS, Ctx, CurrentSpecialist, MaybeSpecialist
from specialistly.scheduling.models import EventType
from specialistly.scheduling.service import EventTypeNotFound
from specialistly.text import Text

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"], responses=API_ERRORS)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ManageToken = Annotated[
    str | None, Query(max_length=200, description="the customer's manage_token")
]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone, e.g. Asia/Tokyo") from None
    return name


Zone = Annotated[Text, Field(min_length=1, max_length=64), AfterValidator(_zone)]


def _plausible(moment: datetime) -> datetime:
    if not 2000 <= moment.year <= 3000:
        raise ValueError("not a time anyone can book: give one of the times offered")
    return moment


# A start with its offset, in a range where time arithmetic cannot overflow.
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


class NewBooking(BaseModel):
    """A one-off slot (`slot_id`), or an event type at one of its bookable times."""

    model_config = ConfigDict(str_strip_whitespace=True)

    slot_id: int | None = Field(None, ge=1, le=2**31 - 1)
    event_type_id: int | None = Field(None, ge=1, le=2**31 - 1)
    start_time: Instant | None = Field(
        None, description="with event_type_id: one of GET /specialists/{id}/times' starts"
    )
    customer_name: Text = Field(min_length=1, max_length=200)
    customer_email: EmailStr = Field(max_length=320)
    customer_timezone: Zone | None = Field(
        None,
        description="the customer's IANA zone for every time they see (default: the specialist's)",
    )

    @model_validator(mode="after")
    def one_way_to_book(self) -> "NewBooking":
        by_time = self.event_type_id is not None or self.start_time is not None
        if self.slot_id is not None and by_time:
            raise ValueError("give slot_id, or event_type_id with start_time, not both")
        if self.slot_id is None and (self.event_type_id is None or self.start_time is None):
            raise ValueError("give slot_id, or event_type_id with start_time")
        return self


class Cancellation(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: Text | None = Field(None, max_length=500, description="told to the other party")


class NewTime(BaseModel):
    """Where to move a booking: a new start (an event type's booking), or another one-off slot."""

    start_time: Instant | None = Field(
        None, description="one of GET /specialists/{id}/times' starts for the booking's event type"
    )
    slot_id: int | None = Field(None, ge=1, le=2**31 - 1, description="a one-off slot's booking")

    @model_validator(mode="after")
    def one_way_to_move(self) -> "NewTime":
        if (self.start_time is None) == (self.slot_id is None):
            raise ValueError("give start_time, or slot_id for a one-off slot's booking")
        return self


class EventTypeRef(BaseModel):
    id: int
    name: str


class MeetingOut(BaseModel):
    status: Literal["created", "pending", "failed"]
    provider: Literal["specialist_zoom", "platform_zoom"] | None
    join_url: str | None


class BookingOut(BaseModel):
    id: int
    status: Literal["confirmed", "cancelled"]
    reference: str
    slot_id: int | None
    event_type_id: int | None
    event_type: EventTypeRef | None = Field(None, description="the kind of consultation booked")
    start_time: datetime
    end_time: datetime
    duration_minutes: int
    customer_name: str
    customer_email: str
    customer_timezone: str | None
    cancel_reason: str | None
    manage_token: str | None = None
    meeting: MeetingOut
    start_url: str | None = Field(None, description="the host's start link (specialist only)")


async def _names(ctx: Ctx, bookings: list[Booking]) -> dict[int, str]:
    """The names of the event types these bookings are of, in one read."""
    wanted = {b.event_type_id for b in bookings if b.event_type_id is not None}
    if not wanted:
        return {}
    async with ctx.db.reading() as session:
        rows = await session.execute(
            select(EventType.id, EventType.name).where(EventType.id.in_(wanted))
        )
        return {int(kind): str(name) for kind, name in rows.all()}


def _out(
    booking: Booking,
    *,
    manage_token: str | None = None,
    start_url: str | None = None,
    names: dict[int, str] | None = None,
) -> BookingOut:
    created = booking.meeting_status.value == "created"
    return BookingOut(
        id=booking.id,
        status=booking.status.value,
        reference=booking.reference,
        slot_id=booking.slot_id,
        event_type_id=booking.event_type_id,
        event_type=EventTypeRef(id=booking.event_type_id, name=names[booking.event_type_id])
        if names and booking.event_type_id in names
        else None,
        start_time=booking.start_time,
        end_time=booking.start_time + timedelta(minutes=booking.duration_minutes),
        duration_minutes=booking.duration_minutes,
        customer_name=booking.customer_name,
        customer_email=booking.customer_email,
        customer_timezone=booking.customer_timezone,
        cancel_reason=booking.cancel_reason,
        manage_token=manage_token,
        meeting=MeetingOut(
            status=booking.meeting_status.value,
            provider=booking.meeting_provider.value
            if created and booking.meeting_provider
            else None,
            join_url=booking.join_url if created else None,
        ),
        start_url=start_url,
    )


@router.post(
    "",
    status_code=201,
    responses={
        404: {"description": "No such slot"},
        409: {"description": "Slot taken"},
        422: {"description": "Bad input, or an Idempotency-Key reused for another request"},
    },
)
async def book(
    body: NewBooking,
    ctx: Ctx,
    idempotency_key: Annotated[Text | None, Header(max_length=200)] = None,
) -> BookingOut:
    """Book a slot. The booking is confirmed whatever Zoom does; the meeting follows."""
    customer = Customer(body.customer_name, str(body.customer_email), body.customer_timezone)
    try:
        if body.slot_id is not None:
            booking, _ = await ctx.bookings.book(body.slot_id, customer, idempotency_key)
        else:
            assert body.event_type_id is not None
            assert body.start_time is not None
            booking, _ = await ctx.bookings.book_time(
                body.event_type_id, body.start_time, customer, idempotency_key
            )
    except SlotNotFound:
        raise HTTPException(404, "No such slot.") from None
    except EventTypeNotFound:
        raise HTTPException(404, "No such event type.") from None
    except NotBookable as refused:
        raise HTTPException(409, f"Not bookable: {refused}.") from None
    except SlotTaken as taken:
        raise HTTPException(409, f"Slot not available: {taken}.") from None
    except IdempotencyKeyReused as reused:
        raise HTTPException(422, str(reused)) from None
    return _out(
        booking,
        manage_token=ctx.bookings.manage_token(booking),
        names=await _names(ctx, [booking]),
    )


async def _visible(
    booking_id: int, token: str | None, specialist: MaybeSpecialist, ctx: Ctx
) -> tuple[Booking, bool]:
    """The booking for its customer (by token) or its specialist; else 404 alike."""
    try:
        if token:
            return await ctx.bookings.for_customer(booking_id, token), False
        booking = await ctx.bookings.get(booking_id)
    except BookingNotFound:
        raise HTTPException(404, "No such booking.") from None
    if specialist is None or booking.specialist_id != specialist.id:
        raise HTTPException(404, "No such booking.")
    return booking, True


async def _for(booking: Booking, as_specialist: bool, token: str | None, ctx: Ctx) -> BookingOut:
    names = await _names(ctx, [booking])
    if as_specialist:
        return _out(booking, start_url=ctx.bookings.start_url(booking), names=names)
    return _out(booking, manage_token=token, names=names)


@router.get("/{booking_id}", responses={404: {"description": "No such booking"}})
async def get_booking(
    booking_id: DbId, ctx: Ctx, specialist: MaybeSpecialist, token: ManageToken = None
) -> BookingOut:
    """Read a booking with its manage token, or as its specialist."""
    booking, as_specialist = await _visible(booking_id, token, specialist, ctx)
    return await _for(booking, as_specialist, token, ctx)


@router.post(
    "/{booking_id}/reschedule",
    responses={
        404: {"description": "No such booking, or no such slot"},
        409: {"description": "The new time is not bookable, or the booking is cancelled"},
        422: {"description": "Bad input, or the customer is past the cutoff"},
    },
)
async def reschedule_booking(
    booking_id: DbId,
    body: NewTime,
    ctx: Ctx,
    specialist: MaybeSpecialist,
    token: ManageToken = None,
) -> BookingOut:
    """Move the booking to another bookable time: the same Zoom meeting and join link follow."""
    booking, as_specialist = await _visible(booking_id, token, specialist, ctx)
    try:
        moved = await ctx.bookings.reschedule(
            booking.id,
            start_time=body.start_time,
            slot_id=body.slot_id,
            by_specialist=as_specialist,
        )
    except SlotNotFound:
        raise HTTPException(404, "No such slot.") from None
    except BookingCancelled:
        raise HTTPException(409, "This booking is cancelled.") from None
    except (NotBookable, SlotTaken) as refused:
        raise HTTPException(409, f"Not bookable: {refused}.") from None
    except TooLateToChange as late:
        raise HTTPException(422, f"Too late to change online: {late}.") from None
    return await _for(moved, as_specialist, token, ctx)


@router.post(
    "/{booking_id}/cancel",
    responses={
        404: {"description": "No such booking"},
        422: {"description": "Bad input, or the customer is past the cutoff"},
    },
)
async def cancel_booking(
    booking_id: DbId,
    ctx: Ctx,
    specialist: MaybeSpecialist,
    token: ManageToken = None,
    body: Cancellation | None = None,
) -> BookingOut:
    """Cancel: the slot is free again, the Zoom meeting is deleted, the reason is passed on."""
    booking, as_specialist = await _visible(booking_id, token, specialist, ctx)
    reason = body.reason if body else None
    try:
        cancelled = await ctx.bookings.cancel(
            booking.id, reason=reason, by_specialist=as_specialist
        )
    except TooLateToChange as late:
        raise HTTPException(422, f"Too late to change online: {late}.") from None
    return await _for(cancelled, as_specialist, token, ctx)


@router.get("", responses={401: {"description": "Signed out"}})
async def my_bookings(specialist: CurrentSpecialist, ctx: Ctx) -> list[BookingOut]:
    """The signed-in specialist's bookings, newest start first, with the host's start links."""
    async with ctx.db.reading() as session:
        rows = await service.of_specialist(session, specialist.id)
    names = await _names(ctx, rows)
    return [_out(b, start_url=ctx.bookings.start_url(b), names=names) for b in rows]
