"""A booking's CPU in process, this checkout against another, side by side.

Each measurement is a fresh process: the test harness's app on SQLite (or, with
`--postgres`, a fresh PostgreSQL database) with the sandbox in process (no HTTP server, no
load generator beside it, no outbox job), 20 connected specialists, 100 bookings to warm up,
then `--bookings` bookings from 20 clients at once; it reports the process's CPU seconds
(every thread's: the SQLite writer's, and the sandbox's meeting creates) per booking. Runs
alternate between the two code versions, in the order ABBA, so a noisy machine weighs on
both alike; medians and minimums compare them.
bench/bookings.py measures the whole server; this measures the booking path alone, steadily
enough to see a change of a few per cent. The harness (`tests/harness.py`) is always this
checkout's: `--against` needs code whose app and sandbox it can still build.

`--instructions` counts instead the instructions the process runs for the timed bookings
(valgrind's callgrind, counting switched on for them alone): the same count from run to run
whatever else the machine does, so a change of 1 % shows, and pairs run two at a time. A
count is not a time (a cache miss costs more than an add), but on this path it follows it.

Run from the repository root, with the code before in a worktree:
    git worktree add /tmp/before <rev>
    .venv/bin/python bench/booking_cpu.py --against /tmp/before/src [--pairs 8] [--bookings 600]
    .venv/bin/python bench/booking_cpu.py --instructions --against /tmp/before/src --pairs 2
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPECIALISTS = 20
CLIENTS = 20
WARM_UP = 100
POSTGRES = "BOOKING_CPU_POSTGRES"  # set by --postgres: the children's database server
GATE = "BOOKING_CPU_GATE"  # set under --instructions: the child waits for counting to switch


async def measure(bookings: int) -> tuple[float, float]:
    """CPU ms per booking in this process, and per email the outbox delivered."""
    sys.path.insert(0, str(ROOT))
    from tests.harness import harness

    from specialistly.logs import configure_logging

    configure_logging()  # the log lines, as serve writes them (to /dev/null here)
    with tempfile.TemporaryDirectory(prefix="booking-cpu-") as name:
        admin = os.environ.get(POSTGRES)
        if not admin:
            return await _measure(bookings, Path(name), harness, f"sqlite:///{name}/app.db")
        async with _fresh_database(admin) as url:
            return await _measure(bookings, Path(name), harness, url)


@contextlib.asynccontextmanager
async def _fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database beside the one `admin_url` names, dropped after."""
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    name = f"booking_cpu_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(
    bookings: int, folder: Path, harness: Any, database_url: str
) -> tuple[float, float]:
    from specialistly.notifications.outbox import deliver_outbox

    async with harness(
        database_url,
        folder,
        sandbox_changes={"meetings_per_user_per_day": 0},
    ) as h:
        browsers = [(await h.connected(f"cpu{i}@zoom.example.com"))[0] for i in range(SPECIALISTS)]
        slots = [
            await h.add_slot(browser)
            for _ in range(-(-(bookings + WARM_UP) // SPECIALISTS))
            for browser in browsers
        ]
        client = h.client()
        turns = asyncio.Semaphore(CLIENTS)

        async def book(slot: int) -> None:
            async with turns:
                answer = await client.post(
                    "/api/v1/bookings",
                    json={"slot_id": slot, "customer_name": "C", "customer_email": "c@example.com"},
                )
            if answer.status_code != 201:
                raise SystemExit(f"booking refused: {answer.status_code} {answer.text[:200]}")

        await asyncio.gather(*(book(s) for s in slots[:WARM_UP]))
        await _gate("ready")
        started = time.process_time()
        await asyncio.gather(*(book(s) for s in slots[WARM_UP : WARM_UP + bookings]))
        booking = 1000 * (time.process_time() - started) / bookings
        await _gate("done")
        started = time.process_time()
        ctx = h.ctx
        sent = (await deliver_outbox(ctx.db, ctx.email, ctx.clock, ctx.cipher)).sent
        if sent < 2 * bookings:
            raise SystemExit(f"the outbox sent {sent} emails for {bookings} bookings")
        return booking, 1000 * (time.process_time() - started) / sent


async def _gate(step: str) -> None:
    """Under `--instructions`: say where the run is, and wait until counting is switched."""
    if not os.environ.get(GATE):
        return
    print(step, flush=True)
    await asyncio.to_thread(sys.stdin.readline)


def count(src: Path, bookings: int) -> float:
    """Millions of instructions a booking (every thread's), the timed bookings alone."""
    with tempfile.TemporaryDirectory(prefix="booking-instructions-") as name:
        out = Path(name) / "callgrind.out"
        child = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                "--bookings",
                str(bookings),
            ],
            env={**os.environ, "PYTHONPATH": str(src), GATE: "1"},
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        for step, switch in (("ready", "on"), ("done", "off")):
            line = child.stdout.readline().strip()
            if line != step:
                child.kill()
                raise SystemExit(f"the run with {src} said {line!r}, not {step!r}")
            subprocess.run(
                ["callgrind_control", "--instr=" + switch, str(child.pid)],
                check=True,
                capture_output=True,
            )
            child.stdin.write("go\n")
            child.stdin.flush()
        child.stdout.read()
        if child.wait() != 0:
            raise SystemExit(f"the run with {src} failed under valgrind")
        totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
        return int(totals[0].split()[1]) / bookings / 1e6


def instructions(versions: dict[str, Path], pairs: int, bookings: int) -> None:
    samples: dict[str, list[float]] = {name: [] for name in versions}
    for pair in range(1, pairs + 1):
        with ThreadPoolExecutor(len(versions)) as pool:  # counts do not mind each other
            found = pool.map(lambda src: count(src, bookings), versions.values())
            counted = dict(zip(versions, found, strict=True))
        for name, value in counted.items():
            samples[name].append(value)
        row = ", ".join(f"{name} {value:.3f}" for name, value in counted.items())
        print(f"pair {pair}: {row} M instructions a booking", flush=True)
    for name, values in samples.items():
        print(
            f"{name}: median {statistics.median(values):.3f}, min {min(values):.3f}, "
            f"max {max(values):.3f} M instructions a booking over {len(values)} runs "
            f"of {bookings} bookings"
        )
    if "against" in samples:
        ratio = statistics.median(samples["this checkout"]) / statistics.median(samples["against"])
        print(f"this checkout ÷ against, instructions a booking: median {ratio:.3f}")


def run(src: Path, bookings: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--bookings", str(bookings)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the run with {src} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    booking, email = out.stdout.split()
    return float(booking), float(email)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", type=Path, help="the other version's src folder")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind (callgrind) instead of timing the CPU",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="book on PostgreSQL: a fresh database per run beside the one URL names "
        "(e.g. postgresql://postgres@127.0.0.1:5432/test) instead of a SQLite file",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.postgres:
        os.environ[POSTGRES] = args.postgres  # the children's
    if args.child:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            print("{:.4f} {:.4f}".format(*asyncio.run(measure(args.bookings))))
        return 0
    versions = {"this checkout": ROOT / "src"}
    if args.against:
        versions["against"] = args.against.resolve()
    if args.instructions:
        instructions(versions, args.pairs, args.bookings)
        return 0
    parts = ("a booking", "an email")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
    order = list(versions.items())
    for pair in range(1, args.pairs + 1):
        row = []
        for name, src in order if pair % 2 else order[::-1]:  # ABBA: neither always first
            samples[name].append(run(src, args.bookings))
            booking, email = samples[name][-1]
            row.append(f"{name} {booking:.3f} / {email:.3f}")
        print(f"pair {pair}: " + ", ".join(row) + " ms CPU a booking / an email", flush=True)
    for part, what in enumerate(parts):
        for name, values in samples.items():
            mine = [value[part] for value in values]
            print(
                f"{name}: median {statistics.median(mine):.3f}, min {min(mine):.3f} ms "
                f"CPU {what} over {len(mine)} runs of {args.bookings} bookings"
            )
        if args.against:
            mine = [value[part] for value in samples["this checkout"]]
            theirs = [value[part] for value in samples["against"]]
            median = statistics.median(mine) / statistics.median(theirs)
            print(
                f"this checkout ÷ against, {what}: median {median:.3f}, "
                f"min {min(mine) / min(theirs):.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
