"""POST /api/zoom/webhooks: Zoom's signed events, verified over the raw body."""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from specialistly import observability as metrics
from specialistly.deps import Ctx
from specialistly.text import is_clean
from specialistly.zoom.webhooks import signature_valid, url_validation_answer

log = logging.getLogger(__name__)
router = APIRouter(tags=["zoom webhooks"])
MAX_AGE_SECONDS = 300
MAX_BODY = 64 * 1024
TIMESTAMP = re.compile(r"[0-9]{1,12}")


@router.post(
    "/api/zoom/webhooks",
    responses={
        401: {"description": "Missing or bad signature, or a stale timestamp"},
        400: {"description": "Not a JSON event"},
    },
)
async def zoom_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """Verify Zoom's signature and timestamp, then answer or act on the event."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "Event too large.")
    secret = ctx.settings.zoom_webhook_secret_token
    timestamp = request.headers.get("x-zm-request-timestamp", "")
    signature = request.headers.get("x-zm-signature", "")
    if secret is None or not TIMESTAMP.fullmatch(timestamp) or not signature:
        metrics.WEBHOOKS.labels("unknown", "unsigned").inc()
        raise HTTPException(401, "Missing Zoom signature.")
    if abs(ctx.clock.now().timestamp() - int(timestamp)) > MAX_AGE_SECONDS:
        metrics.WEBHOOKS.labels("unknown", "stale").inc()
        raise HTTPException(401, "Stale timestamp: the event is more than 5 minutes old.")
    if not signature_valid(secret.get_secret_value(), timestamp, body, signature):
        metrics.WEBHOOKS.labels("unknown", "bad_signature").inc()
        raise HTTPException(401, "Bad Zoom signature.")
    try:
        event: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "The event is not JSON.") from None
    if not isinstance(event, dict):
        raise HTTPException(400, "The event is not a JSON object.")
    kind = str(event.get("event", ""))
    found = event.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    known = kind if kind in ("endpoint.url_validation", "app_deauthorized") else "other"
    metrics.WEBHOOKS.labels(known, "accepted").inc()
    if kind == "endpoint.url_validation":
        plain = str(payload.get("plainToken", ""))
        if not plain or len(plain) > 200 or not is_clean(plain):
            raise HTTPException(400, "The plainToken is missing or not text.")
        return JSONResponse(url_validation_answer(secret.get_secret_value(), plain))
    if kind == "app_deauthorized":
        user_id = str(payload.get("user_id", ""))[:64]
        client_id = payload.get("client_id")
        ended = 0
        if user_id and is_clean(user_id):
            ended = await ctx.connections.deauthorized(
                user_id,
                client_id=str(client_id) if client_id is not None else None,
                at=_event_time(payload, event),
            )
        log.info("Zoom app deauthorized by a user: %d connection(s) ended", ended)
        return JSONResponse({"status": "ok"})
    log.info("Zoom event %r ignored", kind[:80])
    return JSONResponse({"status": "ignored"})


def _event_time(payload: dict[str, Any], event: dict[str, Any]) -> datetime | None:
    """When the user deauthorized: `deauthorization_time`, else the event's `event_ts` (ms)."""
    raw = payload.get("deauthorization_time")
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    stamp = event.get("event_ts", payload.get("event_ts"))
    if isinstance(stamp, int) and 0 < stamp < 10**14:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return None
