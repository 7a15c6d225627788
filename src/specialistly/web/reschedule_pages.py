"""Moving a booking: the customer with the manage link, the specialist from the dashboard.

Both pick from the same by-day picker as the booking page: the booking's own event type's
times (its own time does not stand in the way), or the free one-off slots for a slot's
booking. `Bookings.reschedule` decides; these pages only show and ask.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.bookings.flows import (
    BookingCancelled,
    BookingNotFound,
    NotBookable,
    SlotNotFound,
    SlotTaken,
    TooLateToChange,
)
from specialistly.bookings.models import Booking
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.scheduling.models import EventType
from specialistly.specialists.models import Specialist
from specialistly.web import flash, picker, zones
from specialistly.web.booking_admin import own_booking
from specialistly.web.dashboard import to_login
from specialistly.web.manage import customer_booking, span
from specialistly.web.pages import form_data, not_found, render, zone_or
from specialistly.web.public import chosen_slot, chosen_start

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@dataclass(frozen=True)
class Mover:
    """Who is moving the booking, and where their pages and links lead."""

    by_specialist: bool
    action: str  # where the form posts
    back: str  # where "keep the current time" and success lead
    token: str = ""

    def page_url(self, **query: object) -> str:
        given = {k: str(v) for k, v in {"token": self.token, **query}.items() if v}
        return self.action + ("?" + urlencode(given) if given else "")


def _customer(booking_id: int, token: str) -> Mover:
    manage = f"/bookings/{booking_id}?token={token}"
    return Mover(False, f"/bookings/{booking_id}/reschedule", manage, token)


def _specialist(booking_id: int) -> Mover:
    return Mover(True, f"/dashboard/bookings/{booking_id}/reschedule", "/dashboard#bookings-card")


async def _offers(
    ctx: Ctx, booking: Booking, shown: picker.Span
) -> tuple[Specialist, EventType | None, list[tuple[datetime, int, str]]]:
    """The times the booking can move to, besides the one it has."""
    now = ctx.clock.now()
    async with ctx.db.reading() as session:
        specialist = await session.get(Specialist, booking.specialist_id)
        assert specialist is not None  # the foreign key guarantees it
        kind = (
            await session.get(EventType, booking.event_type_id) if booking.event_type_id else None
        )
        if kind is None:
            offers = await picker.open_slots(session, specialist.id, shown, now, moving=booking.id)
        elif kind.active and kind.deleted_at is None:
            offers = await picker.event_times(
                session, specialist, kind, shown, now, moving=booking.id
            )
        else:
            offers = []
    return specialist, kind, [o for o in offers if o[0] != booking.start_time]


async def _page(
    request: Request,
    ctx: Ctx,
    me: Specialist | None,
    booking: Booking,
    mover: Mover,
    query: dict[str, str],
    error: str | None = None,
) -> Response:
    default = me.timezone if mover.by_specialist and me else booking.customer_timezone or ""
    zone = zone_or(query.get("tz"), default) or "UTC"
    shown = picker.span(query.get("from"), zone, ctx.clock.now())
    specialist, kind, offers = await _offers(ctx, booking, shown)
    retired = kind is not None and (not kind.active or kind.deleted_at is not None)
    context: dict[str, Any] = {
        "booking": booking,
        "specialist": specialist,
        "mover": mover,
        "kind_name": kind.name if kind else "One-off time",
        "retired": retired,
        "now_when": span(booking, zone),
        "tz": zone,
        "zones": zones.regions(ctx.clock.now(), zone),
        "days": picker.by_day(offers, zone),
        "field": "slot_id" if kind is None else "start_time",
        "first_day": shown.first_day.isoformat(),
        "earlier_url": mover.page_url(tz=zone, **{"from": shown.earlier})
        if shown.earlier
        else None,
        "later_url": mover.page_url(tz=zone, **{"from": shown.later}),
        "error": error,
        "selected": query.get("selected", ""),
    }
    return render(request, ctx, "reschedule.html", context, me=me)


def _refusal(problem: Exception) -> str:
    """Why the move did not happen, in plain words."""
    if isinstance(problem, SlotTaken | SlotNotFound):
        return "That time was just taken. Please choose another."
    if isinstance(problem, BookingCancelled):
        return "This booking is cancelled, so it cannot be moved."
    text = str(problem) or "That time cannot be booked"
    return text[0].upper() + text[1:] + "."


async def _move(ctx: Ctx, booking: Booking, form: dict[str, str], mover: Mover) -> str | None:
    """Reschedule to the time the form chose; answer why not, or None when it moved."""
    start, slot_id = chosen_start(form.get("start_time", "")), chosen_slot(form.get("slot_id", ""))
    if start is None and slot_id is None:
        return "Choose a new time."
    try:
        await ctx.bookings.reschedule(
            booking.id, start_time=start, slot_id=slot_id, by_specialist=mover.by_specialist
        )
    except (NotBookable, SlotTaken, SlotNotFound, BookingCancelled, TooLateToChange) as refused:
        return _refusal(refused)
    return None


@router.get("/bookings/{booking_id}/reschedule")
async def customer_page(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist, token: str = ""
) -> Response:
    booking = await customer_booking(request, ctx, me, booking_id, token)
    if isinstance(booking, Response):
        return booking
    query = {k: request.query_params.get(k, "")[:64] for k in ("tz", "from")}
    mover = _customer(booking_id, token[:200])
    return await _page(request, ctx, me, booking, mover, *_with_kept(request, query))


@router.post("/bookings/{booking_id}/reschedule")
async def customer_move(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    form = await form_data(request, ctx)
    token = form.get("token", "")[:200]
    booking = await customer_booking(request, ctx, me, booking_id, token)
    if isinstance(booking, Response):
        return booking
    mover = _customer(booking_id, token)
    refused = await _move(ctx, booking, form, mover)
    if refused is None:
        return RedirectResponse(f"{mover.back}&moved=1", status_code=303)
    return _back(request, mover, form, refused)


def _back(request: Request, mover: Mover, form: dict[str, str], refused: str) -> Response:
    """Back to the picker (post/redirect/get) with why not, and what was chosen."""
    chosen = form.get("start_time") or form.get("slot_id") or ""
    query = {"tz": form.get("tz", "")[:64], "from": form.get("from", "")[:64]}
    kept = flash.Kept("move", {"time": refused}, {"selected": chosen[:64]})
    return flash.redirect(request, mover.page_url(**query) + "#times", mover.action, kept)


def _with_kept(request: Request, query: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """The page's query with the choice a refused move kept, and why it was refused."""
    kept = flash.take(request)
    if kept is None:
        return query, None
    return {**query, "selected": kept.values.get("selected", "")}, kept.errors.get("time")


async def _own_or_404(
    request: Request, ctx: Ctx, me: Specialist, booking_id: int
) -> Booking | Response:
    try:
        return await own_booking(ctx, me, booking_id)
    except BookingNotFound:
        return not_found(request, ctx, me, "Booking not found", "It is not one of your bookings.")


@router.get("/dashboard/bookings/{booking_id}/reschedule")
async def specialist_page(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    if me is None:
        return to_login()
    booking = await _own_or_404(request, ctx, me, booking_id)
    if isinstance(booking, Response):
        return booking
    query = {"from": request.query_params.get("from", "")[:64]}
    return await _page(
        request, ctx, me, booking, _specialist(booking_id), *_with_kept(request, query)
    )


@router.post("/dashboard/bookings/{booking_id}/reschedule")
async def specialist_move(
    request: Request, booking_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    booking = await _own_or_404(request, ctx, me, booking_id)
    if isinstance(booking, Response):
        return booking
    mover = _specialist(booking_id)
    refused = await _move(ctx, booking, form, mover)
    if refused is None:
        return RedirectResponse("/dashboard?done=booking-moved#bookings-card", status_code=303)
    return _back(request, mover, form, refused)
