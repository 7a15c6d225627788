"""What the dashboard shows of bookings and scheduling, read in the specialist's zone."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings import service as bookings
from specialistly.bookings.models import Booking, BookingStatus, MeetingProvider
from specialistly.context import AppContext
from specialistly.scheduling import service as scheduling
from specialistly.scheduling.models import EventType
from specialistly.scheduling.schemas import WEEKDAYS, clock_text
from specialistly.specialists.models import Specialist
from specialistly.web.pages import local, local_span

PAST_SHOWN = 20


def span(start: datetime, minutes: int, zone: str) -> str:
    """'Mon 30 Nov 2026, 09:00–09:30' in `zone`."""
    return local_span(start, start + timedelta(minutes=minutes), zone)


def meeting_label(status: str, provider: MeetingProvider | None) -> str:
    if status == "created":
        return (
            "on the platform's Zoom" if provider == MeetingProvider.PLATFORM_ZOOM else "Zoom ready"
        )
    return {"pending": "Zoom link pending", "failed": "Zoom refused"}.get(status, status)


@dataclass
class BookingLists:
    upcoming: list[dict[str, Any]]
    past: list[dict[str, Any]]


def ended(booking: Booking, now: datetime) -> bool:
    return booking.start_time + timedelta(minutes=booking.duration_minutes) <= now


async def booking_lists(
    ctx: AppContext, session: AsyncSession, me: Specialist, names: dict[int, str]
) -> BookingLists:
    """Upcoming confirmed bookings, soonest first; then the latest past or cancelled ones."""
    now, rows = ctx.clock.now(), await bookings.of_specialist(session, me.id)
    live = [b for b in rows if b.status == BookingStatus.CONFIRMED and not ended(b, now)]
    gone = [b for b in rows if b not in live]
    return BookingLists(
        upcoming=[_row(ctx, b, me.timezone, names) for b in reversed(live)],
        past=[_row(ctx, b, me.timezone, names) for b in gone[:PAST_SHOWN]],
    )


def _row(ctx: AppContext, b: Booking, zone: str, names: dict[int, str]) -> dict[str, Any]:
    kind = names.get(b.event_type_id or 0, "Consultation") if b.event_type_id else "One-off time"
    return {
        "id": b.id,
        "when": span(b.start_time, b.duration_minutes, zone),
        "kind": kind,
        "customer_name": b.customer_name,
        "customer_email": b.customer_email,
        "customer_zone": b.customer_timezone,
        "status": b.status.value,
        "cancel_reason": b.cancel_reason,
        "meeting_status": b.meeting_status.value,
        "meeting_label": meeting_label(b.meeting_status.value, b.meeting_provider),
        "start_url": ctx.bookings.start_url(b) if b.status == BookingStatus.CONFIRMED else None,
    }


def event_type_rows(kinds: list[EventType]) -> list[dict[str, Any]]:
    return [
        {
            "id": k.id,
            "name": k.name,
            "duration_minutes": k.duration_minutes,
            "description": k.description,
            "buffer_before_minutes": k.buffer_before_minutes,
            "buffer_after_minutes": k.buffer_after_minutes,
            "min_notice_minutes": k.min_notice_minutes,
            "horizon_days": k.horizon_days,
            "max_per_day": k.max_per_day,
            "active": k.active,
        }
        for k in kinds
    ]


async def hours_context(session: AsyncSession, me: Specialist, now: datetime) -> dict[str, Any]:
    """The weekly rows (each weekday's windows and one empty row) and the dates ahead."""
    today = local(now, me.timezone, "%Y-%m-%d")
    found = await scheduling.hours(session, me.id)
    weekdays = []
    for weekday, name in enumerate(WEEKDAYS):
        windows = [
            (
                clock_text(w.window.start),
                clock_text(w.window.end) if w.window.end < 1440 else "00:00",
            )
            for w in found.weekly
            if w.weekday == weekday
        ]
        weekdays.append({"weekday": weekday, "name": name, "rows": [*windows, ("", "")]})
    dates = [
        {
            "date": day.isoformat(),
            "label": f"{day:%A} {day.day} {day:%B %Y}",
            "hours": ", ".join(f"{clock_text(w.start)}–{clock_text(w.end)}" for w in windows)
            or "Day off",
        }
        for day, windows in sorted(found.overrides.items())
        if day.isoformat() >= today
    ]
    return {"weekdays": weekdays, "dates": dates, "today": today}
