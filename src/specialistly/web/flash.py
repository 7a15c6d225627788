"""Post/redirect/get for forms with errors: what was wrong and what was typed, kept briefly.

A form that comes back with errors answers 303 to its page with a signed cookie holding the
errors and the values (never passwords, tokens or CSRF fields); the page shows them once and
drops the cookie. Reloading then reloads the page, and never sends the form again.
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

COOKIE = "specialistly_form"
LIFETIME_SECONDS = 120
NOT_KEPT = {"csrf", "password", "token", "key"}
MOST_BYTES = 3600  # browsers keep cookies up to 4 KB


@dataclass
class Kept:
    """One form's errors and values, for the page it redirected to."""

    form: str
    errors: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)


def _sign(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), b"form:" + body.encode(), hashlib.sha256).hexdigest()


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cookie_value(secret: str, page: str, kept: Kept) -> str:
    values = {k: v for k, v in kept.values.items() if k not in NOT_KEPT}
    while True:
        body = _encode(
            {"p": page, "f": kept.form, "e": kept.errors, "v": values, "t": int(time.time())}
        )
        if len(body) <= MOST_BYTES or not values:
            return f"{body}.{_sign(secret, body)}"
        values.pop(max(values, key=lambda k: len(values[k])))  # the longest value goes first


def redirect(request: Request, url: str, page: str, kept: Kept) -> Response:
    """Answer 303 to `url`, whose page at path `page` shows `kept` once."""
    ctx = request.app.state.ctx
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        _cookie_value(_secret(request), page, kept),
        max_age=LIFETIME_SECONDS,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.production,
        path="/",
    )
    return response


def _secret(request: Request) -> str:
    secret = request.app.state.ctx.settings.secret_key
    return "flash:" + (secret.get_secret_value() if secret else "")


def take(request: Request) -> Kept | None:
    """The kept form for this page, if one is waiting; the page's answer then drops it."""
    value = request.cookies.get(COOKIE, "")
    body, _, signature = value.partition(".")
    if not body or not hmac.compare_digest(_sign(_secret(request), body), signature):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        fresh = time.time() - int(payload["t"]) <= LIFETIME_SECONDS
        if payload["p"] != request.url.path or not fresh:
            return None
        kept = Kept(str(payload["f"]), dict(payload["e"]), dict(payload["v"]))
    except (ValueError, KeyError, TypeError):
        return None
    request.state.form_taken = True
    return kept


def drop_if_taken(request: Request, response: Response) -> None:
    if getattr(request.state, "form_taken", False):
        response.delete_cookie(COOKIE, path="/")
