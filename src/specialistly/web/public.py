"""Pages for customers: specialists, a specialist's times and booking form, the booking."""

from collections import defaultdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import select

from specialistly.bookings.flows import (
    BookingNotFound,
    Customer,
    SlotNotFound,
    SlotOfAnotherSpecialist,
    SlotTaken,
    TooLateToChange,
)
from specialistly.bookings.models import Booking, MeetingProvider
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.specialists import slots
from specialistly.specialists.models import Specialist
from specialistly.web.pages import STATIC, form_data, local, render, zone_or, zones

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EMAIL = TypeAdapter(EmailStr)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/")
async def home(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    cards = []
    async with ctx.db.reading() as session:
        specialists = await session.scalars(select(Specialist).order_by(Specialist.name).limit(100))
        for specialist in specialists:
            found = await slots.upcoming(
                session, specialist.id, ctx.clock.now(), available_only=True
            )
            cards.append(
                {
                    "id": specialist.id,
                    "name": specialist.name,
                    "timezone": specialist.timezone,
                    "next": [local(s.start_time, specialist.timezone) for s, _ in found[:3]],
                }
            )
    return render(request, ctx, "home.html", {"cards": cards}, me=me)


async def _booking_page(
    request: Request,
    ctx: Ctx,
    me: Specialist | None,
    specialist_id: int,
    tz: str | None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with ctx.db.reading() as session:
        specialist = await session.get(Specialist, specialist_id)
        if specialist is None:
            return render(
                request,
                ctx,
                "error.html",
                {"title": "No such specialist", "text": "This page does not exist."},
                me=me,
                status=404,
            )
        found = await slots.upcoming(session, specialist_id, ctx.clock.now(), available_only=True)
    zone = zone_or(tz, specialist.timezone)
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for slot, _ in found:
        day = local(slot.start_time, zone, "%A %d %B %Y")
        days[day].append(
            {
                "id": slot.id,
                "label": local(slot.start_time, zone, "%H:%M") + f" · {slot.duration_minutes} min",
            }
        )
    context = {
        "specialist": specialist,
        "tz": zone,
        "zones": zones(),
        "days": list(days.items()),
        "values": values or {},
        "errors": errors or {},
    }
    return render(request, ctx, "specialist.html", context, me=me, status=status)


@router.get("/specialists/{specialist_id}")
async def specialist_page(
    request: Request, specialist_id: DbId, ctx: Ctx, me: MaybeSpecialist, tz: str | None = None
) -> Response:
    return await _booking_page(request, ctx, me, specialist_id, tz)


@router.post("/specialists/{specialist_id}/book")
async def book(request: Request, specialist_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    form = await form_data(request, ctx)
    errors: dict[str, str] = {}
    slot_id = form.get("slot_id", "")
    if not slot_id.isdigit() or not 0 < int(slot_id) < 2**31:
        errors["slot_id"] = "Choose a time."
    name = form.get("customer_name", "")
    if not name or len(name) > 200:
        errors["customer_name"] = "Enter your name (up to 200 characters)."
    email = form.get("customer_email", "")
    try:
        email = str(EMAIL.validate_python(email)) if len(email) <= 320 else ""
    except ValidationError:
        email = ""
    if not email:
        errors["customer_email"] = "Enter an email address like name@example.com."
    if not errors:
        try:
            visitor_zone = form.get("tz") or None
            customer = Customer(name, email, zone_or(visitor_zone, "") or None)
            booking, _ = await ctx.bookings.book(
                int(slot_id), customer, None, specialist_id=specialist_id
            )
        except SlotOfAnotherSpecialist:
            errors["slot_id"] = "Choose one of the times shown."
        except (SlotNotFound, SlotTaken):
            errors["slot_id"] = "That time was just taken. Please choose another."
        else:
            token = ctx.bookings.manage_token(booking)
            return RedirectResponse(f"/bookings/{booking.id}?token={token}", status_code=303)
    return await _booking_page(
        request,
        ctx,
        me,
        specialist_id,
        form.get("tz"),
        values=form,
        errors=errors,
    )


def _span(booking: Booking, zone: str) -> str:
    """'Saturday 28 November 2026, 02:00–02:30 (Asia/Tokyo)' in the reader's zone."""
    end = booking.start_time + timedelta(minutes=booking.duration_minutes)
    start = local(booking.start_time, zone, "%A %d %B %Y, %H:%M")
    return f"{start}–{local(end, zone, '%H:%M')} ({zone})"


@router.get("/bookings/{booking_id}")
async def booking_page(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist, token: str = ""
) -> Response:
    try:
        booking = await ctx.bookings.for_customer(booking_id, token[:200])
    except BookingNotFound:
        return render(
            request,
            ctx,
            "error.html",
            {
                "title": "Booking not found",
                "text": "Use the link from your confirmation email: it carries your booking's key.",
            },
            me=me,
            status=404,
        )
    async with ctx.db.reading() as session:
        specialist = await session.get(Specialist, booking.specialist_id)
    assert specialist is not None
    created = booking.meeting_status.value == "created"
    hosted = (
        "Hosted on Specialistly's own Zoom account, because "
        f"{specialist.name}'s Zoom could not be used when you booked."
        if booking.meeting_provider == MeetingProvider.PLATFORM_ZOOM
        else f"Hosted on {specialist.name}'s Zoom account."
    )
    context = {
        "booking": booking,
        "specialist": specialist,
        "token": token,
        "join_url": booking.join_url if created else None,
        "hosted": hosted,
        "when": _span(booking, booking.customer_timezone or specialist.timezone),
    }
    return render(request, ctx, "booking.html", context, me=me)


@router.post("/bookings/{booking_id}/cancel")
async def cancel(request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    form = await form_data(request, ctx)
    token = form.get("token", "")[:200]
    try:
        await ctx.bookings.for_customer(booking_id, token)
    except BookingNotFound:
        return render(
            request,
            ctx,
            "error.html",
            {"title": "Booking not found", "text": "Use the link from your confirmation email."},
            me=me,
            status=404,
        )
    try:
        await ctx.bookings.cancel(booking_id)
    except TooLateToChange as late:
        text = f"This booking can no longer be cancelled online: {late}."
        return render(
            request,
            ctx,
            "error.html",
            {"title": "Too late to cancel", "text": text},
            me=me,
            status=422,
        )
    return RedirectResponse(f"/bookings/{booking_id}?token={token}", status_code=303)
