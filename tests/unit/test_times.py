"""Bookable times as a pure function: no database, no clock, no HTTP."""

from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from specialistly.scheduling.times import (
    Availability,
    Busy,
    EventRules,
    Interval,
    WeeklyWindow,
    Window,
    bookable_times,
    local_instant,
)

NEW_YORK = ZoneInfo("America/New_York")
JANUARY_MONDAY = date(2027, 1, 4)
JULY_MONDAY = date(2027, 7, 5)
SPRING_FORWARD_SUNDAY = date(2027, 3, 14)  # 02:00 EST becomes 03:00 EDT
FALL_BACK_SUNDAY = date(2027, 11, 7)  # 02:00 EDT becomes 01:00 EST
HALF_HOUR = EventRules(duration=timedelta(minutes=30), horizon=timedelta(days=365))


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


def mondays(start: int, end: int) -> Availability:
    return Availability(zone=NEW_YORK, weekly=[WeeklyWindow(0, Window(start, end))])


def times_on(
    day: date,
    availability: Availability,
    rules: EventRules = HALF_HOUR,
    busy: list[Busy] | None = None,
    now: datetime | None = None,
) -> list[datetime]:
    """Every bookable start on one local day in New York."""
    start = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    return bookable_times(
        availability,
        rules,
        busy or [],
        now=now or utc(2026, 12, 1, 0),
        range_start=start,
        range_end=start + timedelta(days=1),
    )


def clock(values: list[datetime]) -> list[str]:
    return [v.strftime("%H:%MZ") for v in values]


def test_nine_to_noon_in_new_york_starts_at_14z_on_a_january_monday() -> None:
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)))
    assert found[0] == utc(2027, 1, 4, 14)
    assert found[-1] == utc(2027, 1, 4, 16, 30)
    assert len(found) == 11  # 14:00 … 16:30 every 15 minutes


def test_nine_to_noon_in_new_york_starts_at_13z_on_a_july_monday() -> None:
    found = times_on(JULY_MONDAY, mondays(hm(9), hm(12)))
    assert found[0] == utc(2027, 7, 5, 13)
    assert found[-1] == utc(2027, 7, 5, 15, 30)


def test_every_time_is_utc_and_in_order() -> None:
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)))
    assert all(t.utcoffset() == timedelta(0) for t in found)
    assert found == sorted(found)


def test_a_day_off_has_no_times() -> None:
    hours = mondays(hm(9), hm(12))
    day_off = Availability(zone=NEW_YORK, weekly=hours.weekly, overrides={JANUARY_MONDAY: []})
    assert times_on(JANUARY_MONDAY, day_off) == []
    assert times_on(JANUARY_MONDAY + timedelta(days=7), day_off) != []


def test_an_override_replaces_the_weekly_hours_of_its_date_only() -> None:
    hours = mondays(hm(9), hm(12))
    afternoon = Availability(
        zone=NEW_YORK, weekly=hours.weekly, overrides={JANUARY_MONDAY: [Window(hm(14), hm(15))]}
    )
    assert clock(times_on(JANUARY_MONDAY, afternoon)) == ["19:00Z", "19:15Z", "19:30Z"]


def test_an_override_can_open_a_day_without_weekly_hours() -> None:
    saturday = date(2027, 1, 9)
    opened = Availability(zone=NEW_YORK, overrides={saturday: [Window(hm(10), hm(11))]})
    assert clock(times_on(saturday, opened)) == ["15:00Z", "15:15Z", "15:30Z"]


def test_a_fifteen_minute_buffer_keeps_clear_of_a_booking_and_of_the_window_edges() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30),
        buffer_before=timedelta(minutes=15),
        buffer_after=timedelta(minutes=15),
        horizon=timedelta(days=365),
    )
    booking = Busy(utc(2027, 1, 4, 15), utc(2027, 1, 4, 15, 30))  # 10:00–10:30 in New York
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), rules, [booking])
    # 09:15 (its buffers fill 09:00–10:00), then from 10:45 (buffer from 10:30) to 11:15.
    assert clock(found) == ["14:15Z", "15:45Z", "16:00Z", "16:15Z"]


def test_a_bookings_own_buffers_make_it_busy_for_longer() -> None:
    booking = Busy(
        utc(2027, 1, 4, 15),
        utc(2027, 1, 4, 15, 30),
        buffer_before=timedelta(minutes=30),
        buffer_after=timedelta(minutes=30),
    )
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), busy=[booking])
    # Busy 09:30–11:00 in New York: 09:00 fits before it, 11:00 onwards after it.
    assert clock(found) == ["14:00Z", "16:00Z", "16:15Z", "16:30Z"]


def test_a_two_hour_notice_hides_the_times_before_it() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30),
        min_notice=timedelta(hours=2),
        horizon=timedelta(days=365),
    )
    now = utc(2027, 1, 4, 13, 30)  # 08:30 in New York
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), rules, now=now)
    assert found[0] == now + timedelta(hours=2)
    assert clock(found) == ["15:30Z", "15:45Z", "16:00Z", "16:15Z", "16:30Z"]


def test_a_notice_off_the_grid_rounds_up_to_the_next_grid_time() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30), min_notice=timedelta(minutes=1), horizon=timedelta(days=9)
    )
    now = utc(2027, 1, 4, 14, 0)
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), rules, now=now)
    assert found[0] == utc(2027, 1, 4, 14, 15)


def test_a_full_day_offers_no_more_of_that_event_type() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30), max_per_day=1, event_type_id=7, horizon=timedelta(days=365)
    )
    booked = Busy(utc(2027, 1, 4, 14), utc(2027, 1, 4, 14, 30), event_type_id=7)
    hours = mondays(hm(9), hm(12))
    assert times_on(JANUARY_MONDAY, hours, rules, [booked]) == []
    assert times_on(JANUARY_MONDAY + timedelta(days=7), hours, rules, [booked]) != []


def test_bookings_of_other_event_types_do_not_count_towards_the_daily_cap() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30), max_per_day=1, event_type_id=7, horizon=timedelta(days=365)
    )
    other = Busy(utc(2027, 1, 4, 14), utc(2027, 1, 4, 14, 30), event_type_id=8)
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), rules, [other])
    assert found[0] == utc(2027, 1, 4, 14, 30)


def test_the_daily_cap_counts_the_specialists_local_day_not_the_utc_day() -> None:
    rules = EventRules(
        duration=timedelta(minutes=30), max_per_day=1, event_type_id=7, horizon=timedelta(days=365)
    )
    # 21:00 on Sunday in New York is 02:00Z on Monday: it is Sunday's booking.
    sunday_evening = Busy(utc(2027, 1, 4, 2), utc(2027, 1, 4, 2, 30), event_type_id=7)
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), rules, [sunday_evening])
    assert len(found) == 11


def test_no_time_is_offered_past_the_horizon() -> None:
    rules = EventRules(duration=timedelta(minutes=30), horizon=timedelta(days=7))
    now = utc(2027, 1, 4, 0)
    hours = mondays(hm(9), hm(12))
    start = utc(2027, 1, 4, 0)
    found = bookable_times(
        hours, rules, [], now=now, range_start=start, range_end=start + timedelta(days=21)
    )
    assert {t.date() for t in found} == {JANUARY_MONDAY}
    assert all(t < now + timedelta(days=7) for t in found)


def test_nothing_in_the_past_is_offered() -> None:
    now = utc(2027, 1, 4, 15, 5)
    found = times_on(JANUARY_MONDAY, mondays(hm(9), hm(12)), now=now)
    assert found[0] == utc(2027, 1, 4, 15, 15)


def test_a_window_start_in_the_spring_forward_gap_moves_to_the_end_of_the_gap() -> None:
    hours = Availability(zone=NEW_YORK, weekly=[WeeklyWindow(6, Window(hm(2, 30), hm(4)))])
    found = times_on(SPRING_FORWARD_SUNDAY, hours)
    # 02:30 does not exist that day: the window opens at 03:00 EDT (07:00Z), ends 04:00 EDT.
    assert clock(found) == ["07:00Z", "07:15Z", "07:30Z"]


def test_a_window_wholly_inside_the_spring_forward_gap_is_empty() -> None:
    hours = Availability(zone=NEW_YORK, weekly=[WeeklyWindow(6, Window(hm(2), hm(2, 45)))])
    assert times_on(SPRING_FORWARD_SUNDAY, hours) == []


def test_a_boundary_in_the_gap_becomes_the_first_valid_instant() -> None:
    assert local_instant(SPRING_FORWARD_SUNDAY, hm(2, 30), NEW_YORK) == utc(2027, 3, 14, 7)
    assert local_instant(SPRING_FORWARD_SUNDAY, hm(2), NEW_YORK) == utc(2027, 3, 14, 7)
    assert local_instant(SPRING_FORWARD_SUNDAY, hm(3), NEW_YORK) == utc(2027, 3, 14, 7)
    assert local_instant(SPRING_FORWARD_SUNDAY, hm(1, 59), NEW_YORK) == utc(2027, 3, 14, 6, 59)


def test_a_boundary_in_the_autumn_repeated_hour_is_its_first_occurrence() -> None:
    assert local_instant(FALL_BACK_SUNDAY, hm(1, 30), NEW_YORK) == utc(2027, 11, 7, 5, 30)
    hours = Availability(zone=NEW_YORK, weekly=[WeeklyWindow(6, Window(hm(1), hm(1, 30)))])
    assert clock(times_on(FALL_BACK_SUNDAY, hours)) == ["05:00Z"]


def test_a_window_across_the_autumn_repeat_lasts_the_real_hours_that_pass() -> None:
    hours = Availability(zone=NEW_YORK, weekly=[WeeklyWindow(6, Window(hm(0), hm(3)))])
    found = times_on(FALL_BACK_SUNDAY, hours)
    # 00:00 EDT (04:00Z) to 03:00 EST (08:00Z): four real hours, 15-minute starts.
    assert found[0] == utc(2027, 11, 7, 4)
    assert found[-1] == utc(2027, 11, 7, 7, 30)
    assert len(found) == 15


def test_a_one_off_slot_adds_availability_outside_working_hours() -> None:
    slot = Interval(utc(2027, 1, 6, 15), utc(2027, 1, 6, 16))  # a Wednesday
    hours = Availability(zone=NEW_YORK, weekly=mondays(hm(9), hm(12)).weekly, extra=[slot])
    assert clock(times_on(date(2027, 1, 6), hours)) == ["15:00Z", "15:15Z", "15:30Z"]


def test_a_one_off_slot_shorter_than_the_event_offers_nothing() -> None:
    slot = Interval(utc(2027, 1, 6, 15), utc(2027, 1, 6, 15, 20))
    assert times_on(date(2027, 1, 6), Availability(zone=NEW_YORK, extra=[slot])) == []


def test_a_one_off_slot_touching_working_hours_extends_them() -> None:
    slot = Interval(utc(2027, 1, 4, 17), utc(2027, 1, 4, 17, 30))  # 12:00–12:30 in New York
    hours = Availability(zone=NEW_YORK, weekly=mondays(hm(9), hm(12)).weekly, extra=[slot])
    assert times_on(JANUARY_MONDAY, hours)[-1] == utc(2027, 1, 4, 17)


def test_starts_lie_on_a_fifteen_minute_grid_from_the_window_start() -> None:
    found = times_on(JANUARY_MONDAY, mondays(hm(9, 10), hm(10)))
    assert clock(found) == ["14:10Z", "14:25Z"]


def test_a_window_ending_at_midnight_joins_the_next_days_window() -> None:
    hours = Availability(
        zone=NEW_YORK,
        weekly=[WeeklyWindow(0, Window(hm(23), hm(24))), WeeklyWindow(1, Window(0, hm(1)))],
    )
    start = utc(2027, 1, 5, 4)
    found = bookable_times(
        hours,
        EventRules(duration=timedelta(hours=2), horizon=timedelta(days=365)),
        [],
        now=utc(2026, 12, 1, 0),
        range_start=start,
        range_end=start + timedelta(days=1),
    )
    assert found == [utc(2027, 1, 5, 4)]


def test_the_range_limits_the_starts_on_both_sides() -> None:
    found = bookable_times(
        mondays(hm(9), hm(12)),
        HALF_HOUR,
        [],
        now=utc(2026, 12, 1, 0),
        range_start=utc(2027, 1, 4, 14, 30),
        range_end=utc(2027, 1, 4, 15, 1),
    )
    assert clock(found) == ["14:30Z", "14:45Z", "15:00Z"]


def test_many_bookings_and_two_months_are_computed_quickly_enough_to_be_a_unit_test() -> None:
    weekdays = [WeeklyWindow(d, Window(hm(8), hm(18))) for d in range(5)]
    hours = Availability(zone=NEW_YORK, weekly=weekdays)
    start = utc(2027, 1, 1, 0)
    busy = [
        Busy(start + timedelta(hours=3 * i + 13), start + timedelta(hours=3 * i + 13, minutes=45))
        for i in range(500)
    ]
    found = bookable_times(
        hours,
        HALF_HOUR,
        busy,
        now=utc(2026, 12, 1, 0),
        range_start=start,
        range_end=start + timedelta(days=62),
    )
    assert found
    # Bookings are 3 hours apart: only the last one starting before a time ends can overlap it.
    starts = [b.start for b in busy]
    for t in found:
        i = bisect_left(starts, t + timedelta(minutes=30)) - 1
        assert i < 0 or busy[i].end <= t
