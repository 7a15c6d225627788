"""What the scheduling API reads and answers about event types and working hours."""

import re
from datetime import date
from itertools import pairwise
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    field_validator,
    model_validator,
)

from specialistly.scheduling.models import EventType
from specialistly.scheduling.service import Hours
from specialistly.scheduling.times import WeeklyWindow, Window
from specialistly.text import Text

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

Whole = Annotated[int, Strict()]  # a JSON integer: neither true nor "5"
Minutes = Annotated[Whole, Field(ge=0, le=240)]


def _text_date(value: object) -> object:
    if not isinstance(value, str | date):
        raise ValueError("a date is written YYYY-MM-DD")  # not a number of seconds
    return value


Day = Annotated[date, BeforeValidator(_text_date)]


# --- event types -------------------------------------------------------------------------


class NewEventType(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=120)
    duration_minutes: Whole = Field(ge=5, le=480)
    description: Text = Field(default="", max_length=2000)
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = 0
    min_notice_minutes: Whole = Field(default=0, ge=0, le=43200)
    horizon_days: Whole = Field(default=60, ge=1, le=365)
    max_per_day: Whole | None = Field(default=None, ge=1, le=100, description="null: no cap")
    active: StrictBool = True


class EventTypeChange(BaseModel):
    """Fields to change; absent ones stay as they are."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Text | None = Field(default=None, min_length=1, max_length=120)
    duration_minutes: Whole | None = Field(default=None, ge=5, le=480)
    description: Text | None = Field(default=None, max_length=2000)
    buffer_before_minutes: Minutes | None = None
    buffer_after_minutes: Minutes | None = None
    min_notice_minutes: Whole | None = Field(default=None, ge=0, le=43200)
    horizon_days: Whole | None = Field(default=None, ge=1, le=365)
    max_per_day: Whole | None = Field(default=None, ge=1, le=100, description="null: no cap")
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _only_the_cap_may_be_null(self) -> Self:
        for name in sorted(self.model_fields_set - {"max_per_day"}):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class EventTypeOut(BaseModel):
    id: int
    name: str
    duration_minutes: int
    description: str
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    max_per_day: int | None
    active: bool

    @classmethod
    def of(cls, kind: EventType) -> "EventTypeOut":
        return cls(
            id=kind.id,
            name=kind.name,
            duration_minutes=kind.duration_minutes,
            description=kind.description,
            buffer_before_minutes=kind.buffer_before_minutes,
            buffer_after_minutes=kind.buffer_after_minutes,
            min_notice_minutes=kind.min_notice_minutes,
            horizon_days=kind.horizon_days,
            max_per_day=kind.max_per_day,
            active=kind.active,
        )


# --- working hours -----------------------------------------------------------------------


def clock_minutes(value: str, *, end: bool) -> int:
    """Read "HH:MM" as minutes since midnight; "24:00" only as an end."""
    if end and value == "24:00":
        return 24 * 60
    matched = CLOCK.fullmatch(value)
    if matched is None:
        allowed = '"00:00" to "24:00"' if end else '"00:00" to "23:59"'
        raise ValueError(f"{value!r} is not a time of day as HH:MM ({allowed})")
    return int(matched[1]) * 60 + int(matched[2])


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(max_length=5, examples=["09:00"])
    end: str = Field(max_length=5, examples=["17:00"])

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        clock_minutes(value, end=False)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        clock_minutes(value, end=True)
        return value

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.window().end <= self.window().start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    def window(self) -> Window:
        return Window(clock_minutes(self.start, end=False), clock_minutes(self.end, end=True))


class WeeklyIn(WindowIn):
    weekday: Whole = Field(ge=0, le=6, description="Monday 0 … Sunday 6")


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: Day = Field(description="YYYY-MM-DD")
    windows: list[WindowIn] = Field(max_length=48, description="none: a day off")


def _overlap(windows: list[Window], where: str) -> None:
    ordered = sorted(windows, key=lambda w: w.start)
    for earlier, later in pairwise(ordered):
        if later.start < earlier.end:
            raise ValueError(
                f"windows overlap on {where}: {clock_text(earlier.start)}–"
                f"{clock_text(earlier.end)} and {clock_text(later.start)}–{clock_text(later.end)}"
            )


class AvailabilityIn(BaseModel):
    """The whole set of working hours; it replaces the previous one."""

    model_config = ConfigDict(extra="forbid")

    weekly: list[WeeklyIn] = Field(default_factory=list, max_length=7 * 48)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for weekday, name in enumerate(WEEKDAYS):
            _overlap([w.window() for w in self.weekly if w.weekday == weekday], name)
        seen: set[date] = set()
        for override in self.overrides:
            if override.date in seen:
                raise ValueError(f"date {override.date} is overridden twice: give it once")
            seen.add(override.date)
            _overlap([w.window() for w in override.windows], str(override.date))
        return self

    def hours(self) -> Hours:
        return Hours(
            weekly=[WeeklyWindow(w.weekday, w.window()) for w in self.weekly],
            overrides={o.date: [w.window() for w in o.windows] for o in self.overrides},
        )


class WindowOut(BaseModel):
    start: str
    end: str


class WeeklyOut(WindowOut):
    weekday: int


class OverrideOut(BaseModel):
    date: date
    windows: list[WindowOut]


class AvailabilityOut(BaseModel):
    timezone: str
    weekly: list[WeeklyOut]
    overrides: list[OverrideOut]

    @classmethod
    def of(cls, zone: str, hours: Hours) -> "AvailabilityOut":
        def out(w: Window) -> WindowOut:
            return WindowOut(start=clock_text(w.start), end=clock_text(w.end))

        return cls(
            timezone=zone,
            weekly=[
                WeeklyOut(weekday=w.weekday, **out(w.window).model_dump()) for w in hours.weekly
            ],
            overrides=[
                OverrideOut(date=day, windows=[out(w) for w in windows])
                for day, windows in sorted(hours.overrides.items())
            ],
        )
