"""The specialist's dashboard: Zoom and its token health, times, bookings, notifications."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from specialistly.connections import service as connections
from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.notifications import service as notifications
from specialistly.scheduling import service as scheduling
from specialistly.specialists import slots
from specialistly.specialists.models import Specialist
from specialistly.web import flash
from specialistly.web.dashboard_reads import booking_lists, event_type_rows, hours_context
from specialistly.web.pages import form_data, local, local_span, render
from specialistly.web.profile_reads import profile_context
from specialistly.web.wall_time import NoSuchTime, wall_time

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]

CONNECT_ERRORS = {
    "access_denied": "You chose Deny on Zoom's page, so Specialistly got no access. Connect "
    "again whenever you are ready.",
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
    "slot-added": "The time is added: customers can book it now.",
    "slot-deleted": "The time is deleted.",
    "profile-saved": "Your profile is saved.",
    "note-dismissed": "The notification is dismissed.",
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


def meanwhile(ctx: Ctx) -> str:
    """What happens to new bookings while the specialist's Zoom cannot be used."""
    return ctx.connections.meanwhile()


def _flash(q: Mapping[str, str], zoom: dict[str, Any]) -> dict[str, str] | None:
    """What the Zoom callback's answer means, said as things stand now."""
    status = zoom["status"]
    if q.get("zoom") == "connected" and status == "connected":
        return {
            "tone": "good",
            "title": "Zoom is connected.",
            "text": " Every booking now gets a Zoom link at once.",
        }
    if q.get("zoom") != "error":
        return None
    reason = q.get("reason") or ""
    text = CONNECT_ERRORS.get(reason, "Zoom could not be connected. Try again.")
    text = text.format(missing=_scopes_in_words(q.get("missing")))
    if status == "connected":
        if reason == "access_denied":
            text = "You chose Deny on Zoom's page, so nothing changed."
        title = f"Zoom is still connected as {zoom['email']}."
    elif status == "needs_reconnect":
        title = "Zoom still needs reconnecting."
    else:
        title = "Zoom is not connected."
    return {"tone": "bad", "title": title, "text": " " + text}


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
    return local_span(start, start + timedelta(minutes=minutes), zone)


@dataclass
class Problem:
    """One dashboard form that came back with errors: which, what was wrong, what was sent."""

    form: str
    errors: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)


def back_with(request: Request, problem: Problem, anchor: str) -> Response:
    """Back to the dashboard (post/redirect/get), showing `problem` at the form's card."""
    kept = flash.Kept(problem.form, problem.errors, problem.values)
    return flash.redirect(request, f"/dashboard#{anchor}", "/dashboard", kept)


async def page(request: Request, ctx: Ctx, me: Specialist) -> Response:
    """The dashboard; a form sent back with errors shows them beside its fields."""
    q = request.query_params
    kept = flash.take(request)
    problem = Problem(kept.form, kept.errors, kept.values) if kept else None
    now, zone = ctx.clock.now(), me.timezone
    async with ctx.db.reading() as session:
        found = await slots.upcoming(session, me.id, now, available_only=False)
        kinds = await scheduling.event_types(session, me.id, active_only=False)
        lists = await booking_lists(ctx, session, me, {k.id: k.name for k in kinds})
        hours = await hours_context(session, me, now)
        notes = await notifications.list_for(session, me.id)
    zoom = await _zoom_card(ctx, me)
    context = {
        "flash": _flash(q, zoom),
        "done": DONE.get(q.get("done") or "") or _disconnected(q.get("done"), ctx),
        "zoom": zoom,
        "meanwhile": meanwhile(ctx),
        "platform_fallback": ctx.connections.platform_fallback,
        "slots": [
            ({"id": s.id, "label": _slot_label(s.start_time, s.duration_minutes, zone)}, free)
            for s, free in found
        ],
        "bookings": lists.upcoming,
        "past": lists.past,
        "kinds": event_type_rows(kinds),
        "hours": hours,
        "notes": [
            {"id": n.id, "when": local(n.created_at, zone), "message": n.message}
            for n in notes
            if not n.read
        ][:10],
        "problem": problem or Problem("", {}),
        "profile": profile_context(me, ctx.clock.now(), problem),
    }
    return render(request, ctx, "dashboard.html", context, me=me)


def _disconnected(done: str | None, ctx: Ctx) -> str | None:
    return f"Zoom is disconnected. {meanwhile(ctx)}" if done == "zoom-disconnected" else None


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
    try:
        start = wall_time(form.get("start", ""), me.timezone)
        minutes = int(form.get("duration_minutes", ""))
        if not 5 <= minutes <= 480:
            raise ValueError
    except NoSuchTime as gap:
        return back_with(request, Problem("slot", {"start": str(gap)}, form), "slots-card")
    except ValueError:
        problem = Problem("slot", {"start": "Enter a date and time, and a length."}, form)
        return back_with(request, problem, "slots-card")
    try:
        async with ctx.db.transaction() as session:
            await slots.create(session, me.id, start, minutes, ctx.clock.now())
    except slots.SlotRejected as rejected:
        problem = Problem("slot", {"start": slot_refusal(rejected, start, me.timezone)}, form)
        return back_with(request, problem, "slots-card")
    return RedirectResponse("/dashboard?done=slot-added#slots-card", status_code=303)


def slot_refusal(rejected: slots.SlotRejected, start: datetime, zone: str) -> str:
    """Why a one-off time was not added, with times in the specialist's zone."""
    if isinstance(rejected, slots.SlotOverlaps):
        other = local_span(rejected.other_start, rejected.other_end, zone)
        return f"Not added: it overlaps your one-off time {other}. Choose a time that does not."
    if isinstance(rejected, slots.SlotInPast):
        return (
            f"Not added: {local(start, zone)} has passed already ({zone}). "
            "Choose a time in the future."
        )
    return "Not added: choose a time at most two years ahead."


@router.post("/dashboard/slots/{slot_id}/delete")
async def delete_slot(request: Request, slot_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    try:
        async with ctx.db.transaction() as session:
            await slots.delete(session, me.id, slot_id, ctx.clock.now())
    except slots.SlotBooked:
        problem = Problem("slot", {"start": "That time is booked: cancel the booking first."})
        return back_with(request, problem, "slots-card")
    return RedirectResponse("/dashboard?done=slot-deleted#slots-card", status_code=303)


@router.post("/dashboard/zoom/disconnect")
async def disconnect(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    await ctx.connections.disconnect(me.id)
    return RedirectResponse("/dashboard?done=zoom-disconnected#zoom-card", status_code=303)
