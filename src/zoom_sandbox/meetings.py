"""Meeting bodies as Zoom builds, validates and lists them."""

import base64
import re
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoom_sandbox.state import Meeting, ZoomUser

TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z)?$")
PASSWORD = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
MEETING_TYPES = {1, 2, 3, 8}
LIST_TYPES = {"scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"}
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "waiting_room": True,
    "meeting_authentication": False,
}


def zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Invalid(Exception):
    """A request body Zoom would refuse with code 300; `errors` name the fields."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("Validation Failed.")
        self.errors = errors


def validate(body: Any, *, partial: bool) -> dict[str, Any]:
    """Check a create (or, when partial, an update) body; raise `Invalid` naming each bad field."""
    if not isinstance(body, dict):
        raise Invalid([{"field": "body", "message": "Request Body should be a valid JSON object."}])
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if "topic" in body and (not isinstance(body["topic"], str) or len(body["topic"]) > 200):
        bad("topic", "Topic must be a string of at most 200 characters.")
    if "type" in body and body["type"] not in MEETING_TYPES:
        bad("type", "Invalid meeting type.")
    duration = body.get("duration")
    if "duration" in body and (
        not isinstance(duration, int) or isinstance(duration, bool) or duration < 0
    ):
        bad("duration", "Duration must be a non-negative integer.")
    if "agenda" in body and (not isinstance(body["agenda"], str) or len(body["agenda"]) > 2000):
        bad("agenda", "Agenda must be a string of at most 2000 characters.")
    if "password" in body and not (
        isinstance(body["password"], str) and PASSWORD.match(body["password"])
    ):
        bad("password", "Invalid password: at most 10 characters of [a-zA-Z0-9@-_*].")
    if "timezone" in body and not _zone(body["timezone"]):
        bad("timezone", "Invalid timezone.")
    if "start_time" in body and not (
        isinstance(body["start_time"], str) and TIME.match(body["start_time"])
    ):
        bad(
            "start_time",
            "Invalid start_time: use yyyy-MM-ddTHH:mm:ssZ, or local time and timezone.",
        )
    if "settings" in body and not isinstance(body["settings"], dict):
        bad("settings", "Settings must be an object.")
    if errors:
        raise Invalid(errors)
    return body


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def start_in_utc(raw: str, timezone: str) -> datetime:
    """Read Zoom's two start_time forms: UTC with `Z`, or local wall time in `timezone`."""
    match = TIME.match(raw)
    assert match is not None  # validate() ran first
    naive = datetime.fromisoformat(match.group(1))
    if match.group(3):
        return naive.replace(tzinfo=UTC)
    zone = _zone(timezone) or ZoneInfo("UTC")
    return naive.replace(tzinfo=zone).astimezone(UTC)


def create(body: dict[str, Any], user: ZoomUser, *, now: datetime, base_url: str) -> Meeting:
    """Build a meeting the way Zoom answers a create: ids, links, passwords and settings."""
    meeting_id = secrets.randbelow(9 * 10**10) + 10**10  # 11 digits: beyond 32 bits
    timezone = body.get("timezone") or user.timezone
    start = start_in_utc(body["start_time"], timezone) if body.get("start_time") else now
    password = body.get("password") or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(6)
    )
    encrypted = secrets.token_urlsafe(24)
    data: dict[str, Any] = {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": meeting_id,
        "host_id": user.id,
        "host_email": user.email,
        "topic": body.get("topic", "Zoom Meeting"),
        "type": body.get("type", 2),
        "status": "waiting",
        "start_time": zulu(start),
        "duration": body.get("duration", 60),
        "timezone": timezone,
        "agenda": body.get("agenda", ""),
        "created_at": zulu(now),
        "start_url": f"{base_url}/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
        "join_url": f"{base_url}/j/{meeting_id}?pwd={encrypted}",
        "password": password,
        "h323_password": password,
        "pstn_password": password,
        "encrypted_password": encrypted,
        "settings": {**DEFAULT_SETTINGS, **body.get("settings", {})},
        "pre_schedule": False,
    }
    return Meeting(id=meeting_id, host_id=user.id, body=data)


def update(meeting: Meeting, body: dict[str, Any]) -> None:
    data = meeting.body
    for key in ("topic", "type", "duration", "agenda", "password"):
        if key in body:
            data[key] = body[key]
    if "timezone" in body:
        data["timezone"] = body["timezone"]
    if "start_time" in body:
        data["start_time"] = zulu(start_in_utc(body["start_time"], data["timezone"]))
    if "settings" in body:
        data["settings"] = {**data["settings"], **body["settings"]}


def _window(meeting: Meeting) -> tuple[datetime, datetime]:
    start = datetime.strptime(meeting.body["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return start, start + timedelta(minutes=int(meeting.body["duration"]))


def listed(meetings: list[Meeting], kind: str, now: datetime) -> list[Meeting]:
    """Filter a host's meetings by Zoom's list `type`, ordered by start time."""

    def keep(m: Meeting) -> bool:
        start, end = _window(m)
        if kind in ("upcoming", "upcoming_meetings"):
            return end > now
        if kind == "live":
            return start <= now < end
        if kind == "previous_meetings":
            return end <= now
        return True

    return sorted((m for m in meetings if keep(m)), key=lambda m: (_window(m)[0], m.id))


def summary(meeting: Meeting) -> dict[str, Any]:
    keys = (
        "uuid",
        "id",
        "host_id",
        "topic",
        "type",
        "start_time",
        "duration",
        "timezone",
        "agenda",
        "created_at",
        "join_url",
    )
    return {k: meeting.body[k] for k in keys}
