"""Issue 11's first ratio, bookings ÷ creates, by instruction count in `serve`.

bench/bookings.py measures the ratio as two rates in one run. On a shared machine the two
rates move on their own: in one run the sandbox's creates went 1500/s before the bookings and
1955/s after, and the same code gave 14 to 18 % from one run to the next. When `serve` is
bound by its one core for Python (the GIL), as it is at 50 clients, the ratio is the CPU of a
create over the CPU of a booking, and that this script counts without the noise.

One `serve --no-jobs` on SQLite with the mounted sandbox (bench/bookings.py's first
configuration, its background jobs left out) runs under valgrind's callgrind, counting
nothing at first. Specialists connect, their slots are made, creates and bookings warm up;
then counting is on for each phase alone:
- `--creates` direct meeting creates at the mounted sandbox (a connected user's token);
- `--bookings` bookings through the public API.
Each phase's instructions, every thread's, divided by its count. The jobs are off because
under valgrind the process runs about fifty times slower: the outbox job would send nearly
all the bookings' emails inside the booking phase, where at full speed it sends a part of
them. A booking's emails are counted apart, in process: `bench/booking_cpu.py` times the
outbox's delivery, and bench/bookings.py reports the bookings "with their emails sent".

Run from the repository root (about 5 minutes a version):
    .venv/bin/python bench/serve_instructions.py [--against /tmp/before/src]
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bookings as bench  # bench/bookings.py: the same setup and load

ROOT = bench.ROOT


def _control(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True, capture_output=True)


def _dumped(out: Path, seen: set[Path]) -> int:
    """The instructions in the newest dump (callgrind writes `out`.1, .2, … at each)."""
    fresh = [path for path in out.parent.glob(out.name + ".*") if path not in seen]
    assert len(fresh) == 1, fresh
    seen.add(fresh[0])
    for line in fresh[0].read_text().splitlines():
        if line.startswith(("totals:", "summary:")) and int(line.split()[1]):
            return int(line.split()[1])
    raise RuntimeError(f"no count in {fresh[0]}")


async def _counted(pid: int, out: Path, seen: set[Path], work: Callable[[], Awaitable[Any]]) -> int:
    _control(pid, "--zero")
    _control(pid, "--instr=on")
    await work()
    _control(pid, "--instr=off")
    _control(pid, "--dump")
    return _dumped(out, seen)


async def count(src: Path, args: argparse.Namespace) -> dict[str, float]:
    """Millions of instructions a create and a booking, for `src`."""
    with tempfile.TemporaryDirectory(prefix="serve-instructions-") as name:
        folder = Path(name)
        env = bench.clean_env(
            VAR_DIR=str(folder / "var"),
            MEETING_FALLBACK="none",
            ZOOM_SANDBOX_MEETINGS_PER_USER_PER_DAY="0",
            PYTHONPATH=str(src),
        )
        bench.upgrade(env, folder)
        out = folder / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            str(bench.BIN / "specialistly"),
            "serve",
            "--no-jobs",
        ]
        with bench.serving(command, env, "/readyz", folder / "serve.log") as (process, base):
            target = bench.Target("SQLite under callgrind", [base], base + "/zoom-sandbox", [])
            return await _phases(target, process.pid, out, args)


async def _phases(
    target: bench.Target, pid: int, out: Path, args: argparse.Namespace
) -> dict[str, float]:
    load = argparse.Namespace(concurrency=args.concurrency)
    runner = bench.Bench(target, load)
    try:
        names = [f"cg{i}" for i in range(args.specialists)] + ["direct"]
        everyone = [await bench.sign_up_and_connect(target, n) for n in names]
        bookers, direct = everyone[:-1], everyone[-1]
        per = -(-(args.bookings + args.warm_up) // len(bookers))
        await asyncio.gather(*(bench.add_slots(s, per, 0) for s in bookers))
        create = runner.create_call(await runner.access_token(direct.zoom_email))
        c = args.concurrency
        runner.check("warm-up creates", await bench.run_load(c, range(args.warm_up), create))
        warm = runner.take(bookers, args.warm_up)
        runner.check("warm-up bookings", await bench.run_load(c, warm, runner.book))
        seen: set[Path] = set()
        loads: list[bench.Load] = []

        async def creates() -> None:
            loads.append(await bench.run_load(c, range(args.warm_up, args.creates), create))

        async def bookings() -> None:
            loads.append(await bench.run_load(c, runner.take(bookers, args.bookings), runner.book))

        per_create = await _counted(pid, out, seen, creates)
        per_booking = await _counted(pid, out, seen, bookings)
        for what, done in zip(("creates", "bookings"), loads, strict=True):
            runner.check(what, done)
        if runner.failures:
            raise SystemExit(f"{len(runner.failures)} failed: {runner.failures[0]}")
        made = args.creates - args.warm_up
        return {
            "create": per_create / made / 1e6,
            "booking": per_booking / args.bookings / 1e6,
        }
    finally:
        await runner.http.aclose()
        if runner.load is not None:
            await runner.load.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", type=Path, help="another version's src folder")
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--creates", type=int, default=350, help="warm-up included")
    parser.add_argument("--warm-up", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--specialists", type=int, default=5)
    args = parser.parse_args()
    versions = {"this checkout": ROOT / "src"}
    if args.against:
        versions["against"] = args.against.resolve()
    for name, src in versions.items():
        got = asyncio.run(count(src, args))
        print(
            f"{name}: {got['create']:.3f} M instructions a create, {got['booking']:.3f} a "
            f"booking; bookings ÷ creates {got['create'] / got['booking']:.1%} "
            f"(the throughput ratio when serve is bound by its core)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
