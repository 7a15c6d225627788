"""The dashboard's profile card: name, time zone and bio, or what was sent with its errors."""

from datetime import datetime
from typing import Any, Protocol

from specialistly.specialists.models import Specialist
from specialistly.web import zones


class Sent(Protocol):
    form: str
    errors: dict[str, str]
    values: dict[str, str]


def profile_context(me: Specialist, now: datetime, problem: Sent | None) -> dict[str, Any]:
    """The profile form's values and errors; the zone list grouped by region."""
    mine = problem is not None and problem.form == "profile"
    values = (
        problem.values
        if mine and problem is not None
        else {"name": me.name, "timezone": me.timezone, "bio": me.bio or ""}
    )
    zone = values.get("timezone") or me.timezone
    return {
        "sent": values,
        "errors": problem.errors if mine and problem is not None else {},
        "zone": zone,
        "zones": zones.regions(now, zone if zones.is_canonical(zone) else me.timezone),
    }
