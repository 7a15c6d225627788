"""Rescheduling: the booking moves in one step and the same Zoom meeting follows it."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from specialistly.connections.flows import ZoomAccess
from specialistly.jobs import run_once
from specialistly.notifications.message import decode_attachments
from tests.harness import Harness, harness

ZOOM_USER = "move@zoom.example.com"


async def _setup(h: Harness) -> tuple[httpx.AsyncClient, int, int]:
    """A connected specialist in UTC, working every day 09:00–17:00, a 30-minute event type."""
    browser, specialist = await h.connected(ZOOM_USER)
    assert (await browser.patch("/api/v1/me", json={"timezone": "UTC"})).status_code == 200
    weekly = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)]
    answer = await browser.put("/api/v1/availability", json={"weekly": weekly, "overrides": []})
    assert answer.status_code == 200, answer.text
    made = await browser.post(
        "/api/v1/event-types",
        json={"name": "Intro", "duration_minutes": 30, "buffer_after_minutes": 15},
    )
    assert made.status_code == 201, made.text
    return browser, specialist, int(made.json()["id"])


def _at(h: Harness, days: int, hour: int, minute: int = 0) -> datetime:
    day = (h.ctx.clock.now() + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def _book(h: Harness, kind: int, start: datetime, n: int = 0) -> dict[str, Any]:
    answer = await h.client().post(
        "/api/v1/bookings",
        json={
            "event_type_id": kind,
            "start_time": start.isoformat(),
            "customer_name": f"Customer {n}",
            "customer_email": f"c{n}@example.com",
            "customer_timezone": "Asia/Tokyo",
        },
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _move(
    h: Harness, booking: dict[str, Any], start: datetime | None = None, **body: Any
) -> httpx.Response:
    if start is not None:
        body["start_time"] = start.isoformat()
    return await h.client().post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        params={"token": booking["manage_token"]},
        json=body,
    )


async def _times(h: Harness, specialist: int, kind: int, day: datetime) -> str:
    answer = await h.client().get(
        f"/api/v1/specialists/{specialist}/times",
        params={
            "event_type_id": kind,
            "from": day.date().isoformat(),
            "to": day.date().isoformat(),
        },
    )
    assert answer.status_code == 200, answer.text
    return " ".join(t["start_time"] for t in answer.json()["times"])


async def _invites(h: Harness, kind: str) -> list[tuple[str, str, Any]]:
    rows = await h.raw(
        "SELECT to_address, attachments FROM outbox_emails WHERE kind = :k ORDER BY id", k=kind
    )
    found = []
    for to, raw in rows:
        (invite,) = decode_attachments(h.ctx.cipher.decrypt(raw))
        calendar = Calendar.from_ical(invite.content)
        found.append((to, str(calendar["METHOD"]), next(iter(calendar.walk("VEVENT")))))
    return found


async def test_a_reschedule_moves_the_same_meeting_and_frees_the_old_time(h: Harness) -> None:
    _, specialist, kind = await _setup(h)
    old, new = _at(h, 2, 10), _at(h, 3, 14, 30)
    booking = await _book(h, kind, old)
    [before] = await h.zoom_meetings(ZOOM_USER)

    answer = await _move(h, booking, new)

    assert answer.status_code == 200, answer.text
    moved = answer.json()
    assert moved["id"] == booking["id"]
    assert datetime.fromisoformat(moved["start_time"]) == new
    assert datetime.fromisoformat(moved["end_time"]) == new + timedelta(minutes=30)
    assert moved["meeting"]["join_url"] == booking["meeting"]["join_url"]
    [after] = await h.zoom_meetings(ZOOM_USER)
    assert (after["id"], after["join_url"]) == (before["id"], before["join_url"])
    assert after["start_time"] == new.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "T10:00:00Z" in await _times(h, specialist, kind, old)  # free again
    assert "T14:30:00Z" not in await _times(h, specialist, kind, new)
    assert (await h.stats())["meetings"]["created"] == 1


async def test_both_parties_get_the_same_event_with_a_higher_sequence(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    [(_, _, booked)] = await _invites(h, "booking_confirmation")

    assert (await _move(h, booking, _at(h, 2, 15))).status_code == 200

    sent = await _invites(h, "booking_rescheduled")
    assert sorted(to for to, _, _ in sent) == sorted(["c0@example.com", sent[1][0]])
    assert len(sent) == 2
    for _, method, event in sent:
        assert method == "REQUEST"
        assert str(event["UID"]) == str(booked["UID"])
        assert int(event["SEQUENCE"]) > int(booked["SEQUENCE"])
        assert event.decoded("DTSTART") == _at(h, 2, 15)
        assert str(event["LOCATION"]) == booking["meeting"]["join_url"]
    [(customer_body,)] = await h.raw(
        "SELECT body FROM outbox_emails WHERE kind = 'booking_rescheduled' AND to_address = :t",
        t="c0@example.com",
    )
    text = h.ctx.cipher.decrypt(customer_body)
    # The customer reads both times in their own zone (Tokyo: UTC+9).
    assert "00:00–00:30 (Asia/Tokyo)" in text
    assert "It was" in text
    assert "19:00–19:30 (Asia/Tokyo)" in text
    assert f"token={booking['manage_token']}" in text


async def test_a_time_that_is_not_offered_is_refused_and_nothing_changes(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    other = await _book(h, kind, _at(h, 2, 12), n=1)

    outside = await _move(h, booking, _at(h, 2, 20))  # after working hours
    taken = await _move(h, booking, _at(h, 2, 12))  # the other booking's time
    in_buffer = await _move(h, booking, _at(h, 2, 11, 30))
    assert (outside.status_code, taken.status_code) == (409, 409), (outside.text, taken.text)
    assert in_buffer.status_code == 409  # 11:30–12:00 plus 15 minutes after runs into 12:00
    assert "not bookable" in outside.json()["detail"].lower()
    [row] = await h.raw("SELECT start_time FROM bookings WHERE id = :b", b=booking["id"])
    assert str(row[0]).startswith(_at(h, 2, 10).strftime("%Y-%m-%d %H:%M"))
    assert other["id"] != booking["id"]
    assert await h.emails("booking_rescheduled") == []


async def test_a_small_move_within_its_own_time_is_allowed(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    answer = await _move(h, booking, _at(h, 2, 10, 15))
    assert answer.status_code == 200, answer.text


async def test_the_customer_is_refused_past_the_cutoff_and_the_specialist_is_not(
    h: Harness,
) -> None:
    browser, _, kind = await _setup(h)
    start = _at(h, 1, 10)
    booking = await _book(h, kind, start)
    await h.advance((start - h.ctx.clock.now()).total_seconds() - 30 * 60)  # 30 minutes before

    late = await _move(h, booking, _at(h, 1, 15))
    late_cancel = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": booking["manage_token"]}
    )
    assert (late.status_code, late_cancel.status_code) == (422, 422)
    assert "60 minutes before" in late.json()["detail"]

    by_specialist = await browser.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start_time": _at(h, 1, 15).isoformat()},
    )
    assert by_specialist.status_code == 200, by_specialist.text
    [(body,)] = await h.raw(
        "SELECT body FROM outbox_emails WHERE kind = 'booking_rescheduled' "
        "AND to_address = 'c0@example.com'"
    )
    assert "moved by the specialist" in h.ctx.cipher.decrypt(body)


async def test_a_cancelled_booking_cannot_be_moved(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    token = {"token": booking["manage_token"]}
    assert (
        await h.client().post(f"/api/v1/bookings/{booking['id']}/cancel", params=token)
    ).status_code == 200
    answer = await _move(h, booking, _at(h, 2, 14))
    assert answer.status_code == 409
    assert answer.json()["detail"] == "This booking is cancelled."


async def test_bad_bodies_get_a_422_and_a_wrong_token_a_404(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    both = await _move(h, booking, _at(h, 2, 14), slot_id=3)
    neither = await _move(h, booking)
    naive = await _move(h, booking, start_time="2030-01-01T10:00:00")
    for edge in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        assert (await _move(h, booking, start_time=edge)).status_code == 422
    stranger = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        params={"token": "nope"},
        json={"start_time": _at(h, 2, 14).isoformat()},
    )
    assert [both.status_code, neither.status_code, naive.status_code] == [422, 422, 422]
    assert stranger.status_code == 404


async def test_a_slot_booking_moves_to_another_slot_and_frees_the_first(h: Harness) -> None:
    browser, _ = await h.connected(ZOOM_USER)
    first, second = await h.add_slot(browser), await h.add_slot(browser)
    booking = (await h.book(first)).json()
    by_time = await _move(h, booking, _at(h, 4, 10))
    assert by_time.status_code == 409  # a slot's booking moves to another slot

    answer = await _move(h, booking, slot_id=second)

    assert answer.status_code == 200, answer.text
    assert answer.json()["slot_id"] == second
    assert (await h.book(first, customer="Next Customer")).status_code == 201
    assert (await h.book(second, customer="Late Customer")).status_code == 409
    [meeting] = [
        m
        for m in await h.zoom_meetings(ZOOM_USER)
        if m["join_url"] == booking["meeting"]["join_url"]
    ]
    assert meeting["start_time"] == answer.json()["start_time"].replace("+00:00", "Z")


async def test_lost_answers_and_gateway_errors_still_leave_exactly_one_meeting(
    h: Harness,
) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    new = _at(h, 2, 16)
    await h.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})

    answer = await _move(h, booking, new)

    assert answer.status_code == 200, answer.text  # the booking moved whatever Zoom did
    await h.control("PUT", "/faults", json={"api": {"fail_after_success_rate": 1}})
    await h.advance(120)
    await run_once(h.ctx, "meetings")
    await h.control("DELETE", "/faults")
    await _settle_moves(h)
    [meeting] = await h.zoom_meetings(ZOOM_USER)
    assert meeting["start_time"] == new.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert meeting["join_url"] == booking["meeting"]["join_url"]
    assert (await h.stats())["meetings"]["created"] == 1
    [(pending,)] = await h.raw("SELECT meeting_next_attempt_at FROM bookings")
    assert pending is None


async def _settle_moves(h: Harness) -> None:
    for _ in range(30):
        rows = await h.raw(
            "SELECT COUNT(*) FROM bookings WHERE status = 'confirmed' AND "
            "meeting_next_attempt_at IS NOT NULL"
        )
        if rows[0][0] == 0:
            return
        await h.advance(600)
        await run_once(h.ctx, "meetings")
    raise AssertionError("moves did not settle")


async def test_a_booking_still_waiting_for_its_meeting_gets_it_at_the_new_time(
    h: Harness,
) -> None:
    _, _, kind = await _setup(h)
    await h.control("PUT", "/faults", json={"api": {"error_rate": 1}})
    booking = await _book(h, kind, _at(h, 2, 10))
    assert booking["meeting"]["status"] == "pending"
    new = _at(h, 2, 13)
    assert (await _move(h, booking, new)).status_code == 200
    await h.control("DELETE", "/faults")
    await h.settle_meetings()
    [meeting] = await h.zoom_meetings(ZOOM_USER)
    assert meeting["start_time"] == new.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_meeting_deleted_at_zoom_is_made_again_at_the_new_time(h: Harness) -> None:
    _, specialist, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    [meeting] = await h.zoom_meetings(ZOOM_USER)

    async def delete(access: ZoomAccess) -> bool:  # the host deletes it in Zoom's own app
        return await h.ctx.meetings.meetings.delete(
            access.token, int(meeting["id"]), base_url=access.api_base_url
        )

    assert await h.ctx.connections.call(specialist, delete)
    assert await h.zoom_meetings(ZOOM_USER) == []
    new = _at(h, 2, 15)

    answer = await _move(h, booking, new)

    assert answer.status_code == 200, answer.text
    [again] = await h.zoom_meetings(ZOOM_USER)
    assert again["id"] != meeting["id"]
    assert again["start_time"] == new.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert answer.json()["meeting"]["join_url"] == again["join_url"]


async def test_the_reminder_follows_the_new_time(h: Harness) -> None:
    _, _, kind = await _setup(h)
    start = _at(h, 1, 10)
    booking = await _book(h, kind, start)
    new = start + timedelta(hours=4)
    # The day-before reminder of the new time exists only if its moment is still ahead when
    # the booking moves: whether it is depends on the hour the test runs.
    day_before = int(new - timedelta(days=1) > h.ctx.clock.now())
    assert (await _move(h, booking, new)).status_code == 200
    await h.advance((start - h.ctx.clock.now()).total_seconds() - 59 * 60)
    # The old time's hour-before reminder is gone; only the new time's day-before one is due.
    assert (await run_once(h.ctx, "reminders"))["sent"] == day_before
    await h.advance(4 * 3600)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    bodies = [body for (body,) in await h.email_bodies("booking_reminder")]
    assert len(bodies) == day_before + 1
    for body in bodies:
        assert "19:00–19:30 (Asia/Tokyo)" not in body  # the old time, in Tokyo
        assert "23:00–23:30 (Asia/Tokyo)" in body


async def test_concurrent_moves_to_one_time_leave_exactly_one_there(h: Harness) -> None:
    _, _, kind = await _setup(h)
    bookings = [await _book(h, kind, _at(h, 2, 9 + n), n=n) for n in range(6)]
    target = _at(h, 3, 11)
    answers = await asyncio.gather(*(_move(h, b, target) for b in bookings))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 5
    rows = await h.raw(
        "SELECT COUNT(*) FROM bookings WHERE busy_start < :e AND busy_end > :s",
        s=target,
        e=target + timedelta(minutes=30),
    )
    assert rows[0][0] == 1


@pytest.mark.postgres
async def test_concurrent_moves_on_postgresql_leave_exactly_one(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as pg:
        _, _, kind = await _setup(pg)
        bookings = [await _book(pg, kind, _at(pg, 2, 9 + n), n=n) for n in range(6)]
        target = _at(pg, 3, 11)
        answers = await asyncio.gather(*(_move(pg, b, target) for b in bookings))
        assert sorted(a.status_code for a in answers) == [200] + [409] * 5
        [meeting_count] = await pg.raw(
            "SELECT COUNT(*) FROM bookings WHERE start_time = :t", t=target
        )
        assert meeting_count[0] == 1


async def test_the_link_in_each_customer_email_opens_their_booking(h: Harness) -> None:
    _, _, kind = await _setup(h)
    booking = await _book(h, kind, _at(h, 2, 10))
    assert (await _move(h, booking, _at(h, 2, 11))).status_code == 200
    for kind_of_email in ("booking_confirmation", "booking_rescheduled"):
        rows = await h.raw(
            "SELECT body FROM outbox_emails WHERE kind = :k AND to_address = 'c0@example.com'",
            k=kind_of_email,
        )
        [link] = [
            word
            for word in h.ctx.cipher.decrypt(rows[0][0]).split()
            if word.startswith(h.settings.public_base_url + "/bookings/")
        ]
        page = await h.client().get(link.removeprefix(h.settings.public_base_url))
        assert page.status_code == 200, (kind_of_email, link)
        assert "Intro" in page.text or "Customer 0" in page.text
