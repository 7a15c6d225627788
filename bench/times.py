"""Bookable times: 62 days, 10 event types, 500 confirmed bookings; p95 per request (goal ≤ 50 ms).

Two figures: the pure function alone (`scheduling/times.py`), and the whole HTTP request in
process (`GET /api/v1/specialists/{id}/times`: routing, the reads from SQLite, the computation
and the JSON answer) through the test harness's app.

Run from the repository root: .venv/bin/python bench/times.py [--rounds 20]
"""

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Harness, harness

from specialistly.bookings.models import Booking, BookingStatus, MeetingStatus
from specialistly.scheduling.schemas import AvailabilityIn
from specialistly.scheduling.times import Availability, Busy, EventRules, bookable_times
from specialistly.specialists.models import Slot

ZONE = "America/New_York"
DAYS = 62
BOOKINGS = 500
KINDS = [  # duration, buffer before, buffer after, max per day
    (15, 0, 0, None),
    (20, 5, 5, None),
    (30, 0, 10, 8),
    (30, 15, 15, None),
    (45, 0, 15, None),
    (50, 10, 10, 4),
    (60, 0, 0, None),
    (60, 15, 15, 3),
    (90, 30, 30, None),
    (25, 5, 0, None),
]
HOURS = {
    "weekly": [
        {"weekday": day, "start": start, "end": end}
        for day in range(6)
        for start, end in (("08:00", "12:00"), ("13:00", "18:30"))
    ],
    "overrides": [],
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def line(name: str, samples: list[float]) -> str:
    return (
        f"{name}: {len(samples)} requests, p50 {statistics.median(samples):.2f} ms, "
        f"p95 {percentile(samples, 0.95):.2f} ms, max {max(samples):.2f} ms"
    )


async def setup(h: Harness) -> tuple[int, list[int], list[Busy], datetime]:
    browser, specialist = await h.sign_up(timezone=ZONE)
    assert (await browser.put("/api/v1/availability", json=HOURS)).status_code == 200
    kinds: list[int] = []
    for minutes, before, after, cap in KINDS:
        answer = await browser.post(
            "/api/v1/event-types",
            json={
                "name": f"{minutes} minutes",
                "duration_minutes": minutes,
                "buffer_before_minutes": before,
                "buffer_after_minutes": after,
                "max_per_day": cap,
                "min_notice_minutes": 60,
                "horizon_days": 365,
            },
        )
        assert answer.status_code == 201, answer.text
        kinds.append(int(answer.json()["id"]))
    now = h.ctx.clock.now()
    first = now.replace(hour=13, minute=0, second=0, microsecond=0) + timedelta(days=1)
    busy: list[Busy] = []
    async with h.ctx.db.transaction() as session:
        for i in range(BOOKINGS):
            # Spread over the 62 days, on the quarter hour, 30 minutes each.
            start = first + timedelta(minutes=15 * ((i * DAYS * 96) // BOOKINGS))
            kind = i % len(KINDS)
            slot = Slot(specialist_id=specialist, start_time=start, duration_minutes=30)
            slot.created_at = now
            session.add(slot)
            await session.flush()
            session.add(
                Booking(
                    slot_id=slot.id,
                    specialist_id=specialist,
                    status=BookingStatus.CONFIRMED,
                    reference=secrets.token_hex(8),
                    customer_name="Bench",
                    customer_email="bench@example.com",
                    manage_token="-",
                    start_time=start,
                    duration_minutes=30,
                    created_at=now,
                    meeting_status=MeetingStatus.CREATED,
                    event_type_id=kinds[kind],
                )
            )
            _, before, after, _ = KINDS[kind]
            busy.append(
                Busy(
                    start,
                    start + timedelta(minutes=30),
                    timedelta(minutes=before),
                    timedelta(minutes=after),
                    kinds[kind],
                )
            )
    return specialist, kinds, busy, now


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with harness(f"sqlite:///{folder}/app.db", Path(folder)) as h:
            specialist, kinds, busy, now = await setup(h)
            start = now
            end = now + timedelta(days=DAYS)
            hours = AvailabilityIn.model_validate(HOURS).hours()
            availability = Availability(
                zone=ZoneInfo(ZONE), weekly=hours.weekly, overrides=hours.overrides
            )
            pure: list[float] = []
            counts: list[int] = []
            for _ in range(rounds):
                for kind, (minutes, before, after, cap) in zip(kinds, KINDS, strict=True):
                    rules = EventRules(
                        duration=timedelta(minutes=minutes),
                        buffer_before=timedelta(minutes=before),
                        buffer_after=timedelta(minutes=after),
                        min_notice=timedelta(minutes=60),
                        horizon=timedelta(days=365),
                        max_per_day=cap,
                        event_type_id=kind,
                    )
                    began = time.perf_counter()
                    found = bookable_times(
                        availability, rules, busy, now=now, range_start=start, range_end=end
                    )
                    pure.append((time.perf_counter() - began) * 1000)
                    counts.append(len(found))
            http: list[float] = []
            client = h.client()
            query = {
                "from": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for _ in range(rounds):
                for kind in kinds:
                    began = time.perf_counter()
                    answer = await client.get(
                        f"/api/v1/specialists/{specialist}/times",
                        params={"event_type_id": kind, **query},
                    )
                    http.append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, answer.text
            await client.aclose()
    print(
        f"{DAYS} days, {len(KINDS)} event types, {BOOKINGS} confirmed bookings, "
        f"{min(counts)}–{max(counts)} bookable times per event type"
    )
    print(line("pure function", pure))
    print(line("HTTP in process", http))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
