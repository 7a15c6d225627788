"""A real OAuth client library drives the sandbox: authorization code with PKCE, then refreshes."""

from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.zoomkit import SandboxKit
from zoom_sandbox import SandboxTransport

BASE = "https://zoom.sandbox.test"


async def test_authlib_connects_with_pkce_and_refreshes_twice(kit: SandboxKit) -> None:
    saved: list[dict[str, Any]] = []

    async def update_token(token: dict[str, Any], refresh_token: str | None = None) -> None:
        saved.append(dict(token))

    app = kit.config.user_app
    client = AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=kit.redirect_uri,
        code_challenge_method="S256",
        token_endpoint=f"{BASE}/oauth/token",
        update_token=update_token,
        transport=SandboxTransport(kit.app),
    )
    async with client:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(
            f"{BASE}/oauth/authorize", code_verifier=verifier
        )
        consent = await kit.http.post(url, data={"email": "lib@example.com", "action": "approve"})
        callback = consent.headers["location"]
        assert httpx.URL(callback).params["state"] == state

        first = await client.fetch_token(authorization_response=callback, code_verifier=verifier)
        assert first["token_type"] == "bearer"

        second = await client.refresh_token(refresh_token=first["refresh_token"])
        third = await client.refresh_token(refresh_token=second["refresh_token"])
        assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
        assert [t["refresh_token"] for t in saved] == [
            second["refresh_token"],
            third["refresh_token"],
        ]

        me = await client.get(f"{BASE}/v2/users/me")
        assert me.status_code == 200
        assert me.json()["email"] == "lib@example.com"

    stats = await kit.control("GET", "/stats")
    assert stats["token_requests"]["authorization_code"] == {"ok": 1}
    assert stats["token_requests"]["refresh_token"] == {"ok": 2}
    assert stats["refresh_requests_by_client"] == {app.client_id: 2}
