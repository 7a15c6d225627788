"""Reading the dashboard's scheduling forms: event types, weekly hours, a date's hours.

Each reader answers the value to save, or the errors to show beside each field in plain
words; nothing here touches the database.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from specialistly.scheduling.schemas import WEEKDAYS, NewEventType, clock_minutes
from specialistly.scheduling.times import WeeklyWindow, Window

EVENT_FIELDS = {
    "name": "Enter a name of up to 120 characters.",
    "duration_minutes": "Enter a length from 5 to 480 minutes.",
    "description": "Keep the description under 2,000 characters.",
    "buffer_before_minutes": "Enter 0 to 240 minutes.",
    "buffer_after_minutes": "Enter 0 to 240 minutes.",
    "min_notice_minutes": "Enter 0 to 43,200 minutes (30 days).",
    "horizon_days": "Enter 1 to 365 days.",
    "max_per_day": "Leave empty for no limit, or enter 1 to 100.",
}
NUMBERS = {name for name in EVENT_FIELDS if name not in ("name", "description")}
ROW = re.compile(r"w-([0-6])-(\d{1,2})-(start|end)")
MAX_ROWS = 48


@dataclass
class Parsed:
    """What a form said: `value` to save when `errors` is empty."""

    value: Any = None
    errors: dict[str, str] = field(default_factory=dict)


def event_type(form: dict[str, str]) -> Parsed:
    """An event type's fields, typed and checked against the API's rules."""
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
    }
    for name in NUMBERS:
        raw = form.get(name, "")
        if name == "max_per_day" and raw == "":
            fields[name] = None
        else:  # a string that is not a whole number stays one, and the model refuses it
            fields[name] = int(raw) if raw.isdigit() and len(raw) <= 6 else raw
    if "active" in form or "active_shown" in form:
        fields["active"] = form.get("active") == "on"
    errors: dict[str, str] = {}
    try:
        checked = NewEventType.model_validate(fields)
    except ValidationError as invalid:
        for problem in invalid.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "name"
            errors[name] = EVENT_FIELDS.get(name, "Check this field.")
        return Parsed(errors=errors)
    return Parsed(checked.model_dump())


def _clock(value: str, *, end: bool) -> int | None:
    if end and value == "00:00":
        return 24 * 60  # a window ending at midnight ends at 24:00
    try:
        return clock_minutes(value, end=end)
    except ValueError:
        return None


def window(start: str, end: str) -> tuple[Window | None, str | None]:
    """One window from two "HH:MM" fields, or what is wrong with them."""
    if not start or not end:
        return None, "Give both a start and an end."
    first, last = _clock(start, end=False), _clock(end, end=True)
    if first is None or last is None:
        return None, "Write times as HH:MM, e.g. 09:00."
    if last <= first:
        return None, "The end must be after the start."
    return Window(first, last), None


def weekly(form: dict[str, str]) -> Parsed:
    """The hours form's weekly windows: rows `w-<weekday>-<n>-start/end`; empty rows skipped."""
    rows: dict[tuple[int, int], dict[str, str]] = {}
    for key, value in form.items():
        matched = ROW.fullmatch(key)
        if matched and int(matched[2]) < MAX_ROWS:
            rows.setdefault((int(matched[1]), int(matched[2])), {})[matched[3]] = value
    errors: dict[str, str] = {}
    windows: list[WeeklyWindow] = []
    for (weekday, n), row in sorted(rows.items()):
        if not row.get("start") and not row.get("end"):
            continue
        found, problem = window(row.get("start", ""), row.get("end", ""))
        if found is None:
            errors[f"w-{weekday}-{n}"] = problem or ""
        else:
            windows.append(WeeklyWindow(weekday, found))
    for weekday, name in enumerate(WEEKDAYS):
        if _overlapping([w.window for w in windows if w.weekday == weekday]):
            errors[f"w-{weekday}"] = f"{name}'s hours overlap: make them one, or move one."
    return Parsed(windows, errors)


def _overlapping(windows: list[Window]) -> bool:
    ordered = sorted(windows, key=lambda w: w.start)
    return any(b.start < a.end for a, b in pairwise(ordered))


def date_hours(form: dict[str, str], today: date) -> Parsed:
    """A date and its hours: (date, [] for a day off, or [window])."""
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(form.get("date", ""))
    except ValueError:
        return Parsed(errors={"date": "Choose a date."})
    if day < today:
        errors["date"] = "Choose today or a later date."
    windows: list[Window] = []
    if form.get("kind") == "hours":
        found, problem = window(form.get("start", ""), form.get("end", ""))
        if found is None:
            errors["window"] = problem or ""
        else:
            windows.append(found)
    return Parsed((day, windows), errors)
