"""Booking an event type at one of its bookable times; never two bookings at once."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from specialistly.bookings.busy import BOOKING_LOCKS
from tests.harness import Harness, harness


async def _setup(h: Harness, zoom_email: str) -> tuple[httpx.AsyncClient, int, list[int]]:
    """A specialist in UTC, working every day 09:00–17:00, with two event types."""
    browser, specialist = await h.connected(zoom_email)
    assert (await browser.patch("/api/v1/me", json={"timezone": "UTC"})).status_code == 200
    weekly = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)]
    answer = await browser.put("/api/v1/availability", json={"weekly": weekly, "overrides": []})
    assert answer.status_code == 200, answer.text
    kinds = []
    for name, minutes, after in (("Intro", 30, 15), ("Deep dive", 60, 0)):
        made = await browser.post(
            "/api/v1/event-types",
            json={"name": name, "duration_minutes": minutes, "buffer_after_minutes": after},
        )
        assert made.status_code == 201, made.text
        kinds.append(int(made.json()["id"]))
    return browser, specialist, kinds


def _day_after_tomorrow_at(h: Harness, hour: int, minute: int = 0) -> datetime:
    day = (h.ctx.clock.now() + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def _book(h: Harness, kind: int, start: datetime, n: int = 0) -> httpx.Response:
    return await h.client().post(
        "/api/v1/bookings",
        json={
            "event_type_id": kind,
            "start_time": start.isoformat(),
            "customer_name": f"Customer {n}",
            "customer_email": f"c{n}@example.com",
        },
    )


async def _times(h: Harness, specialist: int, kind: int, day: datetime) -> list[str]:
    answer = await h.client().get(
        f"/api/v1/specialists/{specialist}/times",
        params={
            "event_type_id": kind,
            "from": day.date().isoformat(),
            "to": day.date().isoformat(),
        },
    )
    assert answer.status_code == 200, answer.text
    return [t["start_time"] for t in answer.json()["times"]]


async def test_a_bookable_time_books_with_its_meeting_and_leaves_the_offer(h: Harness) -> None:
    _, specialist, (intro, _) = await _setup(h, "et@zoom.example.com")
    start = _day_after_tomorrow_at(h, 10)
    offered = await _times(h, specialist, intro, start)
    assert "10:00:00Z" in " ".join(offered)
    answer = await _book(h, intro, start)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["event_type_id"] == intro
    assert body["event_type"] == {"id": intro, "name": "Intro"}
    assert body["slot_id"] is None
    assert body["meeting"]["status"] == "created"
    after = " ".join(await _times(h, specialist, intro, start))
    assert "T10:00:00Z" not in after
    assert "T10:30:00Z" not in after  # the 15-minute buffer after keeps 10:30 clear too
    assert "T11:00:00Z" in after


async def test_a_time_outside_the_working_hours_is_refused(h: Harness) -> None:
    _, _, (intro, _) = await _setup(h, "outside@zoom.example.com")
    for start in (_day_after_tomorrow_at(h, 7), _day_after_tomorrow_at(h, 10, 7)):
        answer = await _book(h, intro, start)
        assert answer.status_code == 409, answer.text
        assert "not bookable" in answer.json()["detail"].lower()
    unknown = await _book(h, 999_999, _day_after_tomorrow_at(h, 10))
    assert unknown.status_code == 404
    both = await h.client().post(
        "/api/v1/bookings",
        json={
            "slot_id": 1,
            "event_type_id": intro,
            "start_time": "2030-01-01T10:00:00Z",
            "customer_name": "X",
            "customer_email": "x@example.com",
        },
    )
    assert both.status_code == 422


async def _thirty_overlapping(h: Harness, zoom_email: str) -> None:
    _, _, (intro, deep) = await _setup(h, zoom_email)
    # 10:00 for 30 minutes (+15 after) and 10:15 or 10:30 for 60: every pair overlaps.
    starts = [
        (intro, _day_after_tomorrow_at(h, 10)),
        (deep, _day_after_tomorrow_at(h, 10, 15)),
        (deep, _day_after_tomorrow_at(h, 10, 30)),
    ]
    answers = await asyncio.gather(*(_book(h, *starts[n % 3], n) for n in range(30)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, [a.text for a in answers if a.status_code not in (201, 409)]
    assert codes.count(409) == 29
    rows = await h.raw("SELECT COUNT(*) FROM bookings WHERE status = 'confirmed'")
    assert rows[0][0] == 1


async def test_thirty_concurrent_overlapping_bookings_confirm_one_on_sqlite(h: Harness) -> None:
    await _thirty_overlapping(h, "race@zoom.example.com")


@pytest.mark.postgres
async def test_thirty_concurrent_overlapping_bookings_confirm_one_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        await _thirty_overlapping(h, "pgrace@zoom.example.com")


async def _waiting_for_the_lock(h: Harness, specialist: int) -> bool:
    rows = await h.raw(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = :space AND objid = :specialist AND objsubid = 2",
        space=BOOKING_LOCKS,
        specialist=specialist,
    )
    return bool(rows[0][0])


@pytest.mark.postgres
async def test_both_kinds_of_booking_wait_for_the_specialists_lock_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """The read of the slot or event type takes the specialist's booking lock: while another
    transaction holds it, a booking waits (seen in pg_locks) and goes on once it is let go."""
    async with harness(postgres_url, tmp_path) as h:
        browser, specialist, (intro, _) = await _setup(h, "pglock@zoom.example.com")
        slot = await h.add_slot(browser, _day_after_tomorrow_at(h, 18).isoformat())
        bookings = {
            "slot": lambda: h.book(slot),
            "event type": lambda: _book(h, intro, _day_after_tomorrow_at(h, 10)),
        }
        lock = {"space": BOOKING_LOCKS, "specialist": specialist}
        for kind, book in bookings.items():
            async with h.ctx.db.engine.connect() as holder:
                await holder.execute(text("SELECT pg_advisory_lock(:space, :specialist)"), lock)
                booking = asyncio.create_task(book())
                for _ in range(500):
                    if await _waiting_for_the_lock(h, specialist) or booking.done():
                        break
                    await asyncio.sleep(0.01)
                assert not booking.done(), f"a {kind} booking did not wait for the lock"
                assert await _waiting_for_the_lock(h, specialist), kind
                await holder.execute(text("SELECT pg_advisory_unlock(:space, :specialist)"), lock)
            answer = await booking
            assert answer.status_code == 201, (kind, answer.text)


async def test_a_slot_booking_may_not_overlap_an_event_type_booking(h: Harness) -> None:
    browser, _, (intro, _) = await _setup(h, "mixed@zoom.example.com")
    start = _day_after_tomorrow_at(h, 18)  # outside the hours: only a one-off slot opens it
    slot = await h.add_slot(browser, start.isoformat(), minutes=60)
    assert (await _book(h, intro, start)).status_code == 201
    taken = await h.book(slot)
    assert taken.status_code == 409, taken.text
