"""The customer's booking page (the manage link): confirmation, calendar file, cancel."""

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.bookings.flows import BookingNotFound, TooLateToChange
from specialistly.bookings.invites import invitations
from specialistly.bookings.models import Booking, BookingStatus, MeetingProvider
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.scheduling.models import EventType
from specialistly.specialists.models import Specialist
from specialistly.web import flash
from specialistly.web.pages import form_data, local_span, not_found, render

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
REASON_LIMIT = 500
LOST = (
    "Booking not found",
    "Use the link from your confirmation email: it carries your booking's key.",
)


async def customer_booking(
    request: Request, ctx: Ctx, me: Specialist | None, booking_id: int, token: str
) -> Booking | Response:
    """The booking its manage token opens, or the 404 page saying where the right link is."""
    try:
        return await ctx.bookings.for_customer(booking_id, token[:200])
    except BookingNotFound:
        return not_found(request, ctx, me, *LOST)


def span(booking: Booking, zone: str) -> str:
    """'Saturday 28 November 2026, 02:00–02:30 (Asia/Tokyo)' in the reader's zone."""
    end = booking.start_time + timedelta(minutes=booking.duration_minutes)
    return f"{local_span(booking.start_time, end, zone, '%A %d %B %Y')} ({zone})"


async def _parties(ctx: Ctx, booking: Booking) -> tuple[Specialist, EventType | None]:
    async with ctx.db.reading() as session:
        specialist = await session.get(Specialist, booking.specialist_id)
        kind_id = booking.event_type_id
        kind = await session.get(EventType, kind_id) if kind_id is not None else None
    assert specialist is not None  # the foreign key guarantees it
    return specialist, kind


def _hosted(booking: Booking, specialist: Specialist) -> str:
    if booking.meeting_provider == MeetingProvider.PLATFORM_ZOOM:
        return (
            "Hosted on Specialistly's own Zoom account, because "
            f"{specialist.name}'s Zoom could not be used when you booked."
        )
    return f"Hosted on {specialist.name}'s Zoom account."


def changeable(booking: Booking, ctx: Ctx) -> tuple[bool, str | None]:
    """Whether the customer may still move or cancel it online; if not while it is ahead, why."""
    if booking.status != BookingStatus.CONFIRMED or booking.start_time <= ctx.clock.now():
        return False, None
    cutoff = timedelta(minutes=ctx.settings.reschedule_cutoff_minutes)
    if booking.start_time - ctx.clock.now() < cutoff:
        return False, (
            "It starts soon: bookings can be changed online until "
            f"{ctx.settings.reschedule_cutoff_minutes} minutes before they start. "
            "Please contact the specialist."
        )
    return True, None


async def _show(
    request: Request,
    ctx: Ctx,
    me: Specialist | None,
    booking: Booking,
    token: str,
    problem: str | None = None,
) -> Response:
    specialist, kind = await _parties(ctx, booking)
    zone = booking.customer_timezone or specialist.timezone
    can_change, too_late = changeable(booking, ctx)
    context: dict[str, Any] = {
        "booking": booking,
        "specialist": specialist,
        "kind_name": kind.name if kind else "One-off consultation",
        "token": token,
        "join_url": booking.join_url if booking.meeting_status.value == "created" else None,
        "hosted": _hosted(booking, specialist),
        "when": span(booking, zone),
        "zone": zone,
        "changeable": can_change,
        "too_late": too_late,
        "problem": problem,
        "moved": request.query_params.get("moved") == "1",
        "cancelled_now": request.query_params.get("cancelled") == "1",
        "reason_limit": REASON_LIMIT,
    }
    return render(request, ctx, "booking.html", context, me=me)


@router.get("/bookings/{booking_id}")
async def booking_page(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist, token: str = ""
) -> Response:
    booking = await customer_booking(request, ctx, me, booking_id, token)
    if isinstance(booking, Response):
        return booking
    kept = flash.take(request)
    problem = kept.errors.get("form") if kept else None
    return await _show(request, ctx, me, booking, token[:200], problem)


@router.get("/bookings/{booking_id}/invite.ics")
async def invite(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist, token: str = ""
) -> Response:
    """The same calendar invitation the emails carry (UID, SEQUENCE, METHOD), to download."""
    booking = await customer_booking(request, ctx, me, booking_id, token)
    if isinstance(booking, Response):
        return booking
    specialist, _ = await _parties(ctx, booking)
    # The same link as the emails' invitation: the booking page with its token, none once cancelled.
    link = ctx.meetings.manage_url(booking) if booking.status == BookingStatus.CONFIRMED else None
    customer_invite, _ = invitations(
        booking, specialist, base_url=ctx.settings.base_url, now=ctx.clock.now(), customer_url=link
    )
    params = "".join(f"; {k}={v}" for k, v in customer_invite.params)
    return Response(
        customer_invite.content,
        media_type=f"{customer_invite.content_type}{params}",
        headers={
            "Content-Disposition": f'attachment; filename="{booking.reference}.ics"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/bookings/{booking_id}/cancel")
async def cancel(request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    form = await form_data(request, ctx)
    token = form.get("token", "")[:200]
    try:
        await ctx.bookings.for_customer(booking_id, token)
    except BookingNotFound:
        return not_found(request, ctx, me, *LOST)
    reason = form.get("reason", "")[:REASON_LIMIT] or None
    try:
        await ctx.bookings.cancel(booking_id, reason=reason, by_specialist=False)
    except TooLateToChange as late:
        kept = flash.Kept("cancel", {"form": f"Not cancelled: {late}."})
        url = f"/bookings/{booking_id}?{urlencode({'token': token})}"
        return flash.redirect(request, url, f"/bookings/{booking_id}", kept)
    url = f"/bookings/{booking_id}?{urlencode({'token': token, 'cancelled': '1'})}"
    return RedirectResponse(url, status_code=303)
