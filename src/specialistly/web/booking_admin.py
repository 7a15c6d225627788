"""The specialist's own bookings on the dashboard: cancel (with a reason) and reschedule."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.bookings.flows import BookingNotFound
from specialistly.bookings.models import Booking
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.specialists.models import Specialist
from specialistly.web.dashboard import Problem, back_with, to_login
from specialistly.web.manage import REASON_LIMIT
from specialistly.web.pages import form_data

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def own_booking(ctx: Ctx, me: Specialist, booking_id: int) -> Booking:
    """The booking if it is this specialist's; `BookingNotFound` otherwise."""
    booking = await ctx.bookings.get(booking_id)
    if booking.specialist_id != me.id:
        raise BookingNotFound(booking_id)
    return booking


@router.post("/dashboard/bookings/{booking_id}/cancel")
async def cancel_booking(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    try:
        await own_booking(ctx, me, booking_id)
    except BookingNotFound:
        return back_with(
            request, Problem("bookings", {"form": "No such booking."}), "bookings-card"
        )
    reason = form.get("reason", "")[:REASON_LIMIT] or None
    await ctx.bookings.cancel(booking_id, reason=reason, by_specialist=True)
    return RedirectResponse("/dashboard?done=booking-cancelled#bookings-card", status_code=303)
