"""Booking latency and throughput: POST /api/v1/bookings, meeting created in the request.

The app runs in-process on SQLite (or DATABASE_URL given as --database) with the Zoom sandbox
in-process; N bookings of N slots, C at a time. Reports p50/p99 latency and bookings/s.
Run from the repository root: .venv/bin/python bench/bookings.py [--bookings 300 --concurrency 10]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import harness


async def main(bookings: int, concurrency: int, database: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = database or f"sqlite:///{folder}/bench.db"
        async with harness(
            url, Path(folder), sandbox_changes={"meetings_per_user_per_day": 0}
        ) as h:
            browser, _ = await h.connected("bench@zoom.example.com")
            slots = [await h.add_slot(browser) for _ in range(bookings)]
            gate = asyncio.Semaphore(concurrency)
            waits: list[float] = []

            async def one(slot: int) -> int:
                async with gate:
                    started = time.perf_counter()
                    answer = await h.book(slot)
                    waits.append(time.perf_counter() - started)
                    assert answer.json()["meeting"]["status"] == "created"
                    return answer.status_code

            started = time.perf_counter()
            codes = await asyncio.gather(*(one(s) for s in slots))
            elapsed = time.perf_counter() - started
    waits.sort()
    print(
        f"{bookings} bookings, {concurrency} at a time, {'PostgreSQL' if database else 'SQLite'}: "
        f"{codes.count(201)} × 201; p50 {statistics.median(waits) * 1000:.0f} ms, "
        f"p99 {waits[int(0.99 * (len(waits) - 1))] * 1000:.0f} ms, "
        f"{bookings / elapsed:.0f} bookings/s (each with its Zoom meeting)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database", default=None, help="e.g. postgresql://postgres@127.0.0.1/x")
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.concurrency, args.database))
