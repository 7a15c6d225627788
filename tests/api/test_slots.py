"""Slots over HTTP: a specialist offers and removes theirs; anyone lists the open ones."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.harness import Harness


def at(h: Harness, days: int = 10, hours: int = 0, minutes: int = 0) -> datetime:
    """A whole hour some days ahead of the sandbox clock, in UTC."""
    base = h.ctx.clock.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return base + timedelta(days=days, hours=hours, minutes=minutes)


def utc(value: str) -> datetime:
    """Parse an answer's time and insist that it is given in UTC."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), f"{value} is not in UTC"
    return parsed


async def offer(
    browser: httpx.AsyncClient, start: datetime | str, minutes: int = 30
) -> httpx.Response:
    when = start if isinstance(start, str) else start.isoformat()
    return await browser.post(
        "/api/v1/slots", json={"start_time": when, "duration_minutes": minutes}
    )


async def listed(h: Harness, specialist_id: int, query: str = "") -> list[dict[str, Any]]:
    answer = await h.client().get(f"/api/v1/specialists/{specialist_id}/slots{query}")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


# --- creating ----------------------------------------------------------------------------


async def test_creating_a_slot_needs_a_signed_in_specialist(h: Harness) -> None:
    answer = await offer(h.client(), at(h))
    assert answer.status_code == 401
    assert "detail" in answer.json()
    assert await h.raw("SELECT id FROM slots") == []


async def test_a_new_slot_is_answered_with_its_id_utc_start_duration_and_availability(
    h: Harness,
) -> None:
    browser, specialist = await h.sign_up()
    start = at(h, days=5)
    answer = await offer(browser, start.astimezone(UTC).isoformat(), minutes=30)
    assert answer.status_code == 201, answer.text
    slot = answer.json()
    assert isinstance(slot["id"], int)
    assert utc(slot["start_time"]) == start
    assert slot["duration_minutes"] == 30
    assert slot["available"] is True
    assert [s["id"] for s in await listed(h, specialist)] == [slot["id"]]


async def test_a_start_time_without_an_offset_is_refused(h: Harness) -> None:
    browser, _ = await h.sign_up()
    naive = at(h).replace(tzinfo=None).isoformat()
    answer = await offer(browser, naive)
    assert answer.status_code == 422
    assert await h.raw("SELECT id FROM slots") == []


async def test_a_start_time_in_the_past_is_refused_with_a_reason(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await offer(browser, h.ctx.clock.now() - timedelta(hours=1))
    assert answer.status_code == 422
    assert "future" in str(answer.json()["detail"])
    assert await h.raw("SELECT id FROM slots") == []


async def test_a_start_time_of_exactly_now_is_refused(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await offer(browser, h.ctx.clock.now())
    assert answer.status_code == 422


async def test_an_overlapping_slot_is_refused_naming_the_slot_it_overlaps(h: Harness) -> None:
    browser, _ = await h.sign_up()
    first = await offer(browser, at(h), minutes=60)
    assert first.status_code == 201
    first_id = first.json()["id"]
    answer = await offer(browser, at(h, minutes=30), minutes=60)
    assert answer.status_code == 422
    detail = str(answer.json()["detail"])
    assert "overlap" in detail
    assert str(first_id) in detail
    assert len(await h.raw("SELECT id FROM slots")) == 1


@pytest.mark.parametrize(
    ("offset_minutes", "minutes"),
    [(-15, 30), (15, 15), (0, 60), (-60, 180), (59, 30)],
    ids=["ends-inside", "inside", "same-time", "surrounds", "starts-in-last-minute"],
)
async def test_every_kind_of_overlap_is_refused(
    h: Harness, offset_minutes: int, minutes: int
) -> None:
    browser, _ = await h.sign_up()
    assert (await offer(browser, at(h), minutes=60)).status_code == 201
    answer = await offer(browser, at(h, minutes=offset_minutes), minutes=minutes)
    assert answer.status_code == 422, answer.text


async def test_an_overlap_with_a_long_slot_that_started_hours_earlier_is_refused(
    h: Harness,
) -> None:
    browser, _ = await h.sign_up()
    assert (await offer(browser, at(h), minutes=480)).status_code == 201
    answer = await offer(browser, at(h, hours=7, minutes=30), minutes=30)
    assert answer.status_code == 422, answer.text


async def test_slots_that_only_touch_are_both_accepted(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    assert (await offer(browser, at(h), minutes=60)).status_code == 201
    after = await offer(browser, at(h, hours=1), minutes=30)
    assert after.status_code == 201, after.text
    before = await offer(browser, at(h, minutes=-30), minutes=30)
    assert before.status_code == 201, before.text
    assert len(await listed(h, specialist)) == 3


async def test_another_specialists_slot_at_the_same_time_does_not_overlap(h: Harness) -> None:
    alice, _ = await h.sign_up()
    bob, bob_id = await h.sign_up()
    assert (await offer(alice, at(h), minutes=60)).status_code == 201
    answer = await offer(bob, at(h), minutes=60)
    assert answer.status_code == 201, answer.text
    assert len(await listed(h, bob_id)) == 1


async def test_a_deleted_slot_no_longer_blocks_its_time(h: Harness) -> None:
    browser, _ = await h.sign_up()
    first = (await offer(browser, at(h), minutes=60)).json()["id"]
    assert (await browser.delete(f"/api/v1/slots/{first}")).status_code == 204
    assert (await offer(browser, at(h), minutes=60)).status_code == 201


@pytest.mark.parametrize("minutes", [0, -30, 1000, 4, 481])
async def test_a_duration_out_of_range_is_refused(h: Harness, minutes: int) -> None:
    browser, _ = await h.sign_up()
    answer = await offer(browser, at(h), minutes=minutes)
    assert answer.status_code == 422
    assert await h.raw("SELECT id FROM slots") == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"start_time": "tomorrow at nine", "duration_minutes": 30},
        {"start_time": "2027-01-15T09:00:00-05:00", "duration_minutes": "half an hour"},
        {"start_time": "2027-01-15T09:00:00-05:00", "duration_minutes": 2**70},
        {"start_time": None, "duration_minutes": 30},
        {"start_time": "0001-01-01T00:00:00+14:00", "duration_minutes": 30},
    ],
    ids=["empty", "words", "duration-words", "huge-duration", "null", "year-1"],
)
async def test_malformed_slot_bodies_are_refused_without_a_server_error(
    h: Harness, body: dict[str, Any]
) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.post("/api/v1/slots", json=body)
    assert answer.status_code == 422, answer.text
    assert "detail" in answer.json()


async def test_a_slot_ending_past_the_end_of_the_calendar_is_refused_without_a_server_error(
    h: Harness,
) -> None:
    browser, _ = await h.sign_up()
    answer = await offer(browser, "9999-12-31T23:59:00+00:00", minutes=480)
    assert 400 <= answer.status_code < 500, answer.text
    assert await h.raw("SELECT id FROM slots") == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2027-01-15T09:00:00-05:00", datetime(2027, 1, 15, 14, 0, tzinfo=UTC)),
        ("2027-07-15T09:00:00-04:00", datetime(2027, 7, 15, 13, 0, tzinfo=UTC)),
    ],
    ids=["winter-est", "summer-edt"],
)
async def test_nine_in_the_morning_in_new_york_is_stored_and_listed_in_utc(
    h: Harness, given: str, expected: datetime
) -> None:
    browser, specialist = await h.sign_up(timezone="America/New_York")
    answer = await offer(browser, given)
    assert answer.status_code == 201, answer.text
    [(stored,)] = await h.raw("SELECT start_time FROM slots")
    assert str(stored).startswith(expected.strftime("%Y-%m-%d %H:%M:00"))
    [slot] = await listed(h, specialist)
    assert utc(slot["start_time"]) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2027-01-15T09:00:00-05:00", datetime(2027, 1, 15, 14, 0, tzinfo=UTC)),
        ("2027-07-15T09:00:00-04:00", datetime(2027, 7, 15, 13, 0, tzinfo=UTC)),
    ],
    ids=["winter-est", "summer-edt"],
)
async def test_the_answer_to_creating_a_slot_gives_its_start_in_utc(
    h: Harness, given: str, expected: datetime
) -> None:
    browser, _ = await h.sign_up(timezone="America/New_York")
    answer = await offer(browser, given)
    assert answer.status_code == 201, answer.text
    assert utc(answer.json()["start_time"]) == expected


async def test_overlap_is_judged_in_utc_across_offsets(h: Harness) -> None:
    browser, _ = await h.sign_up()
    assert (await offer(browser, "2027-01-15T09:00:00-05:00", minutes=60)).status_code == 201
    same_moment_in_berlin = await offer(browser, "2027-01-15T15:30:00+01:00")
    assert same_moment_in_berlin.status_code == 422
    right_after_in_berlin = await offer(browser, "2027-01-15T16:00:00+01:00")
    assert right_after_in_berlin.status_code == 201, right_after_in_berlin.text


# --- listing -----------------------------------------------------------------------------


async def test_the_public_list_of_specialists_shows_id_name_and_timezone_only(h: Harness) -> None:
    _, ada = await h.sign_up(email="ada@example.com", name="Ada Advisor", timezone="Asia/Tokyo")
    _, bo = await h.sign_up(email="bo@example.com", name="Bo Builder")
    answer = await h.client().get("/api/v1/specialists")
    assert answer.status_code == 200
    cards = answer.json()
    assert {c["id"]: (c["name"], c["timezone"]) for c in cards} == {
        ada: ("Ada Advisor", "Asia/Tokyo"),
        bo: ("Bo Builder", "Europe/Berlin"),
    }
    assert all(set(card) == {"id", "name", "timezone"} for card in cards)
    assert "ada@example.com" not in answer.text
    assert "password" not in answer.text
    assert "argon2" not in answer.text
    assert "$2b$" not in answer.text


async def test_a_specialists_future_slots_are_listed_in_time_order(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    later = (await offer(browser, at(h, days=3))).json()["id"]
    sooner = (await offer(browser, at(h, days=1))).json()["id"]
    middle = (await offer(browser, at(h, days=2))).json()["id"]
    slots = await listed(h, specialist)
    assert [s["id"] for s in slots] == [sooner, middle, later]
    assert all(set(s) == {"id", "start_time", "duration_minutes", "available"} for s in slots)
    times = [utc(s["start_time"]) for s in slots]
    assert times == sorted(times)


async def test_slots_that_have_started_are_no_longer_listed(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    soon = (await offer(browser, h.ctx.clock.now() + timedelta(hours=1))).json()["id"]
    later = (await offer(browser, at(h, days=2))).json()["id"]
    assert [s["id"] for s in await listed(h, specialist)] == [soon, later]
    await h.advance(2 * 3600)
    assert [s["id"] for s in await listed(h, specialist)] == [later]


async def test_a_booked_slot_is_listed_as_unavailable_and_hidden_when_asking_for_open_ones(
    h: Harness,
) -> None:
    browser, specialist = await h.sign_up()
    booked = (await offer(browser, at(h, days=1))).json()["id"]
    open_ = (await offer(browser, at(h, days=2))).json()["id"]
    assert (await h.book(booked)).status_code == 201
    everything = await listed(h, specialist)
    assert [(s["id"], s["available"]) for s in everything] == [(booked, False), (open_, True)]
    only_open = await listed(h, specialist, "?available=true")
    assert [(s["id"], s["available"]) for s in only_open] == [(open_, True)]


async def test_a_specialist_without_slots_has_an_empty_list(h: Harness) -> None:
    _, specialist = await h.sign_up()
    assert await listed(h, specialist) == []


async def test_slots_of_an_unknown_specialist_are_not_found(h: Harness) -> None:
    _, specialist = await h.sign_up()
    answer = await h.client().get(f"/api/v1/specialists/{specialist + 1000}/slots")
    assert answer.status_code == 404
    assert "detail" in answer.json()


@pytest.mark.parametrize("bad", [str(2**40), "0", "-1", "abc", str(2**63)])
async def test_a_specialist_id_out_of_range_is_refused_without_a_server_error(
    h: Harness, bad: str
) -> None:
    answer = await h.client().get(f"/api/v1/specialists/{bad}/slots")
    assert answer.status_code == 422, answer.text


# --- deleting ----------------------------------------------------------------------------


async def test_deleting_a_slot_removes_it_from_the_list(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    gone = (await offer(browser, at(h, days=1))).json()["id"]
    kept = (await offer(browser, at(h, days=2))).json()["id"]
    answer = await browser.delete(f"/api/v1/slots/{gone}")
    assert answer.status_code == 204
    assert answer.content == b""
    assert [s["id"] for s in await listed(h, specialist)] == [kept]


async def test_deleting_needs_a_signed_in_specialist(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    slot = (await offer(browser, at(h))).json()["id"]
    assert (await h.client().delete(f"/api/v1/slots/{slot}")).status_code == 401
    assert [s["id"] for s in await listed(h, specialist)] == [slot]


async def test_deleting_another_specialists_slot_is_not_found_and_keeps_it(h: Harness) -> None:
    owner, owner_id = await h.sign_up()
    intruder, _ = await h.sign_up()
    slot = (await offer(owner, at(h))).json()["id"]
    answer = await intruder.delete(f"/api/v1/slots/{slot}")
    assert answer.status_code == 404
    assert [s["id"] for s in await listed(h, owner_id)] == [slot]


async def test_deleting_a_booked_slot_is_a_conflict_and_keeps_it(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    slot = (await offer(browser, at(h))).json()["id"]
    assert (await h.book(slot)).status_code == 201
    answer = await browser.delete(f"/api/v1/slots/{slot}")
    assert answer.status_code == 409
    assert "detail" in answer.json()
    assert [(s["id"], s["available"]) for s in await listed(h, specialist)] == [(slot, False)]


async def test_a_slot_whose_booking_was_cancelled_can_be_deleted(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    slot = (await offer(browser, at(h))).json()["id"]
    booking = (await h.book(slot)).json()
    cancelled = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": booking["manage_token"]}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await browser.delete(f"/api/v1/slots/{slot}")).status_code == 204
    assert await listed(h, specialist) == []


async def test_deleting_an_unknown_slot_is_not_found(h: Harness) -> None:
    browser, _ = await h.sign_up()
    assert (await browser.delete("/api/v1/slots/424242")).status_code == 404


async def test_deleting_a_slot_twice_is_not_found_the_second_time(h: Harness) -> None:
    browser, _ = await h.sign_up()
    slot = (await offer(browser, at(h))).json()["id"]
    assert (await browser.delete(f"/api/v1/slots/{slot}")).status_code == 204
    assert (await browser.delete(f"/api/v1/slots/{slot}")).status_code == 404


@pytest.mark.parametrize("bad", [str(2**40), "0", "-7", "slot", str(2**63), "1.5"])
async def test_a_slot_id_out_of_range_is_refused_without_a_server_error(
    h: Harness, bad: str
) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.delete(f"/api/v1/slots/{bad}")
    assert answer.status_code == 422, answer.text
