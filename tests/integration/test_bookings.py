"""Every booking gets exactly one meeting, at its time, whatever Zoom does meanwhile."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.harness import Harness, harness


async def test_a_booking_gets_its_zoom_meeting_at_once(h: Harness) -> None:
    browser, _ = await h.connected("host@zoom.example.com")
    slot = await h.add_slot(browser)
    answer = await h.book(slot, "Casey Customer")
    assert answer.status_code == 201
    booking = answer.json()
    assert booking["status"] == "confirmed"
    assert booking["meeting"]["status"] == "created"
    assert booking["meeting"]["provider"] == "specialist_zoom"
    assert booking["meeting"]["join_url"].startswith("https://zoom.sandbox.test/j/")
    assert booking["manage_token"]
    assert booking["start_url"] is None  # the host's link is not the customer's
    [meeting] = await h.zoom_meetings("host@zoom.example.com")
    assert meeting["join_url"] == booking["meeting"]["join_url"]
    assert booking["reference"] in meeting["agenda"]
    assert meeting["timezone"] == "Europe/Berlin"
    assert meeting["start_time"] == booking["start_time"].replace("+00:00", "Z")
    [(stored_id,)] = await h.raw("SELECT zoom_meeting_id FROM bookings")
    assert stored_id == meeting["id"] > 2**31  # Zoom's ids need 64 bits
    emails = {
        kind: (await h.emails(kind))[0][1] for kind in ("booking_confirmation", "booking_host")
    }
    assert booking["meeting"]["join_url"] in emails["booking_confirmation"]
    assert meeting["start_url"] in emails["booking_host"]


async def test_the_specialist_sees_the_booking_with_the_start_link(h: Harness) -> None:
    browser, _ = await h.connected("starter@zoom.example.com")
    booking = (await h.book(await h.add_slot(browser))).json()
    [mine] = (await browser.get("/api/v1/bookings")).json()
    [meeting] = await h.zoom_meetings("starter@zoom.example.com")
    assert mine["id"] == booking["id"]
    assert mine["start_url"] == meeting["start_url"]
    assert mine["manage_token"] is None
    [(stored_start,)] = await h.raw("SELECT start_url FROM bookings")
    assert meeting["start_url"] not in stored_start  # encrypted at rest: it carries a host key


async def test_fifty_concurrent_bookings_of_one_slot_make_one_booking_and_one_meeting(
    h: Harness,
) -> None:
    browser, _ = await h.connected("popular@zoom.example.com")
    slot = await h.add_slot(browser)
    answers = await asyncio.gather(*(h.book(slot, f"Customer {i}") for i in range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 49
    assert len(await h.zoom_meetings("popular@zoom.example.com")) == 1
    assert len(await h.raw("SELECT id FROM bookings")) == 1


async def test_an_idempotency_key_replay_returns_the_same_booking(h: Harness) -> None:
    browser, _ = await h.connected("idem@zoom.example.com")
    slot = await h.add_slot(browser)
    first = await h.book(slot, "Ida", **{"Idempotency-Key": "key-1"})
    again = await h.book(slot, "Ida", **{"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other_body = await h.book(slot, "Someone Else", **{"Idempotency-Key": "key-1"})
    assert other_body.status_code == 422
    assert len(await h.zoom_meetings("idem@zoom.example.com")) == 1
    assert len(await h.raw("SELECT id FROM bookings")) == 1


async def test_concurrent_replays_of_one_key_make_one_booking(h: Harness) -> None:
    browser, _ = await h.connected("idem2@zoom.example.com")
    slot = await h.add_slot(browser)
    answers = await asyncio.gather(
        *(h.book(slot, "Ida", **{"Idempotency-Key": "same"}) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_new_york_morning_is_14z_in_january_and_13z_in_july(h: Harness) -> None:
    browser, _ = await h.sign_up(timezone="America/New_York")
    await h.connect(browser, "nyc@zoom.example.com")
    winter = await h.add_slot(browser, "2027-01-15T09:00:00-05:00")
    summer = await h.add_slot(browser, "2027-07-15T09:00:00-04:00")
    for slot in (winter, summer):
        assert (await h.book(slot)).status_code == 201
    meetings = await h.zoom_meetings("nyc@zoom.example.com")
    assert [m["start_time"] for m in meetings] == ["2027-01-15T14:00:00Z", "2027-07-15T13:00:00Z"]
    assert {m["timezone"] for m in meetings} == {"America/New_York"}


async def test_a_lost_create_answer_is_found_not_duplicated(h: Harness) -> None:
    browser, _ = await h.connected("lossy@zoom.example.com")
    await h.control("PUT", "/faults", json={"api": {"lose_response_rate": 1, "count": 1}})
    booking = (await h.book(await h.add_slot(browser))).json()
    assert booking["meeting"]["status"] == "created"
    meetings = await h.zoom_meetings("lossy@zoom.example.com")
    assert len(meetings) == 1
    assert meetings[0]["join_url"] == booking["meeting"]["join_url"]


async def test_a_create_cut_short_by_a_crash_is_found_on_the_next_attempt(h: Harness) -> None:
    """The attempt is recorded before Zoom is called, so a crash cannot cause a duplicate."""
    browser, specialist = await h.connected("crashy@zoom.example.com")
    await h.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})
    await h.book(await h.add_slot(browser))  # every answer lost: the meeting exists, unknown
    await h.control("DELETE", "/faults")
    [(status, unknown)] = await h.raw(
        "SELECT meeting_status, meeting_outcome_unknown FROM bookings"
    )
    assert (status, bool(unknown)) == ("pending", True)
    assert len(await h.zoom_meetings("crashy@zoom.example.com")) >= 1
    await h.settle_meetings()
    assert len(await h.zoom_meetings("crashy@zoom.example.com")) == 1
    assert await h.status(specialist) == "connected"


async def test_cancelling_deletes_the_meeting_and_frees_the_slot(h: Harness) -> None:
    browser, _ = await h.connected("cancel@zoom.example.com")
    slot = await h.add_slot(browser)
    booking = (await h.book(slot)).json()
    token = booking["manage_token"]
    wrong = await h.client().post(f"/api/v1/bookings/{booking['id']}/cancel?token=nope")
    assert wrong.status_code == 404
    answer = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": token}
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    assert await h.zoom_meetings("cancel@zoom.example.com") == []
    assert (await h.book(slot, "Next Customer")).status_code == 201
    assert len(await h.zoom_meetings("cancel@zoom.example.com")) == 1


async def test_the_specialist_can_cancel_too_and_zoom_404_is_fine(h: Harness) -> None:
    browser, _ = await h.connected("spec-cancel@zoom.example.com")
    booking = (await h.book(await h.add_slot(browser))).json()
    [meeting] = await h.zoom_meetings("spec-cancel@zoom.example.com")
    tokens = await h.control("GET", "/users/spec-cancel@zoom.example.com/tokens")
    gone = await h.zoom.delete(
        f"/v2/meetings/{meeting['id']}",
        headers={"Authorization": f"Bearer {tokens['access_tokens'][0]['access_token']}"},
    )
    assert gone.status_code == 204  # someone deleted it in Zoom already
    answer = await browser.post(f"/api/v1/bookings/{booking['id']}/cancel")
    assert answer.json()["status"] == "cancelled"
    [(pending,)] = await h.raw("SELECT meeting_delete_pending FROM bookings")
    assert not pending


async def test_a_cancel_during_a_zoom_outage_deletes_the_meeting_later(h: Harness) -> None:
    browser, _ = await h.connected("outage@zoom.example.com")
    booking = (await h.book(await h.add_slot(browser))).json()
    await h.control("PUT", "/faults", json={"api": {"error_rate": 1, "status": 503}})
    answer = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": booking["manage_token"]}
    )
    assert answer.json()["status"] == "cancelled"
    assert len(await h.zoom_meetings("outage@zoom.example.com")) == 1
    await h.control("DELETE", "/faults")
    await h.settle_meetings()
    assert await h.zoom_meetings("outage@zoom.example.com") == []


async def test_reading_a_booking_needs_its_token_or_its_specialist(h: Harness) -> None:
    browser, _ = await h.connected("reader@zoom.example.com")
    other, _ = await h.sign_up()
    booking = (await h.book(await h.add_slot(browser))).json()
    path = f"/api/v1/bookings/{booking['id']}"
    assert (
        await h.client().get(path, params={"token": booking["manage_token"]})
    ).status_code == 200
    assert (await h.client().get(path)).status_code == 404
    assert (await h.client().get(path, params={"token": "x" * 30})).status_code == 404
    assert (await other.get(path)).status_code == 404
    assert (await other.post(path + "/cancel")).status_code == 404
    assert (await browser.get(path)).json()["start_url"]


async def test_unknown_and_taken_slots(h: Harness) -> None:
    browser, _ = await h.connected()
    assert (await h.book(999_999)).status_code == 404
    slot = await h.add_slot(browser)
    assert (await h.book(slot)).status_code == 201
    taken = await h.book(slot, "Late Customer")
    assert taken.status_code == 409
    assert "detail" in taken.json()


@pytest.mark.parametrize("fallback", ["none", "platform"])
async def test_a_dead_grant_confirms_bookings_and_reconnecting_brings_the_links(
    tmp_path: Path, fallback: str
) -> None:
    async with harness(f"sqlite:///{tmp_path}/f.db", tmp_path, meeting_fallback=fallback) as h:
        browser, _ = await h.connected("dead@zoom.example.com")
        slots = [await h.add_slot(browser) for _ in range(5)]
        await h.control("POST", "/users/dead@zoom.example.com/invalidate")
        await h.advance(3600)
        bookings = [(await h.book(slot, f"Customer {i}")).json() for i, slot in enumerate(slots)]
        assert all(b["status"] == "confirmed" for b in bookings)
        if fallback == "platform":
            assert {b["meeting"]["provider"] for b in bookings} == {"platform_zoom"}
            assert all(b["meeting"]["join_url"] for b in bookings)
            emails = await h.email_bodies("booking_confirmation")
            assert all("Specialistly's own Zoom account" in body for (body,) in emails)
            stats = await h.stats()
            assert stats["token_requests"]["account_credentials"] == {"ok": 1}  # cached
            assert stats["meetings"]["live"] == 5
            return
        assert {b["meeting"]["status"] for b in bookings} == {"pending"}
        assert {b["meeting"]["join_url"] for b in bookings} == {None}
        follow = await h.email_bodies("booking_confirmation")
        assert len(follow) == 5
        assert all("will follow" in body for (body,) in follow)

        await h.connect(browser, "dead@zoom.example.com")
        from specialistly.jobs import run_once

        await run_once(h.ctx, "meetings")  # one job cycle
        mine = (await browser.get("/api/v1/bookings")).json()
        assert {b["meeting"]["status"] for b in mine} == {"created"}
        assert len(await h.zoom_meetings("dead@zoom.example.com")) == 5
        links = await h.emails("booking_link")
        assert len(links) == 5
        joined = {b["meeting"]["join_url"] for b in mine}
        assert all(any(url in body for url in joined) for _, body in links)


async def test_a_hundred_bookings_under_zoom_faults_end_with_a_hundred_meetings(
    h: Harness,
) -> None:
    browser, _ = await h.connected("busy@zoom.example.com")
    slots = [await h.add_slot(browser) for _ in range(100)]
    fault = {"error_rate": 0.2, "lose_response_rate": 0.1}
    await h.control("PUT", "/faults", json={"token": fault, "api": fault, "seed": 7})
    answers = await asyncio.gather(*(h.book(s, f"Customer {i}") for i, s in enumerate(slots)))
    assert [a.status_code for a in answers] == [201] * 100
    faults = (await h.stats())["faults"]
    assert faults["http_500"] > 0
    assert faults["response_lost"] > 0
    await h.control("DELETE", "/faults")
    await h.settle_meetings()
    bookings = {b["reference"]: b for b in (await browser.get("/api/v1/bookings")).json()}
    meetings = await h.zoom_meetings("busy@zoom.example.com")
    assert len(meetings) == 100
    by_reference = {m["agenda"].split()[-1]: m for m in meetings}
    assert set(by_reference) == set(bookings)  # no orphan, no duplicate
    for reference, meeting in by_reference.items():
        booking = bookings[reference]
        assert booking["meeting"]["join_url"] == meeting["join_url"]
        assert meeting["start_time"] == booking["start_time"].replace("+00:00", "Z")


async def test_zooms_daily_limit_defers_the_meeting_until_zoom_allows(tmp_path: Path) -> None:
    async with harness(
        f"sqlite:///{tmp_path}/d.db",
        tmp_path,
        sandbox_changes={"meetings_per_user_per_day": 1},
        meeting_fallback="none",
    ) as h:
        browser, _ = await h.connected("limited@zoom.example.com")
        first, second = await h.add_slot(browser), await h.add_slot(browser)
        assert (await h.book(first)).json()["meeting"]["status"] == "created"
        assert (await h.book(second)).json()["meeting"]["status"] == "pending"
        [(error,)] = await h.raw(
            "SELECT meeting_last_error FROM bookings WHERE meeting_status = 'pending'"
        )
        assert "429" in error
        await h.settle_meetings(rounds=30, step=3600)
        assert len(await h.zoom_meetings("limited@zoom.example.com")) == 2


async def test_a_specialist_without_zoom_still_gets_bookings_on_the_platform(h: Harness) -> None:
    browser, _ = await h.sign_up()  # never connected Zoom; the harness has an S2S app
    booking = (await h.book(await h.add_slot(browser))).json()
    assert booking["status"] == "confirmed"
    assert booking["meeting"]["provider"] == "platform_zoom"
    assert (await h.stats())["meetings"]["live"] == 1


async def test_the_meetings_job_leaves_a_booking_in_progress_to_its_request(h: Harness) -> None:
    """Another process's job firing between the booking's commit and its meeting must not
    take the meeting and leave the customer's answer without its link."""
    from specialistly.jobs import run_once

    browser, _ = await h.connected("race@zoom.example.com")
    slot = await h.add_slot(browser)
    maker = h.ctx.bookings.maker
    real_ensure = maker.ensure
    reports: list[dict[str, object]] = []

    async def job_first(booking_id: int, **how: Any) -> Any:
        reports.append(await run_once(h.ctx, "meetings"))  # the job fires in the gap
        return await real_ensure(booking_id, **how)

    maker.ensure = job_first  # type: ignore[method-assign]
    answer = await h.book(slot)
    assert reports[0]["due"] == 0
    assert answer.json()["meeting"]["status"] == "created"


async def _wait_until(h: Harness, sql: str) -> int:
    """Poll the database until `sql` finds a row; answer its first column."""
    for _ in range(500):
        rows = await h.raw(sql)
        if rows:
            return int(rows[0][0])
        await asyncio.sleep(0.01)
    raise AssertionError(f"nothing found by {sql}")


async def test_gateway_errors_after_creates_are_looked_up_not_duplicated(h: Harness) -> None:
    browser, _ = await h.connected("gateway@zoom.example.com")
    slots = [await h.add_slot(browser) for _ in range(50)]
    fault = {"fail_after_success_rate": 0.3, "status": 502}
    await h.control("PUT", "/faults", json={"api": fault, "seed": 11})
    answers = await asyncio.gather(*(h.book(s, f"Customer {i}") for i, s in enumerate(slots)))
    assert [a.status_code for a in answers] == [201] * 50
    assert (await h.stats())["faults"]["failed_after_success"] > 0
    await h.control("DELETE", "/faults")
    await h.settle_meetings()
    stats = await h.stats()
    assert stats["meetings"]["live"] == 50
    assert stats["meetings"]["created"] == 50  # not one create too many, even deleted later
    bookings = (await browser.get("/api/v1/bookings")).json()
    assert {b["meeting"]["status"] for b in bookings} == {"created"}
    meetings = await h.zoom_meetings("gateway@zoom.example.com")
    by_reference = {m["agenda"].split()[-1]: m["join_url"] for m in meetings}
    assert by_reference == {b["reference"]: b["meeting"]["join_url"] for b in bookings}


async def test_a_cancel_while_a_lost_create_is_in_flight_leaves_no_meeting(h: Harness) -> None:
    browser, _ = await h.connected("inflight@zoom.example.com")
    slot = await h.add_slot(browser)
    # The create waits at Zoom, then happens, and its answer is lost.
    slow_and_lost = {"latency_ms": 1500, "lose_response_rate": 1}
    await h.control("PUT", "/faults", json={"api": slow_and_lost})
    booking = asyncio.create_task(h.book(slot))
    booking_id = await _wait_until(h, "SELECT id FROM bookings WHERE meeting_outcome_unknown")
    await h.control("DELETE", "/faults")  # the cancel's look-up is answered at once
    cancelled = await browser.post(f"/api/v1/bookings/{booking_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert (await booking).status_code == 201
    await h.settle_meetings()
    assert await h.zoom_meetings("inflight@zoom.example.com") == []
    assert (await h.stats())["meetings"]["created"] == 1


async def test_a_booking_cancelled_during_its_last_meeting_attempt_is_not_confirmed(
    tmp_path: Path,
) -> None:
    async with harness(f"sqlite:///{tmp_path}/c.db", tmp_path, meeting_fallback="none") as h:
        browser, _ = await h.connected("refused@zoom.example.com")
        slot = await h.add_slot(browser)
        # Zoom takes its time, then refuses the create: the request's last attempt.
        await h.control(
            "PUT", "/faults", json={"api": {"latency_ms": 1500, "error_rate": 1, "status": 400}}
        )
        booking = asyncio.create_task(h.book(slot))
        booking_id = await _wait_until(h, "SELECT id FROM bookings WHERE meeting_outcome_unknown")
        cancelled = await browser.post(f"/api/v1/bookings/{booking_id}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        assert (await booking).status_code == 201
        assert await h.emails("booking_confirmation") == []
        assert await h.emails("booking_link") == []
        assert len(await h.emails("booking_cancelled")) == 2


async def test_the_first_booking_after_zoom_ended_the_grant_falls_back_at_once(
    h: Harness,
) -> None:
    browser, specialist = await h.connected("ended@zoom.example.com")
    first, second = await h.add_slot(browser), await h.add_slot(browser)
    # Zoom ends the grant while our access token still looks valid: the create gets a 401,
    # the refresh an invalid_grant.
    await h.control("POST", "/users/ended@zoom.example.com/invalidate")
    for slot in (first, second):
        booking = (await h.book(slot)).json()
        assert booking["meeting"]["status"] == "created"
        assert booking["meeting"]["provider"] == "platform_zoom"
    assert await h.status(specialist) == "needs_reconnect"
    assert (await h.stats())["meetings"]["live"] == 2


async def test_a_booking_and_its_meeting_take_two_write_transactions(h: Harness) -> None:
    """One to confirm (claim and create mark included), one to record the meeting."""
    browser, _ = await h.connected("two-writes@zoom.example.com")
    slot = await h.add_slot(browser)
    writes: list[str] = []

    def count(conn: Any) -> None:  # each transaction's BEGIN, IMMEDIATE for a write
        if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            writes.append("BEGIN IMMEDIATE")

    for engine in h.ctx.db.engines:
        event.listen(engine, "begin", count)
    try:
        answer = await h.book(slot)
    finally:
        for engine in h.ctx.db.engines:
            event.remove(engine, "begin", count)
    assert answer.status_code == 201, answer.text
    assert answer.json()["meeting"]["status"] == "created"
    assert len(writes) == 2
