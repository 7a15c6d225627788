"""A time a person typed on a wall clock, in their zone: refused when that zone skips it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from specialistly.web.clock_style import clock


class NoSuchTime(ValueError):
    """The local time falls in a gap: the clocks jump over it (daylight saving starts)."""


def wall_time(text: str, zone: str) -> datetime:
    """'2027-03-28T10:15' in `zone` as an aware datetime; ValueError when unreadable.

    A time the zone skips (Europe/Berlin 2027-03-28 02:30) raises `NoSuchTime`, saying so,
    rather than becoming another time silently.
    """
    try:
        naive = datetime.fromisoformat(text) if len(text) <= 32 else None
        if naive is None or naive.tzinfo is not None:
            raise ValueError("not a local date and time")
        tz = ZoneInfo(zone)
        aware = naive.replace(tzinfo=tz)
        back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("out of range") from None
    if back != naive:
        before = naive.replace(tzinfo=tz, fold=0).utcoffset()
        after = naive.replace(tzinfo=tz, fold=1).utcoffset()
        jump = abs((before - after).total_seconds()) if before and after else 3600
        amount = "an hour" if jump == 3600 else f"{int(jump // 60)} minutes"
        raise NoSuchTime(
            f"{naive:%a %d %b %Y}, {clock(naive)} does not exist in {zone}: the clocks go "
            f"forward {amount} that night. Choose another time, e.g. {clock(back)}."
        )
    return aware
