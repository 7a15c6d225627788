"""What pages show of zones and clocks, without a server."""

from datetime import UTC, datetime

import pytest

from specialistly.web import zones
from specialistly.web.clock_style import TWELVE_HOUR, clock_range, prefers_12_hour
from specialistly.web.wall_time import NoSuchTime, wall_time

WINTER = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_picker_offers_canonical_area_city_zones_only() -> None:
    offered = zones.canonical()
    for kept in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/Kyiv"):
        assert kept in offered
    for dropped in ("US/Eastern", "Etc/GMT+5", "Asia/Calcutta", "Europe/Kiev", "GMT", "EST"):
        assert dropped not in offered


def test_zones_are_grouped_by_region_with_their_offset_now() -> None:
    groups = {region.name: region.zones for region in zones.regions(WINTER)}
    assert list(groups)[:2] == ["UTC", "Africa"]
    berlin = next(z for z in groups["Europe"] if z.name == "Europe/Berlin")
    assert berlin.label == "Berlin (UTC+01:00)"
    assert any(z.label == "Argentina, Buenos Aires (UTC−03:00)" for z in groups["America"])
    extra = zones.regions(WINTER, "Asia/Calcutta")[0]
    assert (extra.name, extra.zones[0].name) == ("Your zone", "Asia/Calcutta")


@pytest.mark.parametrize(
    ("header", "guess"),
    [("de-DE,de;q=0.9", "Europe/Berlin"), ("en-US", "UTC"), ("fr", "UTC"), ("", "UTC")],
)
def test_without_javascript_sign_up_guesses_a_zone_only_where_the_region_has_one(
    header: str, guess: str
) -> None:
    assert zones.guess(header, WINTER) == guess


@pytest.mark.parametrize(
    ("header", "twelve"),
    [("en-US,en;q=0.9", True), ("en-GB", False), ("de-DE", False), ("ko-KR", True), ("", False)],
)
def test_the_clock_follows_the_visitors_first_language(header: str, twelve: bool) -> None:
    assert prefers_12_hour(header) is twelve


def test_a_12_hour_range_names_its_half_of_the_day_once_when_it_can() -> None:
    token = TWELVE_HOUR.set(True)
    try:
        morning, noon = datetime(2026, 1, 1, 9, 30), datetime(2026, 1, 1, 12, 0)
        assert clock_range(morning, morning.replace(minute=45)) == "9:30–9:45 AM"
        assert clock_range(morning, noon) == "9:30 AM–12:00 PM"
    finally:
        TWELVE_HOUR.reset(token)
    assert clock_range(datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 9, 30)) == "09:00–09:30"


def test_a_time_the_clocks_skip_is_refused_and_a_repeated_one_is_its_first() -> None:
    with pytest.raises(NoSuchTime, match="does not exist in Europe/Berlin"):
        wall_time("2027-03-28T02:30", "Europe/Berlin")
    repeated = wall_time("2027-10-31T02:30", "Europe/Berlin")
    assert repeated.utcoffset() is not None
    assert repeated.astimezone(UTC).hour == 0  # 02:30 summer time, the first of the two
    with pytest.raises(ValueError, match="out of range"):
        wall_time("0001-01-01T00:00", "Asia/Tokyo")
