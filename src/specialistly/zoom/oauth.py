"""Zoom's OAuth endpoints for the user-managed app, and the Server-to-Server token."""

import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from specialistly.zoom.errors import ZoomTokenRejected, ZoomUnavailable
from specialistly.zoom.transport import RetryPolicy, json_body, send


def s256_challenge(code_verifier: str) -> str:
    """Derive PKCE's S256 code challenge: BASE64URL(SHA256(verifier)) without padding (RFC 7636)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AppCredentials:
    """One Zoom app's client credentials."""

    client_id: str
    client_secret: str

    def basic_auth(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:
        return f"AppCredentials(client_id={self.client_id!r}, client_secret=***)"


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave: tokens, lifetime in seconds, scopes and the API's URL."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scopes: frozenset[str]
    api_url: str | None

    def __repr__(self) -> str:
        return f"TokenGrant(expires_in={self.expires_in}, scopes={sorted(self.scopes)})"


class ZoomOAuth:
    """The authorization code flow, refresh and revoke, always with the user-managed app."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        oauth_base_url: str,
        app: AppCredentials,
        redirect_uri: str,
        retry: RetryPolicy,
    ) -> None:
        self._http, self._base, self._app = http, oauth_base_url.rstrip("/"), app
        self._redirect_uri, self._retry = redirect_uri, retry

    @property
    def client_id(self) -> str:
        return self._app.client_id

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self._app.client_id,
            "redirect_uri": self._redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._base}/oauth/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, code_verifier: str) -> TokenGrant:
        """Trade an authorization code for tokens (a code works once, so this never retries)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token(form, retry=RetryPolicy(attempts=1))

    async def refresh(self, refresh_token: str, *, retry: RetryPolicy | None = None) -> TokenGrant:
        """Rotate the tokens. A retry after a lost answer works or says invalid_grant."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token(form, retry=retry or self._retry)

    async def revoke(self, token: str) -> None:
        response = await send(
            lambda: self._http.post(
                f"{self._base}/oauth/revoke",
                data={"token": token},
                headers={"Authorization": self._app.basic_auth()},
            ),
            self._retry,
            retry_unknown_outcome=True,
        )
        if response.status_code >= 400:
            body = json_body(response)
            raise ZoomTokenRejected(str(body.get("error", "unknown")), str(body.get("reason", "")))

    async def _token(self, form: dict[str, str], *, retry: RetryPolicy) -> TokenGrant:
        failures: list[ZoomUnavailable] = []
        response = await send(
            lambda: self._http.post(
                f"{self._base}/oauth/token",
                data=form,
                headers={"Authorization": self._app.basic_auth()},
            ),
            retry,
            retry_unknown_outcome=True,
            failures=failures,
        )
        try:
            return parse_token_answer(response)
        except ZoomTokenRejected as exc:
            exc.after_lost_answer = any(f.outcome_unknown for f in failures)
            raise


class ZoomServerToServer:
    """The platform's own account token (account_credentials); no refresh token exists."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        oauth_base_url: str,
        app: AppCredentials,
        account_id: str,
        retry: RetryPolicy,
    ) -> None:
        self._http, self._base, self._app = http, oauth_base_url.rstrip("/"), app
        self._account_id, self._retry = account_id, retry

    async def token(self) -> TokenGrant:
        form = {"grant_type": "account_credentials", "account_id": self._account_id}
        response = await send(
            lambda: self._http.post(
                f"{self._base}/oauth/token",
                data=form,
                headers={"Authorization": self._app.basic_auth()},
            ),
            self._retry,
            retry_unknown_outcome=True,
        )
        return parse_token_answer(response)


def parse_token_answer(response: httpx.Response) -> TokenGrant:
    """Turn a token endpoint answer into a `TokenGrant` or a typed error."""
    body = json_body(response)
    if response.status_code != 200:
        if "error" in body:
            raise ZoomTokenRejected(str(body["error"]), str(body.get("reason", "")))
        raise ZoomUnavailable(f"Zoom's token endpoint answered HTTP {response.status_code}")
    try:
        return TokenGrant(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_in=int(body["expires_in"]),
            scopes=frozenset(str(body.get("scope", "")).split()),
            api_url=str(body["api_url"]) if body.get("api_url") else None,
        )
    except (KeyError, TypeError, ValueError):
        # Zoom said yes but we cannot read the tokens: it has rotated them all the same.
        raise ZoomUnavailable(
            "Zoom's token answer was not understood", outcome_unknown=True
        ) from None
