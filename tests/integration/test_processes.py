"""Real `specialistly serve` processes: three sharing PostgreSQL, and a graceful SIGTERM."""

import asyncio
import re
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from specialistly.db import upgrade_async
from tests.harness import live_settings
from tests.processes import (
    connect as _connect,
)
from tests.processes import (
    env_for as _env_for,
)
from tests.processes import (
    sandbox_and_servers as _sandbox_and_servers,
)
from tests.processes import (
    serve as _serve,
)
from tests.processes import (
    sign_up as _sign_up,
)
from tests.processes import (
    tail as _tail,
)
from tests.servers import BIN, ROOT, async_http_client, clean_env, http_client, http_request

ZOOM_EMAIL = "multi@zoom.example.com"
TOKEN_TTL = 8  # seconds the sandbox's access tokens live
PHASES, PER_PHASE, REBOOKS_PER_PHASE = 4, 75, 5
CONCURRENCY = 10
PHASE_BUDGET = 6.0  # seconds; the token is usable for TTL - leeway = 7
REFERENCE = re.compile(r"SPL-[0-9A-F]+")


async def _add_slots(browser: httpx.AsyncClient, count: int) -> list[int]:
    """`count` 30-minute slots, one an hour, starting more than two days from now."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = hour + timedelta(days=2, hours=1)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def add(i: int) -> int:
        start = (first + timedelta(hours=i)).isoformat()
        async with gate:
            answer = await browser.post(
                "/api/v1/slots", json={"start_time": start, "duration_minutes": 30}
            )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    return list(await asyncio.gather(*(add(i) for i in range(count))))


async def _book(client: httpx.AsyncClient, slot_id: int, n: int) -> httpx.Response:
    body = {
        "slot_id": slot_id,
        "customer_name": f"Customer {n}",
        "customer_email": f"customer{n}@example.com",
    }
    return await client.post("/api/v1/bookings", json=body)


async def _token_expires_at(browser: httpx.AsyncClient) -> datetime:
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected", status
    return datetime.fromisoformat(status["access_token_expires_at"])


async def _sleep_until_expired(browser: httpx.AsyncClient) -> None:
    """Wait until the stored access token has expired (TTL seconds after the last refresh)."""
    expires_at = await _token_expires_at(browser)
    await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.3)


async def _refresh_outcomes(zoom: httpx.AsyncClient) -> dict[str, int]:
    stats = (await zoom.get("/_control/stats")).json()
    outcomes: dict[str, int] = stats["token_requests"].get("refresh_token", {})
    return outcomes


@pytest.mark.postgres
async def test_three_server_processes_on_postgresql_share_one_refresh_per_expiry(
    postgres_url: str, tmp_path: Path
) -> None:
    await upgrade_async(postgres_url)
    # The redirect URI names no real host: the test takes Zoom's callback to process 1 itself.
    env = _env_for(
        live_settings(postgres_url, tmp_path),
        ZOOM_SANDBOX_ACCESS_TOKEN_TTL=str(TOKEN_TTL),
        ZOOM_SANDBOX_MEETINGS_PER_USER_PER_DAY="1000",  # Zoom's default 100 is below 300
        ZOOM_REFRESH_LEEWAY_SECONDS="1",
        MEETING_FALLBACK="none",
        KEEPALIVE_INTERVAL_SECONDS="3600",
    )
    with _sandbox_and_servers(env, tmp_path) as (zoom_base, bases):
        clients = [async_http_client(base_url=b, timeout=30) for b in bases]
        async with (
            async_http_client(base_url=bases[0], timeout=30) as browser,
            async_http_client(base_url=zoom_base, timeout=30) as zoom,
        ):
            try:
                await _sign_up(browser, "multi@example.com")
                # Slots first, so that phase 0 starts the moment the token is issued.
                slots = await _add_slots(browser, PHASES * PER_PHASE)
                await _connect(browser, zoom, ZOOM_EMAIL)

                answers: list[httpx.Response] = []
                gate = asyncio.Semaphore(CONCURRENCY)
                durations: list[float] = []

                async def book(slot_id: int, n: int) -> httpx.Response:
                    async with gate:
                        return await _book(clients[n % len(clients)], slot_id, n)

                for phase in range(PHASES):
                    if phase:
                        await _sleep_until_expired(browser)
                    mine = slots[phase * PER_PHASE : (phase + 1) * PER_PHASE]
                    began = time.monotonic()
                    booked = await asyncio.gather(
                        *(book(s, phase * PER_PHASE + i) for i, s in enumerate(mine))
                    )
                    taken = mine[:REBOOKS_PER_PHASE]  # booked a moment ago in this phase
                    again = await asyncio.gather(
                        *(book(s, 10_000 + phase * 10 + i) for i, s in enumerate(taken))
                    )
                    durations.append(time.monotonic() - began)
                    answers += booked
                    assert [a.status_code for a in again] == [409] * REBOOKS_PER_PHASE, [
                        a.text for a in again
                    ]
                    assert durations[-1] < PHASE_BUDGET, (
                        f"phase {phase} took {durations[-1]:.2f}s; the token lives {TOKEN_TTL}s"
                    )
                    assert await _refresh_outcomes(zoom) == ({"ok": phase} if phase else {}), (
                        f"after phase {phase}"
                    )

                listed = await browser.get("/api/v1/bookings")
                hosted = (await zoom.get(f"/_control/users/{ZOOM_EMAIL}/meetings")).json()
                refreshes = await _refresh_outcomes(zoom)
            finally:
                for client in clients:
                    await client.aclose()

    print("phase durations:", ", ".join(f"{d:.2f}s" for d in durations))
    failed = [(a.status_code, a.text) for a in answers if a.status_code != 201]
    assert not failed, failed[:5]
    bodies: list[dict[str, Any]] = [a.json() for a in answers]
    assert [b["meeting"]["status"] for b in bodies] == ["created"] * len(slots)
    assert {b["meeting"]["provider"] for b in bodies} == {"specialist_zoom"}
    assert refreshes == {"ok": PHASES - 1}
    assert len({b["slot_id"] for b in bodies}) == len(slots)
    booked_refs = {b["reference"] for b in bodies}
    assert len(booked_refs) == len(slots)

    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert len(rows) == len(slots)
    assert len({row["slot_id"] for row in rows}) == len(slots)
    assert {row["reference"] for row in rows} == booked_refs

    meetings = hosted["meetings"]
    assert len(meetings) == len(slots)
    meeting_refs = [m for mt in meetings for m in REFERENCE.findall(mt.get("agenda", ""))]
    assert len(meeting_refs) == len(slots)
    assert set(meeting_refs) == booked_refs


def test_sigterm_lets_a_request_in_flight_finish_and_stops_cleanly(tmp_path: Path) -> None:
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
        VAR_DIR=str(tmp_path / "var"),
        MEETING_FALLBACK="none",
        PYTHONPATH=str(ROOT),
    )
    migrated = subprocess.run(
        [str(BIN / "specialistly"), "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "serve.log"
    with _serve(env, log) as (server, base):
        sandbox = base + "/zoom-sandbox"
        with http_client(base_url=base, timeout=30) as browser, http_client(timeout=30) as zoom:
            body = {
                "name": "Sig",
                "email": "sig@example.com",
                "password": "long enough",
                "timezone": "UTC",
            }
            assert browser.post("/api/v1/specialists", json=body).status_code == 201
            authorize = browser.get("/api/v1/zoom/connect").headers["location"]
            assert authorize.startswith(sandbox + "/oauth/authorize?")
            consent = zoom.post(
                authorize, data={"email": "sig@zoom.example.com", "action": "approve"}
            )
            assert consent.status_code == 302, consent.text
            landed = browser.get(consent.headers["location"])
            assert landed.headers["location"] == "/dashboard?zoom=connected"
            start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
            slot = browser.post(
                "/api/v1/slots", json={"start_time": start.isoformat(), "duration_minutes": 30}
            )
            assert slot.status_code == 201, slot.text
            faults = zoom.put(sandbox + "/_control/faults", json={"api": {"latency_ms": 1500}})
            assert faults.status_code == 200, faults.text

        outcome: dict[str, Any] = {}

        def book() -> None:
            body = {
                "slot_id": slot.json()["id"],
                "customer_name": "Late Customer",
                "customer_email": "late@example.com",
            }
            try:
                outcome["answer"] = http_request(
                    "POST", base + "/api/v1/bookings", json=body, timeout=30
                )
            except httpx.HTTPError as error:
                outcome["error"] = error
            outcome["at"] = time.monotonic()

        booking = threading.Thread(target=book)
        booking.start()
        time.sleep(0.4)
        assert server.poll() is None
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        booking.join(timeout=30)
        try:
            code = server.wait(timeout=25)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within 25 s of SIGTERM:\n{_tail(log)}")

    assert not booking.is_alive()
    assert "error" not in outcome, f"{outcome.get('error')!r}\n{_tail(log)}"
    answer = outcome["answer"]
    assert outcome["at"] > signalled  # the answer came after the signal: it was in flight
    assert answer.status_code == 201, answer.text
    assert answer.json()["meeting"]["status"] == "created", _tail(log)
    assert answer.json()["meeting"]["join_url"]
    assert code == 0, _tail(log)
    text = log.read_text(errors="replace")
    assert not [line for line in text.splitlines() if "Traceback" in line], text


@pytest.mark.postgres
async def test_thirty_overlapping_bookings_across_three_processes_confirm_one(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two event types, three overlapping starts, 30 customers spread over 3 processes."""
    await upgrade_async(postgres_url)
    env = _env_for(live_settings(postgres_url, tmp_path), MEETING_FALLBACK="none")
    with _sandbox_and_servers(env, tmp_path) as (zoom_base, bases):
        clients = [async_http_client(base_url=b, timeout=30) for b in bases]
        async with (
            async_http_client(base_url=bases[0], timeout=30) as browser,
            async_http_client(base_url=zoom_base, timeout=30) as zoom,
        ):
            try:
                await _sign_up(browser, "overlap@example.com")
                await _connect(browser, zoom, "overlap@zoom.example.com")
                weekly = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)]
                hours = {"weekly": weekly, "overrides": []}
                assert (await browser.put("/api/v1/availability", json=hours)).status_code == 200
                kinds = []
                for name, minutes in (("Intro", 30), ("Deep dive", 60)):
                    made = await browser.post(
                        "/api/v1/event-types", json={"name": name, "duration_minutes": minutes}
                    )
                    assert made.status_code == 201, made.text
                    kinds.append(int(made.json()["id"]))
                day = (datetime.now(UTC) + timedelta(days=2)).date()
                at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
                starts = [(kinds[0], at), (kinds[1], at + timedelta(minutes=15))]

                async def book(n: int) -> httpx.Response:
                    kind, start = starts[n % 2]
                    body = {
                        "event_type_id": kind,
                        "start_time": start.isoformat(),
                        "customer_name": f"Customer {n}",
                        "customer_email": f"c{n}@example.com",
                    }
                    return await clients[n % 3].post("/api/v1/bookings", json=body)

                answers = await asyncio.gather(*(book(n) for n in range(30)))
            finally:
                for client in clients:
                    await client.aclose()
    codes = [a.status_code for a in answers]
    assert codes.count(201) == 1, [a.text for a in answers if a.status_code != 409]
    assert codes.count(409) == 29
