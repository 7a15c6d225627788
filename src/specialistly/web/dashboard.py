"""The specialist's dashboard: Zoom and its token health, times, bookings, notifications."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.connections import service as connections
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.notifications import service as notifications
from specialistly.scheduling import service as scheduling
from specialistly.specialists import slots
from specialistly.specialists.models import Specialist
from specialistly.web.dashboard_reads import booking_lists, event_type_rows, hours_context
from specialistly.web.pages import form_data, local, render

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]

CONNECT_ERRORS = {
    "access_denied": "You chose Deny on Zoom's page, so Zoom is not connected. Connect again "
    "whenever you are ready.",
    "invalid_state": "That Zoom sign-in link was not valid any more: it was used already or "
    "started in another sign-in. Start again with Connect Zoom.",
    "expired_state": "The Zoom sign-in took longer than 10 minutes. Start again with Connect Zoom.",
    "invalid_code": "Zoom did not accept the sign-in, perhaps because it took too long. Start "
    "again with Connect Zoom.",
    "missing_scopes": "The platform's Zoom app lacks a permission Specialistly needs ({missing}). "
    "The platform operator must add it to the Zoom app; then connect again.",
    "zoom_unavailable": "Zoom did not answer just now. Try again in a minute.",
}
# What each Zoom permission is for, in the words a specialist would use.
SCOPE_PURPOSES = {
    "meeting:write:meeting": "to create a meeting for each booking",
    "meeting:update:meeting": "to move the meeting when a booking is rescheduled",
    "user:read:user": "to read which Zoom account is connected",
}
# What the dashboard says after a change it redirected from (post/redirect/get).
DONE = {
    "event-type-added": "The event type is added: customers can book it now.",
    "event-type-saved": "The event type is saved.",
    "event-type-deleted": "The event type is deleted (bookings already made keep it).",
    "hours-saved": "Your weekly hours are saved.",
    "date-saved": "That date's hours are saved.",
    "date-removed": "That date follows your weekly hours again.",
    "booking-cancelled": "The booking is cancelled; the customer is told.",
    "booking-moved": "The booking is moved; the customer is told and the Zoom link stays.",
}
EVENT_LABELS = {
    "connected": "connected",
    "ok": "renewed",
    "transient": "Zoom busy, retried",
    "dead": "ended by Zoom",
}


def _scopes_in_words(missing: str | None) -> str:
    """Name each missing scope with what Specialistly needs it for."""
    named = [
        f"{scope}, {SCOPE_PURPOSES[scope]}" if scope in SCOPE_PURPOSES else scope
        for scope in (missing or "").split()
    ]
    return "; ".join(named) or "a meeting or user scope"


def _flash(zoom: str | None, reason: str | None, missing: str | None) -> dict[str, str] | None:
    if zoom == "connected":
        return {
            "tone": "good",
            "title": "Zoom is connected.",
            "text": " Every booking now gets a Zoom link at once.",
        }
    if zoom == "error":
        text = CONNECT_ERRORS.get(reason or "", "Zoom could not be connected. Try again.")
        return {
            "tone": "bad",
            "title": "Zoom is not connected.",
            "text": " " + text.format(missing=_scopes_in_words(missing)),
        }
    return None


async def _zoom_card(ctx: Ctx, specialist: Specialist) -> dict[str, Any]:
    async with ctx.db.reading() as session:
        row = await connections.get(session, specialist.id)
        events = await connections.recent_refreshes(session, specialist.id)
    if row is None:
        return {"status": "not_connected"}
    zone, now = specialist.timezone, ctx.clock.now()
    left = 0
    if row.access_token_expires_at is not None and row.access_token is not None:
        left = max(0, int((row.access_token_expires_at - now).total_seconds() // 60))
    return {
        "status": row.status.value,
        "status_label": {
            "connected": "Connected",
            "needs_reconnect": "Needs reconnecting",
            "not_connected": "Not connected",
        }[row.status.value],
        "email": row.zoom_email,
        "minutes_left": min(left, 60),
        "last_refreshed": local(row.last_refreshed_at, zone) if row.last_refreshed_at else None,
        "reason": _plain_reason(row.last_error),
        "events": [
            {
                "outcome": e.outcome,
                "label": EVENT_LABELS.get(e.outcome, e.outcome),
                "at": local(e.at, zone),
            }
            for e in events
        ],
    }


def _plain_reason(last_error: str | None) -> str:
    """Say in plain words why Zoom ended the grant; the technical reason stays in the API."""
    if last_error and "lost in transit" in last_error:
        return (
            "Zoom replaced Specialistly's access key during a routine renewal, but its answer "
            "was lost on the network, so Zoom needs your approval once more."
        )
    return (
        "Zoom no longer accepts Specialistly's access: the app may have been removed or "
        "approved again in Zoom, or the access expired."
    )


def _slot_label(start: datetime, minutes: int, zone: str) -> str:
    return f"{local(start, zone)} · {minutes} min"


@dataclass
class Problem:
    """One dashboard form that came back with errors: which, what was wrong, what was sent."""

    form: str
    errors: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)


async def page(
    request: Request, ctx: Ctx, me: Specialist, problem: Problem | None = None
) -> Response:
    """The dashboard; with `problem`, that form shown again with its errors beside its fields."""
    q = request.query_params
    now, zone = ctx.clock.now(), me.timezone
    async with ctx.db.reading() as session:
        found = await slots.upcoming(session, me.id, now, available_only=False)
        kinds = await scheduling.event_types(session, me.id, active_only=False)
        lists = await booking_lists(ctx, session, me, {k.id: k.name for k in kinds})
        hours = await hours_context(session, me, now)
        notes = await notifications.list_for(session, me.id)
    context = {
        "flash": _flash(q.get("zoom"), q.get("reason"), q.get("missing")),
        "done": DONE.get(q.get("done") or ""),
        "zoom": await _zoom_card(ctx, me),
        "slots": [
            ({"id": s.id, "label": _slot_label(s.start_time, s.duration_minutes, zone)}, free)
            for s, free in found
        ],
        "bookings": lists.upcoming,
        "past": lists.past,
        "kinds": event_type_rows(kinds),
        "hours": hours,
        "notes": [{"when": local(n.created_at, zone), "message": n.message} for n in notes[:10]],
        "problem": problem or Problem("", {}),
    }
    return render(request, ctx, "dashboard.html", context, me=me)


def to_login() -> Response:
    return RedirectResponse("/login?" + urlencode({"next": "/dashboard"}), status_code=303)


@router.get("/dashboard")
async def dashboard(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    return await page(request, ctx, me)


@router.post("/dashboard/slots")
async def add_slot(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    duration = form.get("duration_minutes", "")
    try:
        start = datetime.fromisoformat(form.get("start", "")).replace(tzinfo=ZoneInfo(me.timezone))
        minutes = int(duration)
        if not 5 <= minutes <= 480:
            raise ValueError
    except ValueError:
        return await page(
            request,
            ctx,
            me,
            Problem("slot", {"start": "Enter a date and time, and a length."}, form),
        )
    try:
        async with ctx.db.transaction() as session:
            await slots.create(session, me.id, start, minutes, ctx.clock.now())
    except slots.SlotRejected as rejected:
        return await page(
            request, ctx, me, Problem("slot", {"start": f"Not added: {rejected}."}, form)
        )
    return RedirectResponse("/dashboard", status_code=303)


@router.post("/dashboard/slots/{slot_id}/delete")
async def delete_slot(request: Request, slot_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    try:
        async with ctx.db.transaction() as session:
            await slots.delete(session, me.id, slot_id, ctx.clock.now())
    except slots.SlotBooked:
        return await page(
            request,
            ctx,
            me,
            Problem("slot", {"start": "That time is booked: cancel the booking first."}),
        )
    return RedirectResponse("/dashboard", status_code=303)


@router.post("/dashboard/zoom/disconnect")
async def disconnect(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    await ctx.connections.disconnect(me.id)
    return RedirectResponse("/dashboard", status_code=303)
