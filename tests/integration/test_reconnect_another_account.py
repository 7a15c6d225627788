"""A specialist who reconnects with another Zoom account keeps every meeting sent working."""

import asyncio
from typing import Any

from specialistly.jobs import run_once
from tests.harness import Harness

OLD, NEW = "old-account@zoom.example.com", "new-account@zoom.example.com"


async def _grant_of(h: Harness, email: str) -> dict[str, Any]:
    tokens: dict[str, Any] = await h.control("GET", f"/users/{email}/tokens")
    return tokens


async def test_cancelling_after_a_reconnect_as_another_user_deletes_on_the_old_account(
    h: Harness,
) -> None:
    browser, specialist = await h.connected(OLD)
    first = (await h.book(await h.add_slot(browser), "First Customer")).json()
    second = (await h.book(await h.add_slot(browser), "Second Customer")).json()
    assert len(await h.zoom_meetings(OLD)) == 2

    landed = await h.connect(browser, NEW)
    assert landed.headers["location"] == "/dashboard?zoom=connected"
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["zoom_email"] == NEW
    # The customers' links keep working: the old grant is kept for their meetings.
    assert (await _grant_of(h, OLD))["refresh_token"] is not None

    cancelled = await browser.post(f"/api/v1/bookings/{first['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    [left] = await h.zoom_meetings(OLD)
    assert left["join_url"] == second["meeting"]["join_url"]
    assert (await _grant_of(h, OLD))["refresh_token"] is not None  # the second still needs it

    # A new booking goes to the account connected now.
    third = (await h.book(await h.add_slot(browser), "Third Customer")).json()
    [on_new] = await h.zoom_meetings(NEW)
    assert on_new["join_url"] == third["meeting"]["join_url"]

    await h.client().post(
        f"/api/v1/bookings/{second['id']}/cancel", params={"token": second["manage_token"]}
    )
    assert await h.zoom_meetings(OLD) == []
    # No upcoming meeting needs the old grant any more: revoked at Zoom, gone from ours.
    old = await _grant_of(h, OLD)
    assert old["access_tokens"] == []
    assert old["refresh_token"] is None
    assert await h.raw("SELECT id FROM zoom_retired_grants") == []
    assert (await _grant_of(h, NEW))["refresh_token"] is not None
    assert await h.status(specialist) == "connected"
    assert len(await h.zoom_meetings(NEW)) == 1


async def test_an_expired_retired_grant_is_refreshed_with_the_user_managed_app(
    h: Harness,
) -> None:
    browser, _ = await h.connected(OLD)
    booking = (await h.book(await h.add_slot(browser))).json()
    await h.connect(browser, NEW)
    await h.advance(2 * 3600)  # both accounts' access tokens have expired
    assert len(await h.raw("SELECT id FROM zoom_retired_grants")) == 1
    cancelled = await browser.post(f"/api/v1/bookings/{booking['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert await h.zoom_meetings(OLD) == []
    stats = await h.stats()
    assert stats["token_requests"]["refresh_token"] == {"ok": 1}
    assert set(stats["refresh_requests_by_client"]) == {h.settings.zoom_user_managed_client_id}
    # No meeting is left for it: the refreshed grant was revoked and forgotten.
    assert await h.raw("SELECT id FROM zoom_retired_grants") == []
    assert (await _grant_of(h, OLD))["refresh_token"] is None


async def test_a_reconnect_as_another_user_with_no_upcoming_meeting_revokes_the_old_grant(
    h: Harness,
) -> None:
    browser, _ = await h.connected(OLD)
    await h.connect(browser, NEW)
    old = await _grant_of(h, OLD)
    assert old["access_tokens"] == []
    assert old["refresh_token"] is None
    assert await h.raw("SELECT id FROM zoom_retired_grants") == []


async def test_the_meetings_job_revokes_the_old_grant_once_its_meetings_have_ended(
    h: Harness,
) -> None:
    browser, _ = await h.connected(OLD)
    await h.book(await h.add_slot(browser))
    await h.connect(browser, NEW)
    await run_once(h.ctx, "meetings")
    assert (await _grant_of(h, OLD))["refresh_token"] is not None  # still upcoming
    await h.advance(30 * 86_400)  # the meeting has long ended
    report = await run_once(h.ctx, "meetings")
    assert report["grants_revoked"] == 1
    old = await _grant_of(h, OLD)
    assert old["access_tokens"] == []
    assert old["refresh_token"] is None
    assert await h.raw("SELECT id FROM zoom_retired_grants") == []


async def test_concurrent_cancels_refresh_a_retired_grant_once(h: Harness) -> None:
    browser, _ = await h.connected(OLD)
    bookings = [(await h.book(await h.add_slot(browser), f"C {i}")).json() for i in range(6)]
    await h.connect(browser, NEW)
    await h.advance(2 * 3600)
    answers = await asyncio.gather(
        *(browser.post(f"/api/v1/bookings/{b['id']}/cancel") for b in bookings)
    )
    assert {a.json()["status"] for a in answers} == {"cancelled"}
    await h.settle_meetings()
    assert await h.zoom_meetings(OLD) == []
    # One refresh under the row's lease, however many cancels needed the grant at once.
    assert (await h.stats())["token_requests"]["refresh_token"] == {"ok": 1}
    assert (await _grant_of(h, OLD))["refresh_token"] is None


async def test_a_lost_create_on_the_old_account_is_found_there_after_a_reconnect(
    h: Harness,
) -> None:
    browser, _ = await h.connected(OLD)
    await h.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})
    await h.book(await h.add_slot(browser))  # the meeting exists on the old account, unheard
    await h.control("DELETE", "/faults")
    assert len(await h.zoom_meetings(OLD)) >= 1
    await h.connect(browser, NEW)
    await h.settle_meetings()
    [meeting] = await h.zoom_meetings(OLD)
    assert await h.zoom_meetings(NEW) == []  # not created a second time on the new account
    [mine] = (await browser.get("/api/v1/bookings")).json()
    assert mine["meeting"]["join_url"] == meeting["join_url"]
    assert (await _grant_of(h, OLD))["refresh_token"] is not None  # it hosts an upcoming one
