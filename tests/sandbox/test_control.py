"""The control API: a user's tokens, silent invalidation, the clock, stats and unknown users."""

from datetime import datetime

import pytest

from tests.zoomkit import SandboxKit

EMAIL = "host@example.com"
INVALID_TOKEN = {"reason": "Invalid Token!", "error": "invalid_grant"}


async def test_tokens_lists_the_users_current_access_tokens_and_refresh_token(
    kit: SandboxKit,
) -> None:
    first = await kit.connect(EMAIL)
    listed = await kit.control("GET", f"/users/{EMAIL}/tokens")
    assert listed["email"] == EMAIL
    assert [t["access_token"] for t in listed["access_tokens"]] == [first["access_token"]]
    assert listed["access_tokens"][0]["client_id"] == kit.config.user_app.client_id
    assert listed["refresh_token"]["refresh_token"] == first["refresh_token"]

    second = (await kit.refresh(first["refresh_token"])).json()
    listed = await kit.control("GET", f"/users/{EMAIL}/tokens")
    assert second["access_token"] in [t["access_token"] for t in listed["access_tokens"]]
    assert listed["refresh_token"]["refresh_token"] == second["refresh_token"]


async def test_tokens_leave_out_access_tokens_that_have_expired(kit: SandboxKit) -> None:
    await kit.connect(EMAIL)
    await kit.advance(3600)
    listed = await kit.control("GET", f"/users/{EMAIL}/tokens")
    assert listed["access_tokens"] == []
    assert listed["refresh_token"] is not None


async def test_invalidate_ends_the_tokens_without_a_webhook(kit: SandboxKit) -> None:
    tokens = await kit.connect(EMAIL)
    answer = await kit.control("POST", f"/users/{EMAIL}/invalidate")
    assert answer["grants_ended"] == 1

    api = await kit.api("GET", "/users/me", tokens["access_token"])
    assert api.status_code == 401
    assert api.json() == {"code": 124, "message": "Invalid access token."}
    refresh = await kit.refresh(tokens["refresh_token"])
    assert refresh.status_code == 400
    assert refresh.json() == INVALID_TOKEN
    listed = await kit.control("GET", f"/users/{EMAIL}/tokens")
    assert listed["access_tokens"] == []
    assert listed["refresh_token"] is None
    assert (await kit.control("GET", "/stats"))["webhooks"] == {}


async def test_invalidate_leaves_other_users_alone(kit: SandboxKit) -> None:
    await kit.connect(EMAIL)
    other = await kit.connect("other@example.com")
    await kit.control("POST", f"/users/{EMAIL}/invalidate")
    assert (await kit.api("GET", "/users/me", other["access_token"])).status_code == 200
    assert (await kit.refresh(other["refresh_token"])).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tokens"),
        ("GET", "/meetings"),
        ("POST", "/invalidate"),
        ("POST", "/deauthorize"),
    ],
)
async def test_an_unknown_email_is_404(kit: SandboxKit, method: str, path: str) -> None:
    await kit.connect(EMAIL)
    answer = await kit.http.request(method, f"/_control/users/nobody@example.com{path}")
    assert answer.status_code == 404


async def test_the_clock_moves_forward_when_asked(kit: SandboxKit) -> None:
    before = datetime.fromisoformat((await kit.control("GET", "/clock"))["now"])
    moved = await kit.control("POST", "/clock", json={"advance_seconds": 7200})
    after = datetime.fromisoformat((await kit.control("GET", "/clock"))["now"])
    assert 7200 <= (after - before).total_seconds() < 7260
    assert abs((datetime.fromisoformat(moved["now"]) - after).total_seconds()) < 60


async def test_the_clock_cannot_move_backwards(kit: SandboxKit) -> None:
    answer = await kit.http.post("/_control/clock", json={"advance_seconds": -60})
    assert answer.status_code == 422


async def test_stats_count_token_requests_refreshes_api_answers_and_meetings(
    kit: SandboxKit,
) -> None:
    tokens = await kit.connect(EMAIL)
    await kit.refresh(tokens["refresh_token"])
    await kit.refresh(tokens["refresh_token"])
    token = tokens["access_token"]
    kept = await kit.api("POST", "/users/me/meetings", token, json={"topic": "Kept"})
    dropped = await kit.api("POST", "/users/me/meetings", token, json={"topic": "Dropped"})
    await kit.api("DELETE", f"/meetings/{dropped.json()['id']}", token)
    await kit.api("GET", f"/meetings/{dropped.json()['id']}", token)
    assert kept.status_code == 201

    stats = await kit.control("GET", "/stats")
    assert {"token_requests", "refresh_requests_by_client", "api_requests", "meetings"} <= set(
        stats
    )
    assert stats["token_requests"] == {
        "authorization_code": {"ok": 1},
        "refresh_token": {"ok": 1, "invalid_grant": 1},
    }
    assert stats["refresh_requests_by_client"] == {kit.config.user_app.client_id: 2}
    assert stats["api_requests"] == {"201": 2, "204": 1, "404": 1}
    assert stats["meetings"] == {"created": 2, "updated": 0, "deleted": 1, "live": 1}
