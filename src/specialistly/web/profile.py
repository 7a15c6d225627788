"""The dashboard's own forms besides scheduling: the profile, and dismissing a notification."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from specialistly.deps import Ctx, MaybeSpecialist
from specialistly.notifications import service as notifications
from specialistly.specialists import service
from specialistly.specialists.views import ProfileChange
from specialistly.web.dashboard import Problem, back_with, to_login
from specialistly.web.pages import form_data

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The API's limits (ProfileChange), in words.
PROFILE_PROBLEMS = {
    ("name", "string_too_long"): "Your name is too long: use at most 200 characters.",
    ("name", ""): "Enter your name.",
    ("timezone", ""): "Choose your time zone from the list.",
    ("bio", ""): "Keep the bio to 2,000 characters or fewer.",
}


@router.post("/dashboard/profile")
async def save_profile(request: Request, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    form = await form_data(request, ctx)
    sent = {k: form.get(k, "") for k in ("name", "timezone", "bio")}
    try:
        body = ProfileChange.model_validate(sent)
    except ValidationError as invalid:
        errors: dict[str, str] = {}
        for problem in invalid.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "name"
            errors[name] = PROFILE_PROBLEMS.get((name, problem["type"])) or PROFILE_PROBLEMS.get(
                (name, ""), "Check this field."
            )
        return back_with(request, Problem("profile", errors, sent), "profile-card")
    changes = {"name": body.name or me.name, "timezone": body.timezone or me.timezone}
    changes["bio"] = body.bio or ""
    async with ctx.db.transaction() as session:
        await service.change_profile(session, me.id, changes)
    return RedirectResponse("/dashboard?done=profile-saved#profile-card", status_code=303)


@router.post("/dashboard/notifications/{note_id}/read")
async def dismiss(request: Request, note_id: DbId, ctx: Ctx, me: MaybeSpecialist) -> Response:
    if me is None:
        return to_login()
    await form_data(request, ctx)
    async with ctx.db.transaction() as session:
        # Someone else's or gone: nothing to dismiss, and nothing to say about it.
        await notifications.mark_read(session, me.id, note_id)
    return RedirectResponse("/dashboard?done=note-dismissed#notes-card", status_code=303)
