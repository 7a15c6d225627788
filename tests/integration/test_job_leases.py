"""Job leases: a periodic job runs in one process at a time, and a dead holder is replaced."""

import asyncio
import sqlite3
import subprocess
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from specialistly import leases
from specialistly.context import AppContext
from specialistly.jobs import JOBS, Job, Scheduler
from tests.harness import Harness, harness
from tests.servers import BIN, clean_env


def _scheduler(ctx: AppContext, owner: str) -> Scheduler:
    scheduler = Scheduler(ctx)
    scheduler.owner = owner
    return scheduler


async def _holder(ctx: AppContext, name: str) -> str | None:
    return await ctx.db.write(partial(leases.holder, name=name, now=leases.wall_clock()))


async def _two_processes_share_one_run(ctx: AppContext) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    def slow(who: str) -> Job:
        async def run(_: AppContext) -> dict[str, int]:
            runs.append(who)
            started.set()
            await release.wait()
            return {"done": 1}

        return Job(run, lambda _: 3600.0)

    one, two = _scheduler(ctx, "one"), _scheduler(ctx, "two")
    first = asyncio.create_task(one.turn("probe", slow("one")))
    await started.wait()
    assert await _holder(ctx, "probe") == "one"
    assert await two.turn("probe", slow("two")) == (False, None)  # held by one
    assert await two.turn("probe", slow("two"), due_only=False) == (False, None)
    release.set()
    assert await first == (True, {"done": 1})
    assert await _holder(ctx, "probe") is None
    # Done: not due again for an hour, for any process; an operator's run-once still runs it.
    assert await two.turn("probe", slow("two")) == (False, None)
    assert await two.turn("probe", slow("two"), due_only=False) == (True, {"done": 1})
    assert runs == ["one", "two"]


async def test_a_job_runs_in_one_process_at_a_time_on_sqlite(h: Harness) -> None:
    await _two_processes_share_one_run(h.ctx)


@pytest.mark.postgres
async def test_a_job_runs_in_one_process_at_a_time_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as pg:
        await _two_processes_share_one_run(pg.ctx)


async def test_a_holder_that_stops_renewing_loses_the_job_after_the_lease(h: Harness) -> None:
    lease = timedelta(seconds=1)
    claim = partial(leases.claim, name="probe", lease_for=lease, now=leases.wall_clock())
    assert await h.ctx.db.write(partial(claim, owner="dead"))  # then it is killed
    assert not await h.ctx.db.write(partial(claim, owner="alive"))
    await asyncio.sleep(1.2)
    later = partial(leases.claim, name="probe", lease_for=lease, now=leases.wall_clock())
    assert await h.ctx.db.write(partial(later, owner="alive"))
    assert await _holder(h.ctx, "probe") == "alive"
    # The dead holder, back from a long stall, finds it is no longer its lease.
    renew = partial(leases.renew, name="probe", owner="dead", lease_for=lease)
    assert not await h.ctx.db.write(partial(renew, now=leases.wall_clock()))


async def test_a_long_run_keeps_its_lease_by_renewing_it(h: Harness) -> None:
    holder, other = _scheduler(h.ctx, "holder"), _scheduler(h.ctx, "other")
    holder.lease_for = other.lease_for = timedelta(seconds=0.6)
    steals: list[bool] = []

    async def long_run(_: AppContext) -> None:
        for _ in range(4):  # 2 s: more than three leases long
            await asyncio.sleep(0.5)
            ran, _ = await other.turn("long", Job(long_run, lambda _: 60.0), due_only=False)
            steals.append(ran)

    assert (await holder.turn("long", Job(long_run, lambda _: 60.0)))[0]
    assert steals == [False] * 4


async def test_every_job_has_a_lease_name_and_housekeeping_is_one_of_them() -> None:
    assert {"keepalive", "meetings", "reminders", "outbox", "housekeeping"} <= set(JOBS)


def _cli(tmp_path: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    env = clean_env(VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/j.db")
    return subprocess.run(
        [str(BIN / "specialistly"), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_once_waits_its_turn_and_housekeeping_reports_per_table(tmp_path: Path) -> None:
    assert _cli(tmp_path, "db", "upgrade").returncode == 0
    done = _cli(tmp_path, "jobs", "run-once", "housekeeping")
    assert done.returncode == 0, done.stderr
    assert "sign_in_sessions=0" in done.stdout
    assert "outbox_emails=0" in done.stdout
    with sqlite3.connect(tmp_path / "j.db") as db:  # another process is running it right now
        until = (leases.wall_clock() + timedelta(minutes=1)).replace(tzinfo=None).isoformat(" ")
        db.execute(
            "UPDATE job_leases SET owner = 'elsewhere:1:x', lease_until = ? "
            "WHERE name = 'housekeeping'",
            (until,),
        )
    held = _cli(tmp_path, "jobs", "run-once", "housekeeping")
    assert held.returncode == 1
    assert "running in another process" in held.stderr


def test_a_worker_refuses_sandbox_mode_with_a_reason(tmp_path: Path) -> None:
    refused = _cli(tmp_path, "worker")
    assert refused.returncode == 2
    assert "live mode" in refused.stderr
