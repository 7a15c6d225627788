"""Keep-alive: refresh connections idle for weeks so their refresh tokens never age out."""

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from specialistly import observability as metrics
from specialistly.clock import Clock
from specialistly.connections.errors import ZoomNotConnected, ZoomReauthorizationRequired
from specialistly.connections.flows import Connections
from specialistly.connections.models import ConnectionStatus, ZoomConnection
from specialistly.db import Database
from specialistly.zoom.errors import ZoomRateLimited, ZoomUnavailable
from specialistly.zoom.transport import RetryPolicy

log = logging.getLogger(__name__)
# 429s come back to the sweep at once, so all workers pause together.
SWEEP_RETRY = RetryPolicy(attempts=3, retry_rate_limits=False)
MAX_PAUSE = 300.0
# A connection Zoom rate-limits is tried again after each pause, this many times per sweep.
MAX_TRIES = 10


@dataclass
class KeepaliveReport:
    due: int = 0
    refreshed: int = 0
    skipped: int = 0
    needs_reconnect: int = 0
    failed: int = 0
    rate_limited: int = 0
    paused_seconds: float = 0.0


async def run_keepalive(
    connections: Connections,
    db: Database,
    clock: Clock,
    *,
    older_than: timedelta,
    concurrency: int,
    per_second: float | None = None,
    stopping: asyncio.Event | None = None,
) -> KeepaliveReport:
    """Refresh every connected connection not refreshed for `older_than`.

    Several processes may sweep at once: each row is refreshed under its own lock and
    re-checked there, and PostgreSQL rows another process holds are skipped. At most
    `per_second` refreshes start each second, so a sweep stays under Zoom's limits before
    any 429; a 429 pauses the whole sweep all the same. Once `stopping` is set, no further
    refresh starts (those in flight finish).
    """
    cutoff = clock.now() - older_than
    async with db.reading() as session:
        due = list(
            await session.scalars(
                select(ZoomConnection.specialist_id)
                .where(
                    ZoomConnection.status == ConnectionStatus.CONNECTED,
                    or_(
                        ZoomConnection.last_refreshed_at.is_(None),
                        ZoomConnection.last_refreshed_at < cutoff,
                    ),
                )
                .order_by(ZoomConnection.last_refreshed_at)
            )
        )
    report = KeepaliveReport(due=len(due))
    queue = deque((specialist_id, 1) for specialist_id in due)
    resume_at = next_start = 0.0
    spacing = 1 / per_second if per_second else 0.0

    async def worker() -> None:
        nonlocal resume_at, next_start
        while queue and not (stopping and stopping.is_set()):
            if (wait := resume_at - time.monotonic()) > 0:
                await asyncio.sleep(wait)
                continue
            start = max(time.monotonic(), next_start)
            next_start = start + spacing
            if (wait := start - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if not queue or (stopping and stopping.is_set()):
                return
            specialist_id, tries = queue.popleft()
            try:
                done = await connections.keep_alive(
                    specialist_id, older_than=older_than, retry=SWEEP_RETRY
                )
            except ZoomRateLimited as limited:
                pause = min(limited.retry_after or 1.0, MAX_PAUSE)
                resume_at = max(resume_at, time.monotonic() + pause)
                report.rate_limited += 1
                report.paused_seconds += pause
                log.warning("Keep-alive paused %.1f s: Zoom rate limit", pause)
                if tries < MAX_TRIES:
                    queue.appendleft((specialist_id, tries + 1))
                else:
                    report.failed += 1
            except ZoomReauthorizationRequired:
                report.needs_reconnect += 1
            except (ZoomUnavailable, ZoomNotConnected):
                report.failed += 1
            except Exception as exc:  # one bad row must not stop the sweep
                log.error(
                    "Keep-alive of specialist %s failed: %s", specialist_id, type(exc).__name__
                )
                report.failed += 1
            else:
                report.refreshed += done
                report.skipped += not done

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(due))))))
    metrics.KEEPALIVE_RUNS.inc()
    metrics.KEEPALIVE_REFRESHED.inc(report.refreshed)
    log.info(
        "Keep-alive: %d due, %d refreshed, %d skipped, %d need reconnect, %d failed",
        report.due,
        report.refreshed,
        report.skipped,
        report.needs_reconnect,
        report.failed,
    )
    return report
