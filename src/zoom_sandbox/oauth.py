"""Zoom's OAuth server: consent page, authorization codes, the token endpoint and revoke."""

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from zoom_sandbox.app_state import Sandbox, get_sandbox
from zoom_sandbox.config import OAuthApp
from zoom_sandbox.state import AuthorizationCode, Grant, new_token
from zoom_sandbox.transport import fail_after_success, lose_response

router = APIRouter()
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def _oauth_error(error: str, reason: str) -> JSONResponse:
    # Zoom answers every OAuth error with 400, wrong client credentials included (never 401).
    return JSONResponse({"reason": reason, "error": error}, status_code=400)


def _invalid_client() -> JSONResponse:
    return _oauth_error("invalid_client", "Invalid client_id or client_secret")


def _page_error(message: str) -> JSONResponse:
    body = {"status": False, "errorCode": 4700, "errorMessage": message, "result": None}
    return JSONResponse(body, status_code=400)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class AuthorizeRequest:
    """The query of `/oauth/authorize`, checked as Zoom checks it."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.response_type = q.get("response_type")
        self.client_id = q.get("client_id", "")
        self.redirect_uri = q.get("redirect_uri", "")
        self.state = q.get("state")
        self.code_challenge = q.get("code_challenge")
        method = q.get("code_challenge_method")
        self.code_challenge_method = method or ("plain" if self.code_challenge else None)

    def problem(self, sandbox: Sandbox) -> Response | None:
        """Return Zoom's answer when the request cannot go to a consent page."""
        app = sandbox.config.apps.get(self.client_id)
        if app is None or app.kind != "user_managed":
            return _page_error("Invalid client_id")
        if self.redirect_uri not in app.redirect_uris:
            return _page_error("Invalid redirect url")
        if self.response_type != "code":
            return self.redirect_error("unsupported_response_type", "response_type must be code")
        if self.code_challenge_method not in (None, "S256", "plain"):
            return self.redirect_error(
                "invalid_request", "code_challenge_method must be S256 or plain"
            )
        return None

    def redirect_error(self, error: str, description: str) -> RedirectResponse:
        params = {"error": error, "error_description": description}
        return RedirectResponse(self.redirect(params), status_code=302)

    def redirect(self, params: dict[str, str]) -> str:
        if self.state is not None:
            params = {**params, "state": self.state}
        return _with_query(self.redirect_uri, params)


@router.get("/oauth/authorize", response_class=HTMLResponse)
async def consent_page(request: Request, sandbox: SandboxDep) -> Response:
    ask = AuthorizeRequest(request)
    return ask.problem(sandbox) or sandbox.consent_page(request, ask.client_id)


@router.post("/oauth/authorize")
async def consent_answer(request: Request, sandbox: SandboxDep) -> Response:
    ask = AuthorizeRequest(request)
    if (problem := ask.problem(sandbox)) is not None:
        return problem
    form = await request.form()
    action, email = str(form.get("action", "")), str(form.get("email", "")).strip()
    if action == "deny":
        return ask.redirect_error("access_denied", "The user denied the authorization request")
    if action != "approve" or not EMAIL.match(email):
        error = "Enter the email of the Zoom user to sign in as."
        return sandbox.consent_page(request, ask.client_id, email=email, error=error, status=400)
    now = sandbox.clock.now()
    app = sandbox.config.user_app
    user = sandbox.state.user(email, account_id=sandbox.account_id, now=now)
    code = secrets.token_urlsafe(24)
    sandbox.state.add_code(
        AuthorizationCode(
            code=code,
            client_id=app.client_id,
            user_id=user.id,
            redirect_uri=ask.redirect_uri,
            expires_at=now + timedelta(seconds=sandbox.config.authorization_code_ttl),
            code_challenge=ask.code_challenge,
            code_challenge_method=ask.code_challenge_method,
        )
    )
    return RedirectResponse(ask.redirect({"code": code}), status_code=302)


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """Read client credentials from Basic auth, or else from the form body."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return None, None
        client_id, sep, secret = decoded.partition(":")
        return (client_id, secret) if sep else (None, None)
    return form.get("client_id"), form.get("client_secret")


def _authenticate(sandbox: Sandbox, client_id: str | None, secret: str | None) -> OAuthApp | None:
    app = sandbox.config.apps.get(client_id or "")
    if app is None or not hmac.compare_digest(app.client_secret, secret or ""):
        return None
    return app


@router.post("/oauth/token")
async def token(request: Request, sandbox: SandboxDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    grant_type = form.get("grant_type", "")
    client_id, secret = client_credentials(request, form)
    stats = sandbox.state.stats
    if grant_type == "refresh_token":
        stats.refresh_requests_by_client[client_id or "(none)"] += 1
    outcome, response = await _token(request, sandbox, form, grant_type, client_id, secret)
    stats.token_requests[grant_type or "(none)"][outcome] += 1
    return response


async def _token(
    request: Request,
    sandbox: SandboxDep,
    form: dict[str, str],
    grant_type: str,
    client_id: str | None,
    secret: str | None,
) -> tuple[str, Response]:
    gate = await sandbox.faults.gate("token", request)
    if gate.response is not None:
        sandbox.state.stats.faults[gate.outcome] += 1
        return gate.outcome, gate.response
    if gate.lose_response:
        sandbox.state.stats.faults["response_lost"] += 1
        lose_response(request.scope)
    if gate.fail_after is not None:
        sandbox.state.stats.faults["failed_after_success"] += 1
        fail_after_success(request.scope, gate.fail_after)
    if set(request.query_params) & {"code", "refresh_token", "client_secret"}:
        return _failed("invalid_request", "Token values are only accepted in the request body")
    if not grant_type:
        return _failed("invalid_request", "Missing grant type")
    if client_id is None or secret is None:
        return _failed("invalid_request", "Client ID or client secret is missing")
    app = _authenticate(sandbox, client_id, secret)
    if app is None:
        return "invalid_client", _invalid_client()
    if grant_type == "authorization_code":
        return _exchange_code(request, sandbox, app, form)
    if grant_type == "refresh_token":
        return _refresh(request, sandbox, app, form.get("refresh_token", ""))
    if grant_type == "account_credentials":
        return _account_credentials(request, sandbox, app, form.get("account_id", ""))
    return _failed("unsupported_grant_type", "Grant type is not supported from token endpoint")


def _failed(error: str, reason: str) -> tuple[str, Response]:
    return error, _oauth_error(error, reason)


def _exchange_code(
    request: Request, sandbox: Sandbox, app: OAuthApp, form: dict[str, str]
) -> tuple[str, Response]:
    raw = form.get("code", "")
    code = sandbox.state.codes.get(raw)
    now = sandbox.clock.now()
    if code is None or code.used or code.client_id != app.client_id:
        return _failed("invalid_grant", f"Invalid authorization code {raw}")
    if now >= code.expires_at:
        return _failed("invalid_grant", "Code is expired")
    if form.get("redirect_uri") != code.redirect_uri:
        return _failed("invalid_request", "Redirect URI mismatch.")
    if code.code_challenge is not None and not _verifier_matches(code, form.get("code_verifier")):
        return _failed("invalid_grant", "Invalid code_verifier")
    state = sandbox.state
    state.use_code(code)
    # Authorizing again ends the tokens of every earlier authorization of this user and app.
    for earlier in state.active_grants(user_id=code.user_id, client_id=app.client_id):
        state.end_grant(earlier)
    grant = Grant(new_token(), app.client_id, code.user_id, app.scopes, None, None)
    state.add_grant(grant)
    return "ok", _issue(request, sandbox, grant, now, with_refresh=True)


def _verifier_matches(code: AuthorizationCode, verifier: str | None) -> bool:
    if verifier is None or not VERIFIER.match(verifier) or code.code_challenge is None:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge)


def _refresh(
    request: Request, sandbox: Sandbox, app: OAuthApp, refresh_token: str
) -> tuple[str, Response]:
    state, now = sandbox.state, sandbox.clock.now()
    grant = state.grants.get(state.grant_by_refresh_token.get(refresh_token, ""))
    # Rotation has no grace: only the newest refresh token of a live grant works, and only for
    # the app it was issued to. A Server-to-Server app cannot refresh a user's token.
    if grant is None or not grant.active or grant.client_id != app.client_id:
        return _failed("invalid_grant", "Invalid Token!")
    if grant.refresh_expires_at is None or now >= grant.refresh_expires_at:
        state.end_grant(grant)
        return _failed("invalid_grant", "Invalid Token!")
    return "ok", _issue(request, sandbox, grant, now, with_refresh=True)


def _account_credentials(
    request: Request, sandbox: Sandbox, app: OAuthApp, account_id: str
) -> tuple[str, Response]:
    if app.kind != "server_to_server":
        return _failed("unsupported_grant_type", "Grant type is not supported for this app")
    if account_id != app.account_id:
        return _failed("invalid_request", "Invalid account_id")
    state, now = sandbox.state, sandbox.clock.now()
    owner = sandbox.account_owner(now)
    if sandbox.config.s2s_token_invalidates_previous:
        for earlier in state.active_grants(user_id=owner.id, client_id=app.client_id):
            state.end_grant(earlier)
    grant = Grant(new_token(), app.client_id, owner.id, app.scopes, None, None)
    state.add_grant(grant)
    return "ok", _issue(request, sandbox, grant, now, with_refresh=False)


def _issue(
    request: Request, sandbox: Sandbox, grant: Grant, now: datetime, *, with_refresh: bool
) -> JSONResponse:
    config, state = sandbox.config, sandbox.state
    ttl = config.access_token_ttl if with_refresh else config.s2s_access_token_ttl
    body: dict[str, Any] = {
        "access_token": state.issue_access_token(grant, now + timedelta(seconds=ttl)),
        "token_type": "bearer",
    }
    if with_refresh:
        refresh_expiry = now + timedelta(seconds=config.refresh_token_ttl)
        body["refresh_token"] = state.rotate_refresh_token(grant, refresh_expiry)
    body |= {
        "expires_in": ttl,
        "scope": " ".join(grant.scopes),
        "api_url": sandbox.api_url(request),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post("/oauth/revoke")
async def revoke(request: Request, sandbox: SandboxDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    app = _authenticate(sandbox, *client_credentials(request, form))
    if app is None:
        return _invalid_client()
    state, value = sandbox.state, form.get("token", "")
    access = state.access_tokens.get(value)
    grant_id = access.grant_id if access else state.grant_by_refresh_token.get(value)
    grant = state.grants.get(grant_id or "")
    if grant is None or not grant.active or grant.client_id != app.client_id:
        return _oauth_error("invalid_request", "Invalid Token!")
    # Revoking uninstalls the app for the user; Zoom then tells the app by webhook, later.
    for each in state.active_grants(user_id=grant.user_id, client_id=app.client_id):
        state.end_grant(each)
    sandbox.in_background(sandbox.send_deauthorized(grant.user_id))
    return JSONResponse({"status": "success"})
