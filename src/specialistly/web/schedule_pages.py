"""The dashboard's scheduling forms: event types, weekly hours, and a date's own hours."""

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.service import Hours
from specialistly.specialists.models import Specialist
from specialistly.web import schedule_forms
from specialistly.web.dashboard import Problem, back_with, to_login
from specialistly.web.pages import form_data, local

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Day = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _done(what: str, anchor: str) -> Response:
    return RedirectResponse(f"/dashboard?done={what}#{anchor}", status_code=303)


@router.post("/dashboard/event-types")
async def add_event_type(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    parsed = schedule_forms.event_type(form)
    if parsed.errors:
        return back_with(request, Problem("new-kind", parsed.errors, form), "kinds-card")
    async with ctx.db.transaction() as session:
        await scheduling.add_event_type(session, me.id, parsed.value, ctx.clock.now())
    return _done("event-type-added", "kinds-card")


@router.post("/dashboard/event-types/{kind_id}")
async def change_event_type(
    request: Request, kind_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    parsed = schedule_forms.event_type(form)
    if parsed.errors:
        return back_with(request, Problem(f"kind-{kind_id}", parsed.errors, form), "kinds-card")
    try:
        async with ctx.db.transaction() as session:
            await scheduling.change_event_type(session, me.id, kind_id, parsed.value)
    except scheduling.EventTypeNotFound:
        return back_with(request, Problem("kinds", {"form": "No such event type."}), "kinds-card")
    return _done("event-type-saved", "kinds-card")


@router.post("/dashboard/event-types/{kind_id}/delete")
async def delete_event_type(
    request: Request, kind_id: DbId, ctx: Ctx, me: MaybeSpecialist
) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    try:
        async with ctx.db.transaction() as session:
            await scheduling.remove_event_type(session, me.id, kind_id, ctx.clock.now())
    except scheduling.EventTypeNotFound:
        pass  # deleted already (a second click): the outcome the specialist wanted
    return _done("event-type-deleted", "kinds-card")


async def _save_hours(ctx: Ctx, me: Specialist, change: Callable[[Hours], Hours]) -> None:
    """Read the hours and write them back changed, in one transaction under the row lock."""
    async with ctx.db.transaction() as session:
        await session.execute(select(Specialist.id).where(Specialist.id == me.id).with_for_update())
        current = await scheduling.hours(session, me.id)
        await scheduling.replace_hours(session, me.id, change(current))


@router.post("/dashboard/hours")
async def save_weekly_hours(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    parsed = schedule_forms.weekly(form)
    if parsed.errors:
        return back_with(request, Problem("hours", parsed.errors, form), "hours-card")
    await _save_hours(ctx, me, lambda old: Hours(weekly=parsed.value, overrides=old.overrides))
    return _done("hours-saved", "hours-card")


@router.post("/dashboard/dates")
async def save_date(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    today = date.fromisoformat(local(ctx.clock.now(), me.timezone, "%Y-%m-%d"))
    parsed = schedule_forms.date_hours(form, today)
    if parsed.errors:
        return back_with(request, Problem("date", parsed.errors, form), "dates-card")
    day, windows = parsed.value
    await _save_hours(ctx, me, lambda old: Hours(old.weekly, {**old.overrides, day: windows}))
    return _done("date-saved", "dates-card")


@router.post("/dashboard/dates/{day}/delete")
async def remove_date(request: Request, day: Day, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    try:
        gone = date.fromisoformat(day)
    except ValueError:
        return back_with(request, Problem("date", {"date": "No such date."}), "dates-card")
    await _save_hours(
        ctx,
        me,
        lambda old: Hours(old.weekly, {d: w for d, w in old.overrides.items() if d != gone}),
    )
    return _done("date-removed", "dates-card")
