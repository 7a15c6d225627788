"""Pages for customers: specialists, and a specialist's booking page (kinds, times, form)."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.flows import (
    Customer,
    IdempotencyKeyReused,
    NotBookable,
    SlotNotFound,
    SlotOfAnotherSpecialist,
    SlotTaken,
)
from specialistly.bookings.models import Booking
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.models import EventType
from specialistly.specialists import slots
from specialistly.specialists.models import Specialist
from specialistly.web import flash, picker, zones
from specialistly.web.pages import STATIC, form_data, local_span, not_found, render, zone_or

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EMAIL = TypeAdapter(EmailStr)
SLOTS = "slots"  # the choice of one-off slots among the event types


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


@router.get("/")
async def home(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    cards = []
    async with ctx.db.reading() as session:
        specialists = list(
            await session.scalars(select(Specialist).order_by(Specialist.name).limit(100))
        )
        kinds = await _kinds_of(session, [s.id for s in specialists])
        for specialist in specialists:
            found = await slots.upcoming(
                session, specialist.id, ctx.clock.now(), available_only=True
            )
            cards.append(
                {
                    "id": specialist.id,
                    "name": specialist.name,
                    "timezone": specialist.timezone,
                    "kinds": kinds.get(specialist.id, []),
                    "next": [
                        local_span(
                            s.start_time,
                            s.start_time + timedelta(minutes=s.duration_minutes),
                            specialist.timezone,
                        )
                        for s, _ in found[:3]
                    ],
                }
            )
    return render(request, ctx, "home.html", {"cards": cards}, me=me)


async def _kinds_of(session: AsyncSession, specialist_ids: list[int]) -> dict[int, list[str]]:
    """Each specialist's active event types as "Intro call · 30 min", in one query."""
    rows = await session.scalars(
        select(EventType)
        .where(
            EventType.specialist_id.in_(specialist_ids),
            EventType.active.is_(True),
            EventType.deleted_at.is_(None),
        )
        .order_by(EventType.id)
    )
    found: dict[int, list[str]] = {}
    for kind in rows:
        found.setdefault(kind.specialist_id, []).append(
            f"{kind.name} · {kind.duration_minutes} min"
        )
    return found


@dataclass
class Offer:
    """What the booking page offers: the kinds to choose from, and the chosen one's times."""

    specialist: Specialist
    kinds: list[EventType]
    has_slots: bool
    chosen: EventType | str | None
    days: list[picker.Day]


async def read_offer(
    session: AsyncSession,
    specialist: Specialist,
    wanted: str | None,
    shown: picker.Span,
    zone: str,
    now: datetime,
) -> Offer:
    """The specialist's active event types and free slots; the times of the one chosen."""
    kinds = await scheduling.event_types(session, specialist.id, active_only=True)
    has_slots = bool(await slots.upcoming(session, specialist.id, now, available_only=True))
    chosen = _choice(kinds, has_slots, wanted)
    offers: list[tuple[datetime, int, str]] = []
    if isinstance(chosen, EventType):
        offers = await picker.event_times(session, specialist, chosen, shown, now)
    elif chosen == SLOTS:
        offers = await picker.open_slots(session, specialist.id, shown, now)
    return Offer(specialist, kinds, has_slots, chosen, picker.by_day(offers, zone))


def _choice(kinds: list[EventType], has_slots: bool, wanted: str | None) -> EventType | str | None:
    """The kind asked for; with nothing asked and only one kind on offer, that one."""
    if wanted == SLOTS and has_slots:
        return SLOTS
    for kind in kinds:
        if wanted == str(kind.id):
            return kind
    if wanted is None and len(kinds) + has_slots == 1:
        return kinds[0] if kinds else SLOTS
    return None


def _page_url(specialist_id: int, **query: object) -> str:
    given = {k: str(v) for k, v in query.items() if v is not None}
    return f"/specialists/{specialist_id}" + ("?" + urlencode(given) if given else "")


def _booking_context(offer: Offer, zone: str, shown: picker.Span, now: datetime) -> dict[str, Any]:
    sid, chosen = offer.specialist.id, offer.chosen
    chosen_key = str(chosen.id) if isinstance(chosen, EventType) else chosen
    kinds = [
        {
            "key": str(k.id),
            "name": k.name,
            "minutes": k.duration_minutes,
            "description": k.description,
            "url": _page_url(sid, event=k.id, tz=zone) + "#times",
        }
        for k in offer.kinds
    ]
    if offer.has_slots:
        kinds.append(
            {
                "key": SLOTS,
                "name": "One-off times",
                "minutes": None,
                "description": "Times set aside one by one, each with its own length.",
                "url": _page_url(sid, event=SLOTS, tz=zone) + "#times",
            }
        )
    return {
        "specialist": offer.specialist,
        "tz": zone,
        "zones": zones.regions(now, zone),
        "kinds": kinds,
        "chosen": chosen_key,
        "chosen_name": next((k["name"] for k in kinds if k["key"] == chosen_key), ""),
        "field": "slot_id" if chosen == SLOTS else "start_time",
        "days": offer.days,
        "first_day": shown.first_day.isoformat(),
        "earlier_url": _page_url(sid, event=chosen_key, tz=zone, **{"from": shown.earlier})
        if shown.earlier
        else None,
        "later_url": _page_url(sid, event=chosen_key, tz=zone, **{"from": shown.later}),
        "key": "page-" + secrets.token_urlsafe(18),
    }


async def _booking_page(
    request: Request,
    ctx: Ctx,
    me: Specialist | None,
    specialist_id: int,
    query: dict[str, str],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    now = ctx.clock.now()
    async with ctx.db.reading() as session:
        specialist = await session.get(Specialist, specialist_id)
        if specialist is None:
            return not_found(request, ctx, me, "No such specialist", "This page does not exist.")
        zone = zone_or(query.get("tz"), specialist.timezone)
        shown = picker.span(query.get("from"), zone, now)
        offer = await read_offer(session, specialist, query.get("event"), shown, zone, now)
    context = _booking_context(offer, zone, shown, now)
    context |= {"values": values or {}, "errors": errors or {}}
    return render(request, ctx, "specialist.html", context, me=me)


@router.get("/specialists/{specialist_id}")
async def specialist_page(
    request: Request, specialist_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    query = {k: v[:64] for k, v in request.query_params.items() if k in ("tz", "event", "from")}
    kept = flash.take(request)
    if kept is None:
        return await _booking_page(request, ctx, me, specialist_id, query)
    return await _booking_page(
        request, ctx, me, specialist_id, query, values=kept.values, errors=kept.errors
    )


def customer_errors(form: dict[str, str]) -> tuple[dict[str, str], str]:
    """Check the name and email fields; answer the errors and the normalized email."""
    errors: dict[str, str] = {}
    name = form.get("customer_name", "")
    if not name:
        errors["customer_name"] = "Enter your name."
    elif len(name) > 200:
        errors["customer_name"] = "Your name is too long: use at most 200 characters."
    email = form.get("customer_email", "")
    try:
        email = str(EMAIL.validate_python(email)) if len(email) <= 320 else ""
    except ValidationError:
        email = ""
    if not email:
        errors["customer_email"] = "Enter an email address like name@example.com."
    return errors, email


def chosen_start(value: str) -> datetime | None:
    """A start the picker posted back (UTC, ISO 8601), or None.

    Only years the calendar can do arithmetic around: a start in year 1 or 9999 would
    overflow when turned into UTC or given a length.
    """
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 40 else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None or not 1970 < moment.year < 9000:
        return None
    return moment


def chosen_slot(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


@router.post("/specialists/{specialist_id}/book")
async def book(request: Request, specialist_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    form = await form_data(request, ctx)
    zone = zone_or(form.get("customer_timezone") or form.get("tz"), "")
    by_slot = "slot_id" in form or form.get("event") == SLOTS
    errors, email = customer_errors(form)
    slot_id, start = chosen_slot(form.get("slot_id", "")), chosen_start(form.get("start_time", ""))
    if (slot_id if by_slot else start) is None:
        errors["time"] = "Choose a time."
    if not errors:
        customer = Customer(form["customer_name"], email, zone or None)
        key = form.get("key", "")[:100] or None
        try:
            if by_slot:
                booking = await _book_slot(ctx, specialist_id, slot_id, customer, key)
            else:
                kind_id = chosen_slot(form.get("event", ""))
                booking = await _book_time(ctx, specialist_id, kind_id, start, customer, key)
        except SlotOfAnotherSpecialist:
            errors["time"] = "Choose one of the times shown."
        except scheduling.EventTypeNotFound:
            errors["time"] = "That kind of consultation is not offered any more."
        except (SlotNotFound, SlotTaken, NotBookable):
            errors["time"] = "That time was just taken. Please choose another."
        except IdempotencyKeyReused:
            errors["time"] = "This form was sent already. Please choose your time again."
        else:
            token = ctx.bookings.manage_token(booking)
            return RedirectResponse(f"/bookings/{booking.id}?token={token}", status_code=303)
    query = {
        "tz": zone,
        "event": form.get("event", SLOTS if by_slot else ""),
        "from": form.get("from"),
    }
    url = _page_url(specialist_id, **{k: v[:64] for k, v in query.items() if v}) + "#times"
    page = f"/specialists/{specialist_id}"
    return flash.redirect(request, url, page, flash.Kept("book", errors, form))


async def _book_slot(
    ctx: Ctx, specialist_id: int, slot_id: int | None, customer: Customer, key: str | None
) -> Booking:
    assert slot_id is not None  # checked with the other fields
    booking, _ = await ctx.bookings.book(slot_id, customer, key, specialist_id=specialist_id)
    return booking


async def _book_time(
    ctx: Ctx,
    specialist_id: int,
    kind_id: int | None,
    start: datetime | None,
    customer: Customer,
    key: str | None,
) -> Booking:
    """Book the event type at `start`, if it is one of this specialist's."""
    assert start is not None  # checked with the other fields
    if kind_id is None:
        raise scheduling.EventTypeNotFound(kind_id)
    async with ctx.db.reading() as session:
        await scheduling.event_type(session, specialist_id, kind_id, active_only=True)
    booking, _ = await ctx.bookings.book_time(kind_id, start, customer, key)
    return booking
