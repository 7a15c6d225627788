"""Failures on demand through /_control/faults: errors, XML, latency, lost answers, QPS limits."""

import time
from typing import Any

import httpx
import pytest

from tests.zoomkit import SandboxKit

EMAIL = "host@example.com"


async def connected(kit: SandboxKit) -> dict[str, Any]:
    return await kit.connect(EMAIL)


async def test_injected_api_errors_answer_the_status_asked_for_and_are_counted(
    kit: SandboxKit,
) -> None:
    token = (await connected(kit))["access_token"]
    await kit.control("PUT", "/faults", json={"api": {"error_rate": 1, "status": 503}})
    first = await kit.api("GET", "/users/me", token)
    second = await kit.api("POST", "/users/me/meetings", token, json={"topic": "x"})
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.json()["code"] == 503
    stats = await kit.control("GET", "/stats")
    assert stats["faults"] == {"http_503": 2}
    assert stats["api_requests"] == {"503": 2}
    assert stats["meetings"]["created"] == 0


async def test_an_xml_error_body_is_not_json(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    faults = {"api": {"error_rate": 1, "status": 502, "body": "xml"}}
    await kit.control("PUT", "/faults", json=faults)
    answer = await kit.api("GET", "/users/me", token)
    assert answer.status_code == 502
    assert "xml" in answer.headers["content-type"]
    assert answer.text.startswith("<?xml")
    with pytest.raises(ValueError, match="Expecting value"):
        answer.json()


async def test_token_faults_make_the_token_endpoint_answer_500(kit: SandboxKit) -> None:
    tokens = await connected(kit)
    await kit.control("PUT", "/faults", json={"token": {"error_rate": 1}})
    refreshed = await kit.refresh(tokens["refresh_token"])
    exchanged = await kit.exchange(await kit.code(EMAIL))
    assert (refreshed.status_code, exchanged.status_code) == (500, 500)
    assert refreshed.json()["error"] == "server_error"
    # Only the token endpoint is failing: the API still answers.
    assert (await kit.api("GET", "/users/me", tokens["access_token"])).status_code == 200
    stats = await kit.control("GET", "/stats")
    assert stats["faults"] == {"http_500": 2}
    assert stats["token_requests"]["refresh_token"] == {"http_500": 1}


async def test_latency_delays_the_answer(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    await kit.control("PUT", "/faults", json={"api": {"latency_ms": 200}})
    started = time.monotonic()
    answer = await kit.api("GET", "/users/me", token)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert elapsed >= 0.2


async def test_a_lost_create_response_still_creates_the_meeting(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    await kit.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})
    with pytest.raises(httpx.RemoteProtocolError):
        await kit.api("POST", "/users/me/meetings", token, json={"topic": "Lost answer"})

    stored = await kit.control("GET", f"/users/{EMAIL}/meetings")
    assert [m["topic"] for m in stored["meetings"]] == ["Lost answer"]
    stats = await kit.control("GET", "/stats")
    assert stats["meetings"]["created"] == 1
    assert stats["faults"] == {"response_lost": 1}
    assert stats["api_requests"] == {"201": 1}


async def test_a_fail_after_success_creates_the_meeting_then_answers_the_status(
    kit: SandboxKit,
) -> None:
    token = (await connected(kit))["access_token"]
    faults = {"api": {"fail_after_success_rate": 1, "status": 502}}
    await kit.control("PUT", "/faults", json=faults)
    answer = await kit.api("POST", "/users/me/meetings", token, json={"topic": "Gateway"})
    assert answer.status_code == 502
    assert answer.json()["code"] == 502

    stored = await kit.control("GET", f"/users/{EMAIL}/meetings")
    assert [m["topic"] for m in stored["meetings"]] == ["Gateway"]
    stats = await kit.control("GET", "/stats")
    assert stats["meetings"]["created"] == 1
    assert stats["faults"] == {"failed_after_success": 1}


async def test_a_fail_after_success_on_refresh_still_rotates_the_tokens(kit: SandboxKit) -> None:
    tokens = await connected(kit)
    await kit.control("PUT", "/faults", json={"token": {"fail_after_success_rate": 1}})
    answer = await kit.refresh(tokens["refresh_token"])
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    await kit.control("DELETE", "/faults")
    again = await kit.refresh(tokens["refresh_token"])
    assert again.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}


async def test_a_lost_refresh_response_still_rotates_the_refresh_token(kit: SandboxKit) -> None:
    tokens = await connected(kit)
    await kit.control("PUT", "/faults", json={"token": {"lose_response_rate": 1}})
    with pytest.raises(httpx.RemoteProtocolError):
        await kit.refresh(tokens["refresh_token"])
    await kit.control("DELETE", "/faults")

    again = await kit.refresh(tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    current = await kit.control("GET", f"/users/{EMAIL}/tokens")
    assert current["refresh_token"] is not None
    assert current["refresh_token"]["refresh_token"] != tokens["refresh_token"]
    # The unheard answer's refresh token is the one that works now.
    rescued = await kit.refresh(current["refresh_token"]["refresh_token"])
    assert rescued.status_code == 200


async def test_the_qps_limit_answers_429_beyond_the_limit(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    await kit.control("PUT", "/faults", json={"rate_limit_per_second": 2})
    answers = [await kit.api("GET", "/users/me", token) for _ in range(5)]
    statuses = [a.status_code for a in answers]
    assert statuses[:2] == [200, 200]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, statuses
    for answer in limited:
        assert answer.headers["X-RateLimit-Type"] == "QPS"
        assert answer.headers["X-RateLimit-Limit"] == "2"
        assert answer.json()["code"] == 429
    stats = await kit.control("GET", "/stats")
    assert stats["faults"] == {"rate_limited": len(limited)}


async def test_deleting_the_faults_clears_them(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    faults = {"api": {"error_rate": 1, "status": 503}, "token": {"error_rate": 1}}
    await kit.control("PUT", "/faults", json=faults)
    assert (await kit.api("GET", "/users/me", token)).status_code == 503
    await kit.control("DELETE", "/faults")

    assert (await kit.api("GET", "/users/me", token)).status_code == 200
    assert (await kit.exchange(await kit.code(EMAIL))).status_code == 200
    current = await kit.control("GET", "/faults")
    assert current["api"]["error_rate"] == 0
    assert current["token"]["error_rate"] == 0
    assert current["rate_limit_per_second"] is None


async def test_a_reset_wipes_users_tokens_meetings_and_stats(kit: SandboxKit) -> None:
    token = (await connected(kit))["access_token"]
    created = await kit.api("POST", "/users/me/meetings", token, json={"topic": "Before"})
    assert created.status_code == 201
    await kit.control("PUT", "/faults", json={"api": {"latency_ms": 1}})

    await kit.control("POST", "/reset")

    stats = await kit.control("GET", "/stats")
    assert stats["token_requests"] == {}
    assert stats["api_requests"] == {}
    assert stats["meetings"] == {"created": 0, "updated": 0, "deleted": 0, "live": 0}
    assert (await kit.control("GET", "/faults"))["api"]["latency_ms"] == 0
    for path in (f"/_control/users/{EMAIL}/tokens", f"/_control/users/{EMAIL}/meetings"):
        assert (await kit.http.get(path)).status_code == 404
    answer = await kit.api("GET", "/users/me", token)
    assert answer.status_code == 401
    assert answer.json() == {"code": 124, "message": "Invalid access token."}
    # The same email signs in as a new Zoom user with no meetings.
    fresh = (await connected(kit))["access_token"]
    listing = await kit.api("GET", "/users/me/meetings", fresh)
    assert listing.json()["meetings"] == []
