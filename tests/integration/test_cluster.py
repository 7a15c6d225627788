"""A cluster on one PostgreSQL database: `serve --no-jobs` for the web, `worker` for the jobs.

Each periodic job runs in one process at a time, so the keep-alive's pace holds for the
whole cluster; a worker killed while it holds a job is replaced within the lease time.
"""

import asyncio
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from specialistly.db import async_url, upgrade_async
from specialistly.deps import SESSION_COOKIE
from specialistly.security import digest
from tests.harness import live_settings
from tests.processes import connect, env_for, live_against, sandbox_and_servers, tail
from tests.servers import BIN, async_http_client

SWEEP = "Keep-alive: "


@contextmanager
def _workers(
    env: dict[str, str], zoom: str, tmp_path: Path, count: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    app_env = live_against(env, zoom)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            log = tmp_path / f"worker-{n}.log"
            with log.open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [str(BIN / "specialistly"), "worker"],
                        env=app_env,
                        cwd=tmp_path,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for n, process in enumerate(started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise AssertionError(
                    f"worker {n} did not stop:\n{tail(tmp_path / f'worker-{n}.log')}"
                ) from None


async def _connected_specialists(url: str, bases: list[str], zoom_base: str, count: int) -> None:
    """`count` specialists, each with Zoom connected through the real OAuth flow.

    The accounts and their sign-in sessions are written directly: signing up 200 people
    would spend the test's time on password hashing, which is not what it is about.
    """
    now = datetime.now(UTC)
    cookies = [secrets.token_urlsafe(24) for _ in range(count)]
    async with _transaction(url) as conn:
        for n, cookie in enumerate(cookies):
            specialist = await conn.scalar(
                text(
                    "INSERT INTO specialists (name, email, password_hash, timezone, bio, "
                    "created_at) VALUES (:name, :email, '!', 'UTC', '', :now) RETURNING id"
                ),
                {"name": f"Idle {n}", "email": f"idle{n}@example.com", "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO sign_in_sessions (token_digest, specialist_id, created_at, "
                    "expires_at) VALUES (:digest, :specialist, :now, :until)"
                ),
                {
                    "digest": digest(cookie),
                    "specialist": specialist,
                    "now": now,
                    "until": now + timedelta(days=1),
                },
            )
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> None:
        async with (
            gate,
            async_http_client(
                base_url=bases[n % len(bases)], timeout=30, cookies={SESSION_COOKIE: cookies[n]}
            ) as browser,
            async_http_client(base_url=zoom_base, timeout=30) as zoom,
        ):
            await connect(browser, zoom, f"idle{n}@zoom.example.com")

    await asyncio.gather(*(one(n) for n in range(count)))


@asynccontextmanager
async def _transaction(url: str) -> AsyncIterator[AsyncConnection]:
    """One transaction on its own engine, disposed of afterwards."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    async with _transaction(url) as conn:
        result = await conn.execute(text(statement), params)
        return [tuple(row) for row in result.all()] if result.returns_rows else []


async def _make_idle(url: str) -> datetime:
    """Every connection last refreshed 31 days ago; answer the moment that was set."""
    now = datetime.now(UTC)
    await _sql(
        url, "UPDATE zoom_connections SET last_refreshed_at = :t", t=now - timedelta(days=31)
    )
    return now


async def _refreshed_since(url: str, since: datetime) -> int:
    [(count,)] = await _sql(
        url, "SELECT COUNT(*) FROM zoom_connections WHERE last_refreshed_at >= :t", t=since
    )
    return int(str(count))


def _sweeps(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if SWEEP in line]


@pytest.mark.postgres
async def test_two_workers_sweep_200_idle_connections_once_under_zooms_rate_limit(
    postgres_url: str, tmp_path: Path
) -> None:
    await upgrade_async(postgres_url)
    env = env_for(
        live_settings(postgres_url, tmp_path),
        MEETING_FALLBACK="none",
        KEEPALIVE_MAX_PER_SECOND="20",
        KEEPALIVE_INTERVAL_SECONDS="3600",
        JOB_LEASE_SECONDS="5",
    )
    with sandbox_and_servers(env, tmp_path, 3, "--no-jobs") as (zoom_base, bases):
        await _connected_specialists(postgres_url, bases, zoom_base, 200)
        since = await _make_idle(postgres_url)
        async with async_http_client(base_url=zoom_base) as zoom:
            limit = {"rate_limit_per_second": 25}
            assert (await zoom.put("/_control/faults", json=limit)).status_code == 200
            with _workers(env, zoom_base, tmp_path, count=2):
                deadline = time.monotonic() + 120
                while await _refreshed_since(postgres_url, since) < 200:
                    assert time.monotonic() < deadline, [
                        tail(tmp_path / f"worker-{n}.log") for n in (0, 1)
                    ]
                    await asyncio.sleep(0.5)
                await asyncio.sleep(1)  # the sweep's report line
            stats = (await zoom.get("/_control/stats")).json()
    assert stats["faults"].get("rate_limited", 0) == 0, stats["faults"]
    assert stats["token_requests"]["refresh_token"].get("ok", 0) >= 200, stats["token_requests"]
    sweeps = {n: _sweeps(tmp_path / f"worker-{n}.log") for n in (0, 1)}
    # One process swept all 200 (the other found the job held, then not due for an hour).
    assert sorted(len(lines) for lines in sweeps.values()) == [0, 1], sweeps
    [report] = [line for lines in sweeps.values() for line in lines]
    assert "200 due, 200 refreshed" in report, report
    for n in range(3):
        assert _sweeps(tmp_path / f"serve-{n}.log") == []  # --no-jobs: the web tier runs none


@pytest.mark.postgres
async def test_killing_the_worker_that_holds_a_job_hands_it_to_another_within_the_lease(
    postgres_url: str, tmp_path: Path
) -> None:
    await upgrade_async(postgres_url)
    lease = 3.0
    env = env_for(
        live_settings(postgres_url, tmp_path),
        MEETING_FALLBACK="none",
        KEEPALIVE_MAX_PER_SECOND="2",  # 30 connections: a 15-second sweep to interrupt
        KEEPALIVE_INTERVAL_SECONDS="3600",
        JOB_LEASE_SECONDS=str(lease),
    )
    with sandbox_and_servers(env, tmp_path, 1, "--no-jobs") as (zoom_base, bases):
        await _connected_specialists(postgres_url, bases, zoom_base, 30)
        since = await _make_idle(postgres_url)
        with _workers(env, zoom_base, tmp_path, count=2) as workers:
            holder = await _wait_for_holder(postgres_url, workers, deadline=30)
            await asyncio.sleep(2)  # well into the sweep
            assert 0 < await _refreshed_since(postgres_url, since) < 30
            os.killpg(holder.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            [survivor] = [w for w in workers if w is not holder]
            assert await _wait_for_holder(postgres_url, [survivor], deadline=lease * 3) is survivor
            taken_after = time.monotonic() - killed_at
            # …and carries on with the sweep where the dead one stopped.
            at_takeover = await _refreshed_since(postgres_url, since)
            deadline = time.monotonic() + 20
            while await _refreshed_since(postgres_url, since) < min(at_takeover + 3, 29):
                assert time.monotonic() < deadline, tail(tmp_path / "worker-1.log")
                await asyncio.sleep(0.2)
    # The lease ran out at most `lease` after the last renewal; the survivor looks every
    # lease/3 (± 20 %).
    assert taken_after <= lease + lease / 3 * 1.2 + 1.0, taken_after


async def _wait_for_holder(
    url: str, workers: list[subprocess.Popen[bytes]], *, deadline: float
) -> subprocess.Popen[bytes]:
    """The worker holding the keep-alive's lease, once one does."""
    pids = {str(w.pid): w for w in workers}
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        rows = await _sql(
            url, "SELECT owner FROM job_leases WHERE name = 'keepalive' AND lease_until > now()"
        )
        owner = str(rows[0][0]) if rows and rows[0][0] else ""
        match = re.search(r":(\d+):", owner)
        if match and match.group(1) in pids:
            return pids[match.group(1)]
        await asyncio.sleep(0.1)
    raise AssertionError("no worker took the keep-alive")
