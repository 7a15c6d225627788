"""A bookable-times request's range (`from`, `to`), and its answer written as JSON."""

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

LONGEST_RANGE = timedelta(days=62)


class RangeRejected(ValueError):
    """The `from`/`to` of a times request cannot be used; the message says why."""


def instant(value: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """Read an ISO instant (with an offset) or date (a whole day in `zone`, ends inclusive)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise RangeRejected(f"{value!r} has no offset: add Z or ±HH:MM")
        return moment.astimezone(UTC)
    except RangeRejected:
        raise
    except OverflowError:
        raise RangeRejected(f"{value!r} is outside the calendar (years 1 to 9999)") from None
    except ValueError:
        raise RangeRejected(
            f"{value!r} is neither a date (YYYY-MM-DD) nor an instant with an offset"
        ) from None


def time_range(
    start: str | None, end: str | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """The range asked for: by default two weeks from now; at most 62 days."""
    first = instant(start, zone, end=False) if start else now
    try:
        last = instant(end, zone, end=True) if end else first + timedelta(days=14)
    except OverflowError:
        raise RangeRejected("from + 14 days is outside the calendar: give to") from None
    if last <= first:
        raise RangeRejected("to must be after from")
    if last - first > LONGEST_RANGE:
        raise RangeRejected("the range is longer than 62 days: ask for less")
    return first, last


class TimeOut(BaseModel):
    start_time: str = Field(examples=["2027-01-04T14:00:00Z"])
    end_time: str = Field(examples=["2027-01-04T14:30:00Z"])


class TimesOut(BaseModel):
    times: list[TimeOut]


def times_json(starts: list[datetime], duration: timedelta) -> bytes:
    """Answer `TimesOut` as JSON, written directly: a 62-day answer has thousands of times."""

    def z(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat()[:-6] + "Z"  # "+00:00" written as Z

    times = [{"start_time": z(s), "end_time": z(s + duration)} for s in starts]
    return json.dumps({"times": times}, separators=(",", ":")).encode()
