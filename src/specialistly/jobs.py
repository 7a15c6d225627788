"""Background jobs: run on intervals inside `specialistly serve`, or once on demand."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import timedelta
from typing import Any

from specialistly import observability
from specialistly.bookings.jobs import run_meetings
from specialistly.bookings.reminders import Reminders
from specialistly.connections.jobs import run_keepalive
from specialistly.context import AppContext
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
    )


async def meetings(ctx: AppContext) -> Any:
    return await run_meetings(ctx.meetings, ctx.db, ctx.clock, ctx.mover)


async def reminders(ctx: AppContext) -> Any:
    return await Reminders(
        db=ctx.db, notifier=ctx.notifier, clock=ctx.clock, cipher=ctx.cipher
    ).run()


async def outbox(ctx: AppContext) -> Any:
    return await deliver_outbox(ctx.db, ctx.email, ctx.clock, ctx.cipher)


@dataclass(frozen=True)
class Job:
    run: Callable[[AppContext], Awaitable[Any]]
    every: Callable[[AppContext], float]


JOBS: dict[str, Job] = {
    "keepalive": Job(keepalive, lambda ctx: ctx.settings.keepalive_interval_seconds),
    "meetings": Job(meetings, lambda ctx: ctx.settings.meetings_job_interval_seconds),
    "reminders": Job(reminders, lambda ctx: ctx.settings.reminders_job_interval_seconds),
    "outbox": Job(outbox, lambda ctx: 5.0),
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

    Stopping lets a run in progress finish (a refresh is never cut between Zoom's answer
    and its commit), waiting up to `grace` seconds before cancelling.
    """

    def __init__(self, ctx: AppContext, *, grace: float = 20.0) -> None:
        self.ctx, self.grace = ctx, grace
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def start(self) -> None:
        for name, job in JOBS.items():
            self._tasks.append(asyncio.create_task(self._loop(name, job), name=f"job:{name}"))

    async def _loop(self, name: str, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                with observability.job_run(name):
                    await job.run(self.ctx)
            except Exception as exc:
                log.error(
                    "Job %s failed (%s); it runs again in %.0f s",
                    name,
                    type(exc).__name__,
                    job.every(self.ctx),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=job.every(self.ctx))

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=self.grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
