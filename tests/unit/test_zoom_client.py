"""The one Zoom client serves every specialist: nothing one call is given goes with another."""

from pathlib import Path

import httpx

from specialistly.context import build_context
from specialistly.zoom.api import ZoomApi
from specialistly.zoom.transport import RetryPolicy
from tests.harness import live_settings


async def test_a_cookie_zoom_sets_for_one_specialist_never_goes_with_another(
    tmp_path: Path,
) -> None:
    seen: list[httpx.Request] = []

    def zoom(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"id": "u1", "email": "a@zoom.example.com", "account_id": "acct"},
            headers={"Set-Cookie": "affinity=node-7; Path=/; Secure"},
        )

    settings = live_settings(f"sqlite:///{tmp_path}/app.db", tmp_path)
    ctx = build_context(settings, zoom_transport=httpx.MockTransport(zoom))
    api = ZoomApi(ctx.zoom_http, api_base_url=settings.zoom_api_base_url, retry=RetryPolicy())
    try:
        await api.me("token-of-specialist-a")
        await api.me("token-of-specialist-b")
    finally:
        await ctx.close()
    assert [r.headers["authorization"] for r in seen] == [
        "Bearer token-of-specialist-a",
        "Bearer token-of-specialist-b",
    ]
    assert "cookie" not in seen[1].headers
    assert not ctx.zoom_http.cookies
