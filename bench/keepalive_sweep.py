"""Keep-alive sweep speed against Zoom's rate limit.

M connections idle for 31 days; the sandbox allows R requests per second on its token
endpoint (429 over it). The sweep must refresh every connection, pausing on 429s, and never
mark one needs_reconnect. Reports the sweep's time, refreshes per second and 429s met.
Run from the repository root:
    .venv/bin/python bench/keepalive_sweep.py [--connections 200 --rate 20]
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import harness

from specialistly.jobs import run_once


async def main(connections: int, rate: float, concurrency: int, pace: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with harness(
            f"sqlite:///{folder}/sweep.db",
            Path(folder),
            keepalive_concurrency=concurrency,
            keepalive_max_per_second=pace,
        ) as h:
            for i in range(connections):
                await h.connected(f"idle{i}@zoom.example.com")
            await h.advance(31 * 86_400)
            await h.control("PUT", "/faults", json={"rate_limit_per_second": rate})
            started = time.perf_counter()
            report = await run_once(h.ctx, "keepalive")
            elapsed = time.perf_counter() - started
            stats = await h.stats()
            dead = await h.raw("SELECT COUNT(*) FROM zoom_connections WHERE status != 'connected'")
    outcomes = stats["token_requests"]["refresh_token"]
    print(
        f"{connections} idle connections, Zoom limit {rate:g}/s, {concurrency} workers, "
        f"pace {pace:g}/s: "
        f"{report['refreshed']} refreshed in {elapsed:.1f} s "
        f"({report['refreshed'] / elapsed:.1f}/s), {outcomes.get('rate_limited', 0)} × 429 met "
        f"(each paused the whole sweep), {dead[0][0]} not connected afterwards"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pace", type=float, default=1000, help="KEEPALIVE_MAX_PER_SECOND")
    args = parser.parse_args()
    asyncio.run(main(args.connections, args.rate, args.concurrency, args.pace))
