"""The Zoom adapter's meeting update (PATCH) against the sandbox: answers, typed errors, retries."""

from typing import Any

import pytest

from specialistly.zoom.api import ZoomApi, ZoomMeetings
from specialistly.zoom.errors import ZoomApiError, ZoomNotFound, ZoomUnavailable
from specialistly.zoom.transport import RetryPolicy
from tests.zoomkit import SandboxKit

EMAIL = "host@example.com"
BASE = "https://zoom.sandbox.test/v2"
TRIES = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02)


def meetings_of(kit: SandboxKit) -> ZoomMeetings:
    return ZoomMeetings(ZoomApi(kit.http, api_base_url=BASE, retry=TRIES))


async def a_meeting(kit: SandboxKit) -> tuple[str, dict[str, Any]]:
    token: str = (await kit.connect(EMAIL))["access_token"]
    body = {"topic": "Intro", "type": 2, "start_time": "2027-05-01T10:00:00Z", "duration": 30}
    created = await kit.api("POST", "/users/me/meetings", token, json=body)
    assert created.status_code == 201
    return token, created.json()


async def stored(kit: SandboxKit) -> dict[str, Any]:
    [meeting] = (await kit.control("GET", f"/users/{EMAIL}/meetings"))["meetings"]
    return dict(meeting)


async def test_an_update_moves_the_meeting_and_keeps_its_join_link(kit: SandboxKit) -> None:
    token, before = await a_meeting(kit)
    changes = {"start_time": "2027-05-02T12:00:00Z", "duration": 45, "timezone": "Asia/Tokyo"}
    assert await meetings_of(kit).update(token, before["id"], changes, base_url=None) is None
    after = await stored(kit)
    assert (after["start_time"], after["duration"], after["timezone"]) == (
        "2027-05-02T12:00:00Z",
        45,
        "Asia/Tokyo",
    )
    assert (after["id"], after["join_url"]) == (before["id"], before["join_url"])


async def test_updating_an_unknown_meeting_raises_zoom_not_found(kit: SandboxKit) -> None:
    token, _ = await a_meeting(kit)
    with pytest.raises(ZoomNotFound) as raised:
        await meetings_of(kit).update(token, 12345678901, {"topic": "x"}, base_url=None)
    assert raised.value.code == 3001


async def test_a_field_zoom_refuses_raises_zoom_api_error_with_code_300(kit: SandboxKit) -> None:
    token, meeting = await a_meeting(kit)
    with pytest.raises(ZoomApiError) as raised:
        await meetings_of(kit).update(
            token, meeting["id"], {"start_time": "tomorrow"}, base_url=None
        )
    assert (raised.value.status, raised.value.code) == (400, 300)
    assert not isinstance(raised.value, ZoomNotFound)


async def test_a_lost_answer_is_retried_and_reported_as_an_unknown_outcome(
    kit: SandboxKit,
) -> None:
    token, meeting = await a_meeting(kit)
    await kit.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})
    with pytest.raises(ZoomUnavailable) as raised:
        await meetings_of(kit).update(token, meeting["id"], {"duration": 50}, base_url=None)
    assert raised.value.outcome_unknown
    await kit.control("DELETE", "/faults")
    stats = await kit.control("GET", "/stats")
    # Every try reached Zoom and each left the same meeting: a PATCH is safe to repeat.
    assert stats["meetings"]["updated"] == TRIES.attempts
    assert (await stored(kit))["duration"] == 50


async def test_a_gateway_error_after_the_update_is_an_unknown_outcome_and_repeating_is_safe(
    kit: SandboxKit,
) -> None:
    token, meeting = await a_meeting(kit)
    faults = {"api": {"fail_after_success_rate": 1, "status": 502}}
    await kit.control("PUT", "/faults", json=faults)
    with pytest.raises(ZoomUnavailable) as raised:
        await meetings_of(kit).update(token, meeting["id"], {"topic": "Moved"}, base_url=None)
    assert raised.value.outcome_unknown
    await kit.control("DELETE", "/faults")
    await meetings_of(kit).update(token, meeting["id"], {"topic": "Moved"}, base_url=None)
    after = await stored(kit)
    assert (after["topic"], after["join_url"]) == ("Moved", meeting["join_url"])
    assert len((await kit.control("GET", f"/users/{EMAIL}/meetings"))["meetings"]) == 1


async def test_one_lost_answer_is_retried_and_the_update_succeeds(kit: SandboxKit) -> None:
    token, meeting = await a_meeting(kit)
    await kit.control("PUT", "/faults", json={"api": {"lose_response_rate": 1, "count": 1}})
    await meetings_of(kit).update(token, meeting["id"], {"agenda": "Ref BK-9"}, base_url=None)
    stats = await kit.control("GET", "/stats")
    assert stats["faults"] == {"response_lost": 1}
    assert stats["meetings"]["updated"] == 2
    assert (await stored(kit))["agenda"] == "Ref BK-9"
