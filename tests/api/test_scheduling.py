"""Event types, working hours, bookable times and the profile over HTTP."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Harness, harness

NINE_TO_NOON_MONDAYS = {"weekly": [{"weekday": 0, "start": "09:00", "end": "12:00"}]}


async def event_type(browser: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    answer = await browser.post(
        "/api/v1/event-types", json={"name": "Consultation", "duration_minutes": 30, **fields}
    )
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def put_hours(browser: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await browser.put("/api/v1/availability", json=body)


async def times(
    h: Harness, specialist: int, kind: int, start: str, end: str, **query: str
) -> httpx.Response:
    return await h.client().get(
        f"/api/v1/specialists/{specialist}/times",
        params={"event_type_id": kind, "from": start, "to": end, **query},
    )


def details(answer: httpx.Response) -> str:
    return str(answer.json()["detail"])


def next_monday(h: Harness, month: int) -> date:
    """A Monday in the given month of the year after the sandbox clock's."""
    day = date(h.ctx.clock.now().year + 1, month, 1)
    return day + timedelta(days=(7 - day.weekday()) % 7)


async def new_yorker(h: Harness) -> tuple[httpx.AsyncClient, int, int]:
    """A New York specialist working 09:00–12:00 on Mondays, with a 30-minute event type."""
    browser, specialist = await h.sign_up(timezone="America/New_York")
    assert (await put_hours(browser, NINE_TO_NOON_MONDAYS)).status_code == 200
    kind = await event_type(browser, horizon_days=365)
    return browser, specialist, kind["id"]


# --- event types -------------------------------------------------------------------------


async def test_a_new_event_type_is_answered_with_every_field_and_its_defaults(h: Harness) -> None:
    browser, _ = await h.sign_up()
    created = await event_type(browser, description="An hour to talk it over")
    assert set(created) == {
        "id",
        "name",
        "duration_minutes",
        "description",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "min_notice_minutes",
        "horizon_days",
        "max_per_day",
        "active",
    }
    assert created["description"] == "An hour to talk it over"
    assert created["buffer_before_minutes"] == created["buffer_after_minutes"] == 0
    assert created["max_per_day"] is None
    assert created["active"] is True
    listed = (await browser.get("/api/v1/event-types")).json()
    assert listed == [created]


async def test_a_specialist_has_any_number_of_event_types(h: Harness) -> None:
    browser, _ = await h.sign_up()
    made = [await event_type(browser, name=f"Kind {i}", duration_minutes=15 + i) for i in range(5)]
    listed = (await browser.get("/api/v1/event-types")).json()
    assert [k["id"] for k in listed] == [k["id"] for k in made]


async def test_patching_changes_only_the_fields_given(h: Harness) -> None:
    browser, _ = await h.sign_up()
    kind = await event_type(browser, max_per_day=3)
    answer = await browser.patch(
        f"/api/v1/event-types/{kind['id']}", json={"name": "Deep dive", "max_per_day": None}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {**kind, "name": "Deep dive", "max_per_day": None}


async def test_deleting_an_event_type_removes_it(h: Harness) -> None:
    browser, _ = await h.sign_up()
    kind = await event_type(browser)
    assert (await browser.delete(f"/api/v1/event-types/{kind['id']}")).status_code == 204
    assert (await browser.get("/api/v1/event-types")).json() == []
    assert (await browser.delete(f"/api/v1/event-types/{kind['id']}")).status_code == 404


async def test_deleting_an_event_type_that_a_booking_uses_hides_and_deactivates_it(
    h: Harness,
) -> None:
    browser, specialist = await h.sign_up()
    kind = await event_type(browser)
    booking = (await h.book(await h.add_slot(browser))).json()
    await h.raw_write(
        "UPDATE bookings SET event_type_id = :k WHERE id = :b", k=kind["id"], b=booking["id"]
    )
    assert (await browser.delete(f"/api/v1/event-types/{kind['id']}")).status_code == 204
    assert (await browser.get("/api/v1/event-types")).json() == []
    [(active, deleted_at)] = await h.raw(
        "SELECT active, deleted_at FROM event_types WHERE id = :k", k=kind["id"]
    )
    assert not active
    assert deleted_at is not None
    public = await h.client().get(f"/api/v1/specialists/{specialist}/event-types")
    assert public.json() == []


async def test_another_specialists_event_type_is_not_found_and_left_alone(h: Harness) -> None:
    owner, _ = await h.sign_up()
    intruder, _ = await h.sign_up()
    kind = await event_type(owner)
    path = f"/api/v1/event-types/{kind['id']}"
    assert (await intruder.patch(path, json={"name": "Mine now"})).status_code == 404
    assert (await intruder.delete(path)).status_code == 404
    assert (await intruder.get("/api/v1/event-types")).json() == []
    assert (await owner.get("/api/v1/event-types")).json() == [kind]


async def test_event_types_need_a_signed_in_specialist(h: Harness) -> None:
    anyone = h.client()
    assert (await anyone.get("/api/v1/event-types")).status_code == 401
    post = await anyone.post("/api/v1/event-types", json={"name": "x", "duration_minutes": 30})
    assert post.status_code == 401
    assert (await anyone.patch("/api/v1/event-types/1", json={})).status_code == 401
    assert (await anyone.delete("/api/v1/event-types/1")).status_code == 401
    assert (await anyone.get("/api/v1/availability")).status_code == 401
    assert (await anyone.put("/api/v1/availability", json={})).status_code == 401


async def test_the_public_list_shows_only_active_event_types(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    shown = await event_type(browser, name="Shown")
    await event_type(browser, name="Hidden", active=False)
    answer = await h.client().get(f"/api/v1/specialists/{specialist}/event-types")
    assert answer.status_code == 200
    assert answer.json() == [shown]
    unknown = await h.client().get(f"/api/v1/specialists/{specialist + 999}/event-types")
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 481}, "duration_minutes"),
        ({"description": "x" * 2001}, "description"),
        ({"buffer_before_minutes": -1}, "buffer_before_minutes"),
        ({"buffer_after_minutes": 241}, "buffer_after_minutes"),
        ({"min_notice_minutes": 43201}, "min_notice_minutes"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 366}, "horizon_days"),
        ({"max_per_day": 0}, "max_per_day"),
        ({"max_per_day": 101}, "max_per_day"),
        ({"active": "perhaps"}, "active"),
        ({"active": 0}, "active"),
        ({"duration_minutes": 2**70}, "duration_minutes"),
        ({"name": "a\x00b"}, "name"),
    ],
)
async def test_event_type_fields_out_of_range_are_refused_naming_the_field(
    h: Harness, fields: dict[str, Any], where: str
) -> None:
    browser, _ = await h.sign_up()
    body = {"name": "Consultation", "duration_minutes": 30, **fields}
    answer = await browser.post("/api/v1/event-types", json=body)
    assert answer.status_code == 422, answer.text
    assert where in details(answer)
    kind = await event_type(browser)
    patched = await browser.patch(f"/api/v1/event-types/{kind['id']}", json=fields)
    assert patched.status_code == 422, patched.text
    assert where in details(patched)


async def test_patching_a_required_field_to_null_is_refused(h: Harness) -> None:
    browser, _ = await h.sign_up()
    kind = await event_type(browser)
    answer = await browser.patch(f"/api/v1/event-types/{kind['id']}", json={"name": None})
    assert answer.status_code == 422
    assert "name cannot be null" in details(answer)


@pytest.mark.parametrize("body", ["", "[]", "null", '{"name": 5}', "not json", "{"])
async def test_junk_event_type_bodies_are_refused_without_a_server_error(
    h: Harness, body: str
) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.post(
        "/api/v1/event-types", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize("bad", ["0", "-1", str(2**40), "abc", "1.5"])
async def test_an_event_type_id_out_of_range_is_refused_without_a_server_error(
    h: Harness, bad: str
) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.patch(f"/api/v1/event-types/{bad}", json={"name": "x"})
    assert answer.status_code == 422, answer.text


# --- working hours -----------------------------------------------------------------------


async def test_working_hours_start_empty_and_are_given_in_the_specialists_zone(h: Harness) -> None:
    browser, _ = await h.sign_up(timezone="Asia/Tokyo")
    answer = await browser.get("/api/v1/availability")
    assert answer.status_code == 200
    assert answer.json() == {"timezone": "Asia/Tokyo", "weekly": [], "overrides": []}


async def test_putting_working_hours_replaces_the_whole_set(h: Harness) -> None:
    browser, _ = await h.sign_up()
    first = {
        "weekly": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "13:00", "end": "17:00"},
            {"weekday": 4, "start": "20:00", "end": "24:00"},
        ],
        "overrides": [
            {"date": "2030-01-07", "windows": []},
            {"date": "2030-01-05", "windows": [{"start": "10:00", "end": "11:30"}]},
        ],
    }
    answer = await put_hours(browser, first)
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    assert saved["weekly"] == first["weekly"]
    assert saved["overrides"] == [first["overrides"][1], first["overrides"][0]]  # by date
    assert (await browser.get("/api/v1/availability")).json() == saved
    second = {"weekly": [{"weekday": 2, "start": "08:00", "end": "09:00"}]}
    assert (await put_hours(browser, second)).status_code == 200
    after = (await browser.get("/api/v1/availability")).json()
    assert after["weekly"] == second["weekly"]
    assert after["overrides"] == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            {
                "weekly": [
                    {"weekday": 0, "start": "09:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "13:00"},
                ]
            },
            "overlap on Monday: 09:00–12:00 and 11:00–13:00",
        ),
        ({"weekly": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, "must be after start"),
        ({"weekly": [{"weekday": 1, "start": "09:00", "end": "09:00"}]}, "must be after start"),
        ({"weekly": [{"weekday": 1, "start": "9:00", "end": "10:00"}]}, "HH:MM"),
        ({"weekly": [{"weekday": 1, "start": "24:00", "end": "24:00"}]}, "HH:MM"),
        ({"weekly": [{"weekday": 1, "start": "09:00", "end": "24:30"}]}, "HH:MM"),
        ({"weekly": [{"weekday": 1, "start": "09:60", "end": "10:00"}]}, "HH:MM"),
        ({"weekly": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "weekday"),
        ({"weekly": [{"weekday": 1, "start": 900, "end": "10:00"}]}, "start"),
        (
            {
                "overrides": [
                    {"date": "2030-01-07", "windows": []},
                    {"date": "2030-01-07", "windows": []},
                ]
            },
            "overridden twice",
        ),
        (
            {
                "overrides": [
                    {
                        "date": "2030-01-07",
                        "windows": [
                            {"start": "10:00", "end": "12:00"},
                            {"start": "09:00", "end": "10:30"},
                        ],
                    }
                ]
            },
            "overlap on 2030-01-07",
        ),
        ({"overrides": [{"date": "2030-02-30", "windows": []}]}, "date"),
        ({"overrides": [{"date": "2030-01-07"}]}, "windows"),
        ({"overrides": [{"date": 0, "windows": []}]}, "date"),
        ({"weekly": [], "overides": []}, "overides"),
    ],
    ids=[
        "overlap",
        "inverted",
        "empty",
        "one-digit-hour",
        "start-24",
        "past-24",
        "minute-60",
        "weekday-7",
        "number",
        "duplicate-date",
        "override-overlap",
        "no-such-date",
        "no-windows",
        "date-as-number",
        "misspelt-field",
    ],
)
async def test_bad_working_hours_are_refused_with_a_clear_message_and_change_nothing(
    h: Harness, body: dict[str, Any], said: str
) -> None:
    browser, _ = await h.sign_up()
    assert (await put_hours(browser, NINE_TO_NOON_MONDAYS)).status_code == 200
    answer = await put_hours(browser, body)
    assert answer.status_code == 422, answer.text
    assert said in details(answer)
    assert (await browser.get("/api/v1/availability")).json()["weekly"] == (
        NINE_TO_NOON_MONDAYS["weekly"]
    )


async def test_windows_that_only_touch_are_accepted(h: Harness) -> None:
    browser, _ = await h.sign_up()
    body = {
        "weekly": [
            {"weekday": 3, "start": "09:00", "end": "12:00"},
            {"weekday": 3, "start": "12:00", "end": "24:00"},
        ]
    }
    answer = await put_hours(browser, body)
    assert answer.status_code == 200, answer.text


async def replace_at_once(h: Harness) -> None:
    browser, _ = await h.sign_up()
    bodies = [
        {
            "weekly": [
                {"weekday": day, "start": "09:00", "end": "10:00"},
                {"weekday": day, "start": "11:00", "end": "12:00"},
            ],
            "overrides": [{"date": f"2030-01-0{day + 1}", "windows": []}],
        }
        for day in range(7)
    ]
    answers = await asyncio.gather(*(put_hours(browser, body) for body in bodies))
    assert [a.status_code for a in answers] == [200] * 7
    final = (await browser.get("/api/v1/availability")).json()
    assert {"weekly": final["weekly"], "overrides": final["overrides"]} in bodies


async def test_concurrent_replacements_of_working_hours_leave_exactly_one_set(
    h: Harness,
) -> None:
    await replace_at_once(h)


@pytest.mark.postgres
async def test_concurrent_replacements_leave_exactly_one_set_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        await replace_at_once(h)


async def test_one_specialists_hours_are_not_anothers(h: Harness) -> None:
    alice, _ = await h.sign_up()
    bob, _ = await h.sign_up()
    assert (await put_hours(alice, NINE_TO_NOON_MONDAYS)).status_code == 200
    assert (await bob.get("/api/v1/availability")).json()["weekly"] == []
    assert (await put_hours(bob, {"weekly": []})).status_code == 200
    assert (await alice.get("/api/v1/availability")).json()["weekly"] != []


# --- bookable times ----------------------------------------------------------------------


async def test_nine_in_new_york_is_14z_on_a_january_monday_and_13z_on_a_july_monday(
    h: Harness,
) -> None:
    _, specialist, kind = await new_yorker(h)
    for month, first_hour in ((1, 14), (7, 13)):
        monday = next_monday(h, month)
        answer = await times(h, specialist, kind, str(monday), str(monday))
        assert answer.status_code == 200, answer.text
        found = answer.json()["times"]
        assert found[0]["start_time"] == f"{monday}T{first_hour:02d}:00:00Z"
        assert found[0]["end_time"] == f"{monday}T{first_hour:02d}:30:00Z"
        assert found[-1]["start_time"] == f"{monday}T{first_hour + 2:02d}:30:00Z"
        assert len(found) == 11


async def test_a_day_off_has_no_bookable_times(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    monday = next_monday(h, 1)
    body = {**NINE_TO_NOON_MONDAYS, "overrides": [{"date": str(monday), "windows": []}]}
    assert (await put_hours(browser, body)).status_code == 200
    answer = await times(h, specialist, kind, str(monday), str(monday + timedelta(days=7)))
    starts = [t["start_time"] for t in answer.json()["times"]]
    assert starts
    assert not any(s.startswith(str(monday)) for s in starts)


async def test_a_confirmed_booking_and_the_buffers_are_kept_clear(h: Harness) -> None:
    browser, specialist = await h.sign_up(timezone="America/New_York")
    monday = next_monday(h, 1)
    kind = await event_type(browser, buffer_before_minutes=15, buffer_after_minutes=15)
    kind_id = kind["id"]
    await browser.patch(f"/api/v1/event-types/{kind_id}", json={"horizon_days": 365})
    assert (await put_hours(browser, NINE_TO_NOON_MONDAYS)).status_code == 200
    slot = await h.add_slot(browser, f"{monday}T10:00:00-05:00", minutes=30)
    assert (await h.book(slot)).status_code == 201
    answer = await times(h, specialist, kind_id, str(monday), str(monday))
    starts = [t["start_time"][11:16] for t in answer.json()["times"]]
    # 09:15 local (14:15Z), then 10:45 to 11:15 local: the booking 10:00–10:30 and 15 minutes.
    assert starts == ["14:15", "15:45", "16:00", "16:15"]


async def booked_as(h: Harness, browser: httpx.AsyncClient, start: str, kind: int) -> None:
    """A confirmed booking of a slot at `start`, recorded as of event type `kind`."""
    booking = (await h.book(await h.add_slot(browser, start, minutes=30))).json()
    await h.raw_write(
        "UPDATE bookings SET event_type_id = :k WHERE id = :b", k=kind, b=booking["id"]
    )


async def test_a_booking_of_an_event_type_is_busy_with_that_types_buffers(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    padded = (await event_type(browser, buffer_before_minutes=30, buffer_after_minutes=30))["id"]
    monday = next_monday(h, 1)
    await booked_as(h, browser, f"{monday}T10:00:00-05:00", padded)
    answer = await times(h, specialist, kind, str(monday), str(monday))
    # Busy 09:30–11:00 in New York: 09:00, then 11:00 onwards.
    assert [t["start_time"][11:16] for t in answer.json()["times"]] == [
        "14:00",
        "16:00",
        "16:15",
        "16:30",
    ]


async def test_a_day_with_max_per_day_bookings_of_a_type_offers_no_more_of_it(
    h: Harness,
) -> None:
    browser, specialist, kind = await new_yorker(h)
    await browser.patch(f"/api/v1/event-types/{kind}", json={"max_per_day": 1})
    other = (await event_type(browser, horizon_days=365))["id"]
    monday = next_monday(h, 1)
    await booked_as(h, browser, f"{monday}T09:00:00-05:00", kind)
    capped = await times(h, specialist, kind, str(monday), str(monday))
    assert capped.json() == {"times": []}
    uncapped = await times(h, specialist, other, str(monday), str(monday))
    assert uncapped.json()["times"][0]["start_time"] == f"{monday}T14:30:00Z"


async def test_a_one_off_slot_adds_bookable_times_and_stops_once_booked(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    wednesday = next_monday(h, 1) + timedelta(days=2)
    slot = await h.add_slot(browser, f"{wednesday}T15:00:00Z", minutes=60)
    answer = await times(h, specialist, kind, str(wednesday), str(wednesday))
    assert [t["start_time"][11:16] for t in answer.json()["times"]] == ["15:00", "15:15", "15:30"]
    assert (await h.book(slot)).status_code == 201
    answer = await times(h, specialist, kind, str(wednesday), str(wednesday))
    assert answer.json()["times"] == []


async def test_the_minimum_notice_is_respected(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    await browser.patch(f"/api/v1/event-types/{kind}", json={"min_notice_minutes": 120})
    now = h.ctx.clock.now()
    start = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = (await times(h, specialist, kind, start, end)).json()["times"]
    assert found
    assert all(datetime.fromisoformat(t["start_time"]) >= now + timedelta(hours=2) for t in found)


async def test_an_inactive_or_anothers_event_type_has_no_times(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    other, _ = await h.sign_up()
    others = (await event_type(other))["id"]
    monday = str(next_monday(h, 1))
    assert (await times(h, specialist, others, monday, monday)).status_code == 404
    await browser.patch(f"/api/v1/event-types/{kind}", json={"active": False})
    assert (await times(h, specialist, kind, monday, monday)).status_code == 404
    assert (await times(h, specialist + 999, kind, monday, monday)).status_code == 404


async def test_a_range_of_62_days_is_answered_and_63_days_is_refused(h: Harness) -> None:
    _, specialist, kind = await new_yorker(h)
    first = next_monday(h, 1)
    ok = await times(h, specialist, kind, str(first), str(first + timedelta(days=61)))
    assert ok.status_code == 200, ok.text
    assert len({t["start_time"][:10] for t in ok.json()["times"]}) == 9  # Mondays in 62 days
    too_long = await times(h, specialist, kind, str(first), str(first + timedelta(days=62)))
    assert too_long.status_code == 422
    assert "62 days" in details(too_long)


async def test_instants_with_offsets_are_accepted_as_the_range(h: Harness) -> None:
    _, specialist, kind = await new_yorker(h)
    monday = next_monday(h, 1)
    answer = await times(
        h, specialist, kind, f"{monday}T09:30:00-05:00", f"{monday}T15:00:00+00:00"
    )
    assert answer.status_code == 200, answer.text
    starts = [t["start_time"][11:16] for t in answer.json()["times"]]
    assert starts == ["14:30", "14:45"]


async def test_dates_can_be_read_in_the_visitors_zone(h: Harness) -> None:
    _, specialist, kind = await new_yorker(h)
    monday = next_monday(h, 1)
    tuesday = str(monday + timedelta(days=1))
    # Monday 09:00–12:00 in New York is Tuesday 04:00–07:00 in Sydney (summer there).
    answer = await times(h, specialist, kind, tuesday, tuesday, timezone="Australia/Sydney")
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["times"]) == 11


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"from": "2030-01-10", "to": "2030-01-01"}, "after from"),
        ({"from": "tomorrow"}, "neither a date"),
        ({"from": "2030-01-10T09:00:00"}, "no offset"),
        ({"from": "2030-13-01"}, "neither a date"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "outside the calendar"),
        ({"from": "9999-12-30"}, "outside the calendar"),
        ({"from": "0001-01-01T00:00:00+14:00"}, "outside the calendar"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"from": "x" * 41}, "from"),
    ],
)
async def test_a_bad_range_is_refused_with_a_clear_message(
    h: Harness, query: dict[str, str], said: str
) -> None:
    _, specialist, kind = await new_yorker(h)
    answer = await h.client().get(
        f"/api/v1/specialists/{specialist}/times", params={"event_type_id": kind, **query}
    )
    assert answer.status_code == 422, answer.text
    assert said in details(answer)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?event_type_id=abc",
        "?event_type_id=0",
        f"?event_type_id={2**63}",
        "?event_type_id=1&from=&to=",
        "?event_type_id=1&from=%00",
        "?event_type_id=1&to=2030-01-01T25:00:00Z",
        "?event_type_id=1&from=-infinity",
    ],
)
async def test_junk_times_queries_are_refused_without_a_server_error(
    h: Harness, query: str
) -> None:
    _, specialist, _ = await new_yorker(h)
    answer = await h.client().get(f"/api/v1/specialists/{specialist}/times{query}")
    # Empty `from`/`to` mean "not given"; everything else here is a 4xx with a detail.
    assert answer.status_code < 500, answer.text
    assert answer.status_code == 200 or "detail" in answer.json()


async def test_without_a_range_the_next_two_weeks_are_answered(h: Harness) -> None:
    _, specialist, kind = await new_yorker(h)
    answer = await h.client().get(
        f"/api/v1/specialists/{specialist}/times", params={"event_type_id": kind}
    )
    assert answer.status_code == 200, answer.text
    found = [datetime.fromisoformat(t["start_time"]) for t in answer.json()["times"]]
    now = h.ctx.clock.now()
    assert 2 * 11 <= len(found) <= 3 * 11
    assert all(now <= t < now + timedelta(days=14) for t in found)


async def test_a_far_range_beyond_the_horizon_is_empty(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    await browser.patch(f"/api/v1/event-types/{kind}", json={"horizon_days": 7})
    monday = next_monday(h, 7)
    answer = await times(h, specialist, kind, str(monday), str(monday))
    assert answer.status_code == 200
    assert answer.json() == {"times": []}


# --- profile -----------------------------------------------------------------------------


async def test_me_has_a_public_url_and_a_bio(h: Harness) -> None:
    browser, specialist = await h.sign_up()
    me = (await browser.get("/api/v1/me")).json()
    assert me["public_url"] == f"http://testserver/specialists/{specialist}"
    assert me["bio"] == ""


async def test_patching_me_changes_name_timezone_and_bio(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.patch(
        "/api/v1/me", json={"name": "Dana D.", "timezone": "Asia/Tokyo", "bio": "Tax advice."}
    )
    assert answer.status_code == 200, answer.text
    me = (await browser.get("/api/v1/me")).json()
    assert (me["name"], me["timezone"], me["bio"]) == ("Dana D.", "Asia/Tokyo", "Tax advice.")
    answer = await browser.patch("/api/v1/me", json={"bio": None})
    assert answer.json()["bio"] == ""
    assert answer.json()["name"] == "Dana D."


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"timezone": None}, "timezone cannot be null"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"bio": "x" * 2001}, "bio"),
        ({"name": None}, "name cannot be null"),
    ],
)
async def test_bad_profile_changes_are_refused(
    h: Harness, body: dict[str, Any], where: str
) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.patch("/api/v1/me", json=body)
    assert answer.status_code == 422, answer.text
    assert where in details(answer)
    assert (await browser.get("/api/v1/me")).json()["timezone"] == "Europe/Berlin"


async def test_patching_me_needs_a_signed_in_specialist(h: Harness) -> None:
    answer = await h.client().patch("/api/v1/me", json={"name": "Nobody"})
    assert answer.status_code == 401


async def test_changing_the_time_zone_moves_the_working_hours_with_it(h: Harness) -> None:
    browser, specialist, kind = await new_yorker(h)
    monday = next_monday(h, 1)
    assert (await browser.patch("/api/v1/me", json={"timezone": "UTC"})).status_code == 200
    found = (await times(h, specialist, kind, str(monday), str(monday))).json()["times"]
    assert found[0]["start_time"] == f"{monday}T09:00:00Z"
    assert datetime.fromisoformat(found[0]["start_time"]).tzinfo == UTC
