"""The control API: look inside the sandbox, move its clock, end grants and inject faults."""

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from zoom_sandbox.app_state import Sandbox, get_sandbox
from zoom_sandbox.faults import FaultsConfig
from zoom_sandbox.meetings import zulu
from zoom_sandbox.state import ZoomUser

router = APIRouter(prefix="/_control", tags=["control"])
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


class ClockMove(BaseModel):
    advance_seconds: float = Field(ge=0, le=20 * 365 * 86_400)


def _known_user(sandbox: Sandbox, email: str) -> ZoomUser:
    user = sandbox.state.users_by_email.get(email.strip().lower())
    if user is None:
        raise HTTPException(404, f"no sandbox user {email}")
    return user


@router.get("/stats")
async def stats(sandbox: SandboxDep) -> dict[str, Any]:
    s = sandbox.state.stats
    return {
        "token_requests": {grant: dict(counts) for grant, counts in s.token_requests.items()},
        "refresh_requests_by_client": dict(s.refresh_requests_by_client),
        "api_requests": dict(s.api_requests),
        "meetings": {
            "created": s.meetings_created,
            "updated": s.meetings_updated,
            "deleted": s.meetings_deleted,
            "live": sandbox.state.live_meetings(),
        },
        "faults": dict(s.faults),
        "webhooks": dict(s.webhooks),
    }


@router.get("/users/{email}/tokens")
async def user_tokens(email: str, sandbox: SandboxDep) -> dict[str, Any]:
    user = _known_user(sandbox, email)
    state, now = sandbox.state, sandbox.clock.now()
    access, refresh = [], None
    for grant in state.active_grants(user_id=user.id):
        for value in grant.access_tokens:
            token = state.access_tokens[value]
            if token.expires_at > now:
                access.append(
                    {
                        "access_token": value,
                        "client_id": grant.client_id,
                        "expires_at": zulu(token.expires_at),
                    }
                )
        if grant.refresh_token and grant.refresh_expires_at and grant.refresh_expires_at > now:
            refresh = {
                "refresh_token": grant.refresh_token,
                "client_id": grant.client_id,
                "expires_at": zulu(grant.refresh_expires_at),
            }
    return {
        "email": user.email,
        "user_id": user.id,
        "access_tokens": access,
        "refresh_token": refresh,
    }


@router.get("/users/{email}/meetings")
async def user_meetings(email: str, sandbox: SandboxDep) -> dict[str, Any]:
    user = _known_user(sandbox, email)
    hosted = [m.body for m in sandbox.state.meetings.values() if m.host_id == user.id]
    return {"email": user.email, "meetings": sorted(hosted, key=lambda m: m["start_time"])}


@router.post("/users/{email}/invalidate")
async def invalidate(email: str, sandbox: SandboxDep) -> dict[str, Any]:
    user = _known_user(sandbox, email)
    ended = sandbox.state.active_grants(user_id=user.id)
    for grant in ended:
        sandbox.state.end_grant(grant)
    return {"email": user.email, "grants_ended": len(ended)}


@router.post("/users/{email}/deauthorize")
async def deauthorize(email: str, sandbox: SandboxDep) -> dict[str, Any]:
    user = _known_user(sandbox, email)
    client_id = sandbox.config.user_app.client_id
    ended = sandbox.state.active_grants(user_id=user.id, client_id=client_id)
    for grant in ended:
        sandbox.state.end_grant(grant)
    webhook = await sandbox.send_deauthorized(user.id)
    return {"email": user.email, "grants_ended": len(ended), "webhook": webhook}


@router.post("/webhooks/validate")
async def validate_webhook_endpoint(sandbox: SandboxDep) -> dict[str, Any]:
    return await sandbox.validate_endpoint()


@router.get("/clock")
async def clock(sandbox: SandboxDep) -> dict[str, str]:
    return {"now": sandbox.clock.now().astimezone(UTC).isoformat()}


@router.post("/clock")
async def move_clock(move: ClockMove, sandbox: SandboxDep) -> dict[str, str]:
    return {"now": sandbox.clock.advance(move.advance_seconds).isoformat()}


@router.get("/faults")
async def faults(sandbox: SandboxDep) -> FaultsConfig:
    return sandbox.faults.config


@router.put("/faults")
async def set_faults(config: FaultsConfig, sandbox: SandboxDep) -> FaultsConfig:
    sandbox.faults.configure(config)
    return sandbox.faults.config


@router.delete("/faults", status_code=204)
async def clear_faults(sandbox: SandboxDep) -> None:
    sandbox.faults.clear()


@router.post("/reset", status_code=204)
async def reset(sandbox: SandboxDep) -> None:
    sandbox.reset()
