"""Zoom's Users and Meetings API under `/v2`, with Zoom's error codes and limits."""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from zoom_sandbox import meetings
from zoom_sandbox.app_state import Sandbox, get_sandbox
from zoom_sandbox.state import Grant, Meeting, ZoomUser
from zoom_sandbox.transport import fail_after_success, lose_response

router = APIRouter(prefix="/v2")
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]

# Granular scopes and the classic names Zoom still accepts for them.
CLASSIC = {
    "user:read:user": "user:read",
    "meeting:read:meeting": "meeting:read",
    "meeting:write:meeting": "meeting:write",
    "meeting:update:meeting": "meeting:write",
    "meeting:delete:meeting": "meeting:write",
}


class ZoomError(Exception):
    """An API answer in Zoom's `{"code", "message"}` shape."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers, self.response = errors, headers, response

    def render(self) -> Response:
        if self.response is not None:
            return self.response
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass
class Caller:
    user: ZoomUser
    grant: Grant
    is_account_app: bool


def caller(scope: str) -> Any:
    """Depend on a live bearer token that carries `scope`, after Zoom's failures are applied."""

    async def dependency(request: Request, sandbox: SandboxDep) -> Caller:
        await request.body()  # read it now: the fault gate's disconnect check must not eat it
        gate = await sandbox.faults.gate("api", request)
        if gate.response is not None:
            sandbox.state.stats.faults[gate.outcome] += 1
            raise ZoomError(gate.response.status_code, 0, "", response=gate.response)
        if gate.lose_response:
            sandbox.state.stats.faults["response_lost"] += 1
            lose_response(request.scope)
        if gate.fail_after is not None:
            sandbox.state.stats.faults["failed_after_success"] += 1
            fail_after_success(request.scope, gate.fail_after)
        header = request.headers.get("authorization", "")
        value = header[7:].strip() if header[:7].lower() == "bearer " else ""
        state = sandbox.state
        token = state.access_tokens.get(value)
        grant = state.grants.get(token.grant_id) if token else None
        if token is None or grant is None or not grant.active:
            raise ZoomError(401, 124, "Invalid access token.")
        if sandbox.clock.now() >= token.expires_at:
            raise ZoomError(401, 124, "Access token is expired.")
        if scope not in grant.scopes and CLASSIC[scope] not in grant.scopes:
            raise ZoomError(400, 4711, f"Invalid access token, does not contain scopes:[{scope}].")
        app = sandbox.config.apps[grant.client_id]
        return Caller(state.users_by_id[grant.user_id], grant, app.kind == "server_to_server")

    return Depends(dependency)


def _user(caller: Caller, sandbox: Sandbox, user_id: str) -> ZoomUser:
    me = caller.user
    if user_id in ("me", me.id) or user_id.lower() == me.email:
        return me
    other = sandbox.state.users_by_id.get(user_id) or sandbox.state.users_by_email.get(
        user_id.lower()
    )
    if caller.is_account_app and other is not None and other.account_id == me.account_id:
        return other
    raise ZoomError(404, 1001, f"User does not exist: {user_id}.")


def _meeting(caller: Caller, sandbox: Sandbox, meeting_id: str) -> Meeting:
    found = sandbox.state.meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
    if found is not None:
        host = sandbox.state.users_by_id[found.host_id]
        mine = found.host_id == caller.user.id
        if mine or (caller.is_account_app and host.account_id == caller.user.account_id):
            return found
    raise ZoomError(404, 3001, f"Meeting {meeting_id} is not found or has expired.")


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        message = "Request Body should be a valid JSON object."
        raise ZoomError(400, 300, message, errors=[{"field": "body", "message": message}]) from None


def _validated(body: Any, *, partial: bool) -> dict[str, Any]:
    try:
        return meetings.validate(body, partial=partial)
    except meetings.Invalid as invalid:
        raise ZoomError(400, 300, "Validation Failed.", errors=invalid.errors) from None


def _count_write(sandbox: Sandbox, user: ZoomUser) -> None:
    """Enforce Zoom's daily meeting create/update limit per user (reset at 00:00 UTC)."""
    limit = sandbox.config.meetings_per_user_per_day
    now = sandbox.clock.now()
    key = (user.id, now.date())
    if limit and sandbox.state.daily_writes[key] >= limit:
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
        headers = {
            "X-RateLimit-Category": "Medium",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "Retry-After": str(int((midnight - now).total_seconds()) + 1),
        }
        message = (
            f"You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API "
            "requests permitted for this particular user. You may resume these requests at "
            "GMT 00:00:00."
        )
        raise ZoomError(429, 429, message, headers=headers)
    sandbox.state.count_write(key)


@router.get("/users/{user_id}")
async def get_user(
    user_id: str, sandbox: SandboxDep, who: Annotated[Caller, caller("user:read:user")]
) -> dict[str, Any]:
    user = _user(who, sandbox, user_id)
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": f"{user.first_name} {user.last_name}",
        "email": user.email,
        "type": 2,
        "role_name": "Owner",
        "pmi": user.pmi,
        "use_pmi": False,
        "timezone": user.timezone,
        "verified": 1,
        "created_at": meetings.zulu(user.created_at),
        "language": "en-US",
        "status": "active",
        "account_id": user.account_id,
    }


@router.post("/users/{user_id}/meetings", status_code=201)
async def create_meeting(
    user_id: str,
    request: Request,
    sandbox: SandboxDep,
    who: Annotated[Caller, caller("meeting:write:meeting")],
) -> JSONResponse:
    user = _user(who, sandbox, user_id)
    body = _validated(await _json(request), partial=False)
    _count_write(sandbox, user)
    meeting = meetings.create(
        body, user, now=sandbox.clock.now(), base_url=str(request.base_url).rstrip("/")
    )
    sandbox.state.add_meeting(meeting)
    sandbox.state.stats.meetings_created += 1
    return JSONResponse(meeting.body, status_code=201)


@router.get("/users/{user_id}/meetings")
async def list_meetings(
    user_id: str,
    sandbox: SandboxDep,
    who: Annotated[Caller, caller("meeting:read:meeting")],
    type: str = "scheduled",
    page_size: int = 30,
    next_page_token: str = "",
) -> dict[str, Any]:
    user = _user(who, sandbox, user_id)
    if type not in meetings.LIST_TYPES:
        raise ZoomError(400, 300, f"Invalid field: type={type}.")
    if page_size < 1:
        raise ZoomError(400, 300, "Invalid field: page_size.")
    page_size = min(page_size, 300)
    offset = _offset(next_page_token)
    hosted = [m for m in sandbox.state.meetings.values() if m.host_id == user.id]
    found = meetings.listed(hosted, type, sandbox.clock.now())
    page = found[offset : offset + page_size]
    more = offset + page_size < len(found)
    token = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode() if more else ""
    return {
        "page_size": page_size,
        "total_records": len(found),
        "next_page_token": token,
        "meetings": [meetings.summary(m) for m in page],
    }


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ZoomError(400, 300, "Invalid next_page_token.") from None


@router.get("/meetings/{meeting_id}")
async def get_meeting(
    meeting_id: str, sandbox: SandboxDep, who: Annotated[Caller, caller("meeting:read:meeting")]
) -> dict[str, Any]:
    return _meeting(who, sandbox, meeting_id).body


@router.patch("/meetings/{meeting_id}", status_code=204)
async def update_meeting(
    meeting_id: str,
    request: Request,
    sandbox: SandboxDep,
    who: Annotated[Caller, caller("meeting:update:meeting")],
) -> Response:
    meeting = _meeting(who, sandbox, meeting_id)
    body = _validated(await _json(request), partial=True)
    _count_write(sandbox, sandbox.state.users_by_id[meeting.host_id])
    meetings.update(meeting, body)
    sandbox.state.meeting_changed(meeting)
    sandbox.state.stats.meetings_updated += 1
    return Response(status_code=204)


@router.delete("/meetings/{meeting_id}", status_code=204)
async def delete_meeting(
    meeting_id: str, sandbox: SandboxDep, who: Annotated[Caller, caller("meeting:delete:meeting")]
) -> Response:
    meeting = _meeting(who, sandbox, meeting_id)
    sandbox.state.delete_meeting(meeting)
    sandbox.state.stats.meetings_deleted += 1
    return Response(status_code=204)
