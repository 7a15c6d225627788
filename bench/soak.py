"""Soak: bookings, cancellations, token expiries, reconnects and Zoom faults for a while.

At the end: every confirmed booking has exactly one live meeting, or is pending with its
specialist notified; no orphan meeting; no needs_reconnect without a dead grant; the server's
memory flat after warm-up (RSS sampled every 10 s).

Run from the repository root: .venv/bin/python bench/soak.py [--seconds 600]
"""

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import IDLE_LIMITS, Served, connect, invariants, sign_up_and_connect, wait_settled

SPECIALISTS = 5
FAULTS = {
    "token": {"error_rate": 0.1, "status": 503, "latency_ms": 20},
    "api": {"error_rate": 0.1, "status": 500, "latency_ms": 30, "lose_response_rate": 0.05},
    "rate_limit_per_second": 40,
}


def told_to_reconnect(served: Served, emails: list[str]) -> list[int]:
    """Specialists whose Zoom needs reconnecting (they were told by email and in the app)."""
    with served.db() as conn:
        rows = conn.execute(
            "SELECT zoom_email FROM zoom_connections WHERE status='needs_reconnect'"
        ).fetchall()
    return [emails.index(email) for (email,) in rows if email in emails]


def main(seconds: float) -> int:
    rng = random.Random(2026)
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    # Hundreds of bookings a day per specialist would hit Zoom's 100 creates a day per user:
    # the soak is about faults and expiries, so that limit is off (tests cover it).
    served = Served(
        folder,
        {"KEEPALIVE_INTERVAL_SECONDS": "30", "ZOOM_SANDBOX_MEETINGS_PER_USER_PER_DAY": "0"},
    )
    served.start()
    emails = [f"soak{i}@zoom.example.com" for i in range(SPECIALISTS)]
    browsers = [sign_up_and_connect(served, f"Soak{i}", e) for i, e in enumerate(emails)]
    customer = httpx.Client(base_url=served.base, timeout=60, limits=IDLE_LIMITS)
    counts = {
        "booked": 0,
        "taken": 0,
        "cancelled": 0,
        "clock_moves": 0,
        "invalidations": 0,
        "reconnects": 0,
        "fault_periods": 0,
        "errors_5xx": 0,
    }
    bookings: list[dict[str, object]] = []
    rss: list[tuple[float, int]] = []
    dead: dict[int, float] = {}
    hour = 0
    started = last_sample = last_check = time.monotonic()

    def book_one(slot: int) -> int:
        answer = customer.post(
            "/api/v1/bookings",
            json={
                "slot_id": slot,
                "customer_name": "Soak Customer",
                "customer_email": "soak.customer@example.com",
            },
        )
        if answer.status_code == 201:
            bookings.append(answer.json())
        return answer.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        while time.monotonic() - started < seconds:
            now = time.monotonic()
            if now - last_sample >= 10:
                rss.append((round(now - started), served.rss_kib()))
                last_sample = now
            who = rng.randrange(SPECIALISTS)
            roll = rng.random()
            if roll < 0.55:
                slots = []
                for _ in range(6):
                    hour += 1
                    start = datetime.now(UTC) + timedelta(days=30, hours=hour)
                    made = browsers[who].post(
                        "/api/v1/slots",
                        json={
                            "start_time": start.replace(
                                minute=0, second=0, microsecond=0
                            ).isoformat(),
                            "duration_minutes": 30,
                        },
                    )
                    if made.status_code == 201:
                        slots.append(made.json()["id"])
                targets = slots + slots[:2]  # two of them twice: a 409 each
                for status in pool.map(book_one, targets):
                    counts["booked"] += status == 201
                    counts["taken"] += status == 409
                    counts["errors_5xx"] += status >= 500
            elif roll < 0.70 and bookings:
                victim = bookings.pop(rng.randrange(len(bookings)))
                answer = customer.post(
                    f"/api/v1/bookings/{victim['id']}/cancel",
                    params={"token": victim["manage_token"]},
                )
                counts["cancelled"] += answer.status_code == 200
                counts["errors_5xx"] += answer.status_code >= 500
            elif roll < 0.82:
                served.control("POST", "/clock", json={"advance_seconds": rng.randint(600, 2400)})
                counts["clock_moves"] += 1
            elif roll < 0.90:
                served.control("PUT", "/faults", json={**FAULTS, "seed": rng.randrange(10**6)})
                counts["fault_periods"] += 1
                time.sleep(rng.uniform(1, 4))
                served.control("DELETE", "/faults")
            elif roll < 0.95 and who not in dead:
                served.control("POST", f"/users/{emails[who]}/invalidate")
                dead[who] = now
                counts["invalidations"] += 1
            for revived in [w for w, since in dead.items() if now - since > 20]:
                counts["reconnects"] += connect(served, browsers[revived], emails[revived])
                del dead[revived]
            if now - last_check > 15:  # specialists answer their reconnect emails
                for told in told_to_reconnect(served, emails):
                    counts["reconnects"] += connect(served, browsers[told], emails[told])
                    dead.pop(told, None)
                last_check = now
        # Settle: Zoom behaves, everyone reconnects, the jobs finish their work.
        served.control("DELETE", "/faults")
        for revived in set(dead) | set(told_to_reconnect(served, emails)):
            counts["reconnects"] += connect(served, browsers[revived], emails[revived])
        settle_started = time.monotonic()
        waiting = wait_settled(served, tries=120)
        settle_seconds = round(time.monotonic() - settle_started, 1)
    rss.append((round(time.monotonic() - started), served.rss_kib()))
    result = invariants(served, emails)
    served.kill()
    warm = [kib for t, kib in rss if t >= min(120, seconds / 3)]
    growth = (warm[-1] - warm[0]) / warm[0] * 100 if len(warm) >= 2 else 0.0
    report = {
        "seconds": seconds,
        **counts,
        "settle_seconds": settle_seconds,
        "pending_left": waiting,
        **result,
        "rss_kib_curve": rss,
        "rss_growth_after_warmup_percent": round(growth, 1),
        "tracebacks_in_log": (folder / "serve.log").read_text().count("Traceback"),
    }
    print(json.dumps(report, indent=1))
    ok = result["ok"] and counts["errors_5xx"] == 0 and report["tracebacks_in_log"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    sys.exit(main(parser.parse_args().seconds))
