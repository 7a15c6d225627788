"""Keep-alive: idle connections stay alive for months; a sweep pauses on Zoom's 429."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from specialistly.connections.errors import ZoomReauthorizationRequired
from specialistly.jobs import run_once
from tests.harness import Harness

DAY = 86_400


async def test_with_the_job_an_idle_specialist_stays_connected_for_200_days(h: Harness) -> None:
    _, specialist = await h.connected("idle@example.com")
    for _ in range(20):
        await h.advance(10 * DAY)
        await run_once(h.ctx, "keepalive")
        assert await h.status(specialist) == "connected"
    # 200 days later the specialist's Zoom still works without any prompt.
    await h.ctx.connections.get_valid_token(specialist)
    assert await h.notifications(specialist) == 0
    outcomes = (await h.stats())["token_requests"]["refresh_token"]
    assert set(outcomes) == {"ok"}  # never a dead refresh token
    assert 6 <= outcomes["ok"] <= 8  # about one refresh a month, not one a request


async def test_without_the_job_the_grant_dies_at_90_days(h: Harness) -> None:
    _, specialist = await h.connected("forgotten@example.com")
    for _ in range(9):
        await h.advance(10 * DAY)
    await h.advance(1)
    with pytest.raises(ZoomReauthorizationRequired):
        await h.ctx.connections.get_valid_token(specialist)
    assert await h.status(specialist) == "needs_reconnect"
    assert await h.notifications(specialist) == 1


async def test_the_job_leaves_recently_refreshed_connections_alone(h: Harness) -> None:
    await h.connected()
    await h.advance(29 * DAY)
    report = await run_once(h.ctx, "keepalive")
    assert report["due"] == 0
    assert await h.refreshes() == 0


async def test_the_sweep_stops_and_waits_on_a_429_retry_after(h: Harness) -> None:
    specialists = [(await h.connected())[1] for _ in range(6)]
    await h.advance(31 * DAY)
    fault = {"error_rate": 1, "status": 429, "retry_after_seconds": 1, "count": 1}
    await h.control("PUT", "/faults", json={"token": fault})
    started = asyncio.get_running_loop().time()
    report = await run_once(h.ctx, "keepalive")
    assert asyncio.get_running_loop().time() - started >= 1.0
    assert report["rate_limited"] == 1
    assert report["refreshed"] == len(specialists)
    assert report["needs_reconnect"] == 0
    stats = await h.stats()
    assert stats["token_requests"]["refresh_token"] == {"http_429": 1, "ok": 6}


async def test_a_dead_grant_found_by_the_sweep_is_told_once(h: Harness) -> None:
    _, specialist = await h.connected("swept@example.com")
    await h.control("POST", "/users/swept@example.com/invalidate")
    await h.advance(31 * DAY)
    first = await run_once(h.ctx, "keepalive")
    second = await run_once(h.ctx, "keepalive")
    assert first["needs_reconnect"] == 1
    assert second["due"] == 0
    assert await h.notifications(specialist) == 1


async def test_keepalive_threshold_is_configurable(h: Harness) -> None:
    await h.connected()
    await h.advance(3 * DAY)
    from specialistly.connections.jobs import run_keepalive

    report = await run_keepalive(
        h.ctx.connections, h.ctx.db, h.ctx.clock, older_than=timedelta(days=2), concurrency=2
    )
    assert report.refreshed == 1


async def test_serve_runs_the_keepalive_on_its_interval(tmp_path: Path) -> None:
    from specialistly.jobs import Scheduler
    from tests.harness import harness

    async with harness(
        f"sqlite:///{tmp_path}/k.db", tmp_path, keepalive_interval_seconds=0.05
    ) as h:
        _, specialist = await h.connected()
        await h.advance(31 * DAY)
        scheduler = Scheduler(h.ctx)
        scheduler.start()
        try:
            for _ in range(100):
                if await h.refreshes() == 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            await scheduler.stop()
        assert await h.refreshes() == 1
        assert await h.status(specialist) == "connected"


async def test_the_sweep_paces_itself_under_the_rate_it_is_given(h: Harness) -> None:
    from specialistly.connections.jobs import run_keepalive

    for _ in range(6):
        await h.connected()
    await h.advance(31 * DAY)
    await h.control("PUT", "/faults", json={"rate_limit_per_second": 4})
    started = asyncio.get_running_loop().time()
    report = await run_keepalive(
        h.ctx.connections,
        h.ctx.db,
        h.ctx.clock,
        older_than=timedelta(days=30),
        concurrency=4,
        per_second=3,
    )
    assert asyncio.get_running_loop().time() - started >= 5 / 3 - 0.1  # six starts, 1/3 s apart
    assert report.refreshed == 6
    assert report.rate_limited == 0  # it never met Zoom's limit


async def test_a_stopping_process_starts_no_more_refreshes(h: Harness) -> None:
    for _ in range(3):
        await h.connected()
    await h.advance(31 * DAY)
    h.ctx.stopping.set()  # SIGTERM arrived: the rest of the sweep is left for the next run
    report = await run_once(h.ctx, "keepalive")
    assert (report["due"], report["refreshed"]) == (3, 0)
    h.ctx.stopping.clear()
    assert (await run_once(h.ctx, "keepalive"))["refreshed"] == 3
