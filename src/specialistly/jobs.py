"""Background jobs: run on intervals by `specialistly serve` or `specialistly worker`, one
process at a time across the cluster, or once on demand."""

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from specialistly import leases, observability
from specialistly.bookings.jobs import run_meetings
from specialistly.bookings.reminders import Reminders
from specialistly.config import Settings
from specialistly.connections.jobs import run_keepalive
from specialistly.context import AppContext
from specialistly.housekeeping import run_housekeeping
from specialistly.notifications.outbox import deliver_outbox

log = logging.getLogger(__name__)


async def keepalive(ctx: AppContext) -> Any:
    settings = ctx.settings
    return await run_keepalive(
        ctx.connections,
        ctx.db,
        ctx.clock,
        older_than=timedelta(days=settings.keepalive_refresh_after_days),
        concurrency=settings.keepalive_concurrency,
        per_second=settings.keepalive_max_per_second,
        stopping=ctx.stopping,
    )


async def meetings(ctx: AppContext) -> Any:
    return await run_meetings(ctx.meetings, ctx.db, ctx.clock, ctx.mover)


async def reminders(ctx: AppContext) -> Any:
    return await Reminders(
        db=ctx.db, notifier=ctx.notifier, clock=ctx.clock, cipher=ctx.cipher
    ).run()


async def outbox(ctx: AppContext) -> Any:
    return await deliver_outbox(ctx.db, ctx.email, ctx.clock, ctx.cipher, stopping=ctx.stopping)


async def housekeeping(ctx: AppContext) -> Any:
    return (await run_housekeeping(ctx.db, ctx.clock)).purged


@dataclass(frozen=True)
class Job:
    run: Callable[[AppContext], Awaitable[Any]]
    every: Callable[[AppContext], float]


JOBS: dict[str, Job] = {
    "keepalive": Job(keepalive, lambda ctx: ctx.settings.keepalive_interval_seconds),
    "meetings": Job(meetings, lambda ctx: ctx.settings.meetings_job_interval_seconds),
    "reminders": Job(reminders, lambda ctx: ctx.settings.reminders_job_interval_seconds),
    "outbox": Job(outbox, lambda ctx: 5.0),
    "housekeeping": Job(housekeeping, lambda ctx: ctx.settings.housekeeping_interval_seconds),
}


def describe(result: Any) -> dict[str, Any]:
    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    return dict(result) if isinstance(result, dict) else {"result": result}


async def run_once(ctx: AppContext, name: str) -> dict[str, Any]:
    with observability.job_run(name):
        return describe(await JOBS[name].run(ctx))


class Scheduler:
    """Run every job on its interval until stopped; a failing run is logged, never fatal.

    Across processes sharing one database each job runs in one process at a time: a run
    starts only with the job's lease (`leases`), renewed while it runs, and its end sets
    the job's next due time for the whole cluster (the interval with ±10 % jitter, so
    processes started together drift apart). Stopping lets a run in progress finish (a
    refresh is never cut between Zoom's answer and its commit), waiting up to `grace`
    seconds before cancelling.
    """

    def __init__(self, ctx: AppContext, *, grace: float = 20.0) -> None:
        self.ctx, self.grace = ctx, grace
        self.lease_for = timedelta(seconds=ctx.settings.job_lease_seconds)
        self.owner = leases.process_name()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def start(self) -> None:
        for name, job in JOBS.items():
            self._tasks.append(asyncio.create_task(self._loop(name, job), name=f"job:{name}"))

    async def _loop(self, name: str, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                await self.turn(name, job)
            except Exception as exc:
                log.error(
                    "Job %s failed (%s); it runs again in %.0f s",
                    name,
                    type(exc).__name__,
                    job.every(self.ctx),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll(job))

    def _poll(self, job: Job) -> float:
        """How long to wait before looking again whether the job is due and free."""
        base = min(job.every(self.ctx), self.lease_for.total_seconds() / 3)
        return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter

    async def turn(self, name: str, job: Job, *, due_only: bool = True) -> tuple[bool, Any]:
        """Run the job once if this process gets its lease; answer whether it ran, and what
        it did. `due_only=False` runs it now even if not due (never while another holds it)."""
        db = self.ctx.db
        claim = partial(
            leases.claim,
            name=name,
            owner=self.owner,
            lease_for=self.lease_for,
            now=leases.wall_clock(),
            due_only=due_only,
        )
        if not await db.write(claim):
            return False, None
        keeper = asyncio.create_task(self._keep(name), name=f"lease:{name}")
        try:
            with observability.job_run(name):
                result = await job.run(self.ctx)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            done = leases.wall_clock()
            every = timedelta(seconds=job.every(self.ctx) * random.uniform(0.9, 1.1))  # noqa: S311
            await db.write(
                partial(
                    leases.finish, name=name, owner=self.owner, next_run_at=done + every, now=done
                )
            )
        return True, result

    async def _keep(self, name: str) -> None:
        """Renew the lease while the job runs, well before it runs out."""
        while True:
            await asyncio.sleep(self.lease_for.total_seconds() / 3)
            renew = partial(
                leases.renew,
                name=name,
                owner=self.owner,
                lease_for=self.lease_for,
                now=leases.wall_clock(),
            )
            if not await self.ctx.db.write(renew):
                log.warning("Job %s: this process lost its lease (it stalled too long)", name)
                return

    async def stop(self) -> None:
        self._stopping.set()
        self.ctx.stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=self.grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()


async def work(settings: Settings) -> None:
    """`specialistly worker`: the jobs until SIGTERM or SIGINT, then a graceful stop."""
    from specialistly.context import build_context

    ctx = build_context(settings)
    scheduler = Scheduler(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    log.info("Worker %s running jobs: %s", scheduler.owner, ", ".join(JOBS))
    try:
        await stop.wait()
    finally:
        log.info("Worker stopping: letting runs in progress finish")
        await scheduler.stop()
        await ctx.close()
