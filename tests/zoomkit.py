"""Test helpers that speak to the sandbox the way an OAuth client and Zoom API caller would."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from zoom_sandbox import SandboxApp, SandboxConfig


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


@dataclass
class SandboxKit:
    app: SandboxApp
    config: SandboxConfig
    http: httpx.AsyncClient

    @property
    def redirect_uri(self) -> str:
        return self.config.user_app.redirect_uris[0]

    def user_auth(self) -> dict[str, str]:
        app = self.config.user_app
        return basic(app.client_id, app.client_secret)

    def s2s_auth(self) -> dict[str, str]:
        assert self.config.s2s_app is not None
        return basic(self.config.s2s_app.client_id, self.config.s2s_app.client_secret)

    def authorize_params(self, **extra: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.config.user_app.client_id,
            "redirect_uri": self.redirect_uri,
            "state": "state-123",
            **extra,
        }

    async def code(self, email: str = "host@example.com", **extra: str) -> str:
        """Approve the consent page as `email` and return the authorization code."""
        answer = await self.http.post(
            "/oauth/authorize",
            params=self.authorize_params(**extra),
            data={"email": email, "action": "approve"},
        )
        assert answer.status_code == 302, answer.text
        query = httpx.URL(answer.headers["location"]).params
        assert query["state"] == "state-123"
        return query["code"]

    async def exchange(self, code: str, **form: str) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        return await self.http.post("/oauth/token", data={**data, **form}, headers=self.user_auth())

    async def connect(self, email: str = "host@example.com") -> dict[str, Any]:
        """Run the whole authorization code flow and return the token answer."""
        verifier, challenge = pkce_pair()
        code = await self.code(email, code_challenge=challenge, code_challenge_method="S256")
        answer = await self.exchange(code, code_verifier=verifier)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def refresh(
        self, refresh_token: str, auth: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers=auth or self.user_auth(),
        )

    async def api(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return await self.http.request(method, "/v2" + path, headers=headers, **kwargs)

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.http.request(method, "/_control" + path, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    async def advance(self, seconds: float) -> None:
        await self.control("POST", "/clock", json={"advance_seconds": seconds})
