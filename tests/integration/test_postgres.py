"""PostgreSQL: one refresh across OS processes, and keep-alive sweeps that share the work."""

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import QueuePool

from specialistly.app import create_app
from specialistly.config import Settings
from specialistly.connections.jobs import run_keepalive
from specialistly.context import build_context
from specialistly.db import DEFAULT_POOL_SIZE, Database, upgrade_async
from specialistly.notifications.message import OutgoingEmail
from specialistly.notifications.outbox import deliver_outbox
from specialistly.notifications.service import Email
from tests.harness import APP, FAST_RETRY, harness, live_settings
from tests.servers import BIN, ROOT, async_http_client, clean_env, free_port, serving

pytestmark = pytest.mark.postgres
HOUR, DAY = 3600, 86_400


async def test_200_concurrent_callers_refresh_once_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        _, specialist = await h.connected()
        await h.advance(HOUR)
        tokens = await asyncio.gather(
            *(h.ctx.connections.get_valid_token(specialist) for _ in range(200))
        )
        assert len({t.token for t in tokens}) == 1
        assert await h.refreshes() == 1


async def test_two_keepalive_sweeps_share_the_work_without_double_refreshes(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        for _ in range(12):
            await h.connected()
        await h.advance(31 * DAY)
        other = build_context(
            h.settings,
            clock=h.ctx.clock,
            zoom_transport=h.ctx.zoom_http._transport,
            retry=FAST_RETRY,
        )
        try:
            reports = await asyncio.gather(
                *(
                    run_keepalive(
                        ctx.connections,
                        ctx.db,
                        ctx.clock,
                        older_than=timedelta(days=30),
                        concurrency=4,
                    )
                    for ctx in (h.ctx, other)
                )
            )
        finally:
            await other.close()
        assert sum(r.refreshed for r in reports) == 12
        assert await h.refreshes() == 12
        assert all(r.needs_reconnect == 0 and r.failed == 0 for r in reports)


def _env_for(s: Settings) -> dict[str, str]:
    """The same configuration as environment variables, for other processes."""
    secrets = {
        name: value.get_secret_value()
        for name, value in s.model_dump().items()
        if hasattr(value, "get_secret_value")
    }
    plain = {
        "zoom_user_managed_client_id",
        "zoom_redirect_uri",
        "zoom_client_id",
        "zoom_account_id",
        "zoom_oauth_base_url",
        "zoom_api_base_url",
        "database_url",
        "public_base_url",
    }
    values = {name.upper(): str(getattr(s, name)) for name in plain}
    values |= {name.upper(): value for name, value in secrets.items()}
    return clean_env(**values, PYTHONPATH=str(ROOT))


async def _connect_one_specialist(settings: Settings, sandbox_base: str) -> int:
    """Sign up and connect Zoom through the app, over real HTTP to the standalone sandbox."""
    app = create_app(settings, retry=FAST_RETRY)
    ctx = app.state.ctx
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as browser,
        async_http_client(base_url=sandbox_base) as zoom,
    ):
        body = {
            "name": "P",
            "email": "procs@example.com",
            "password": "long enough",
            "timezone": "UTC",
        }
        specialist = int((await browser.post("/api/v1/specialists", json=body)).json()["id"])
        authorize = (await browser.get("/api/v1/zoom/connect")).headers["location"]
        consent = await zoom.post(
            authorize, data={"email": "procs@zoom.example.com", "action": "approve"}
        )
        landed = await browser.get(consent.headers["location"])
        assert landed.headers["location"] == "/dashboard?zoom=connected"
    # Expire the access token as time would: every process now needs a refresh.
    async with ctx.db.transaction() as session:
        await session.execute(
            text(
                "UPDATE zoom_connections SET access_token_expires_at = now() - interval '1 minute'"
            )
        )
    await ctx.close()
    return specialist


async def test_four_processes_asking_at_once_cause_exactly_one_refresh(
    postgres_url: str, tmp_path: Path
) -> None:
    port = free_port()
    sandbox_base = f"http://127.0.0.1:{port}"
    settings = live_settings(
        postgres_url,
        tmp_path,
        zoom_oauth_base_url=sandbox_base,
        zoom_api_base_url=sandbox_base + "/v2",
    )
    await upgrade_async(postgres_url)
    env = _env_for(settings)
    args = [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(port)]
    with serving(
        args, env=env, ready_url=sandbox_base + "/", cwd=tmp_path, log=tmp_path / "sandbox.log"
    ):
        specialist = await _connect_one_specialist(settings, sandbox_base)
        start_at = time.time() + 3.0
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.refresh_worker",
                    str(specialist),
                    str(start_at),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [w.communicate(timeout=60) for w in workers]
        async with async_http_client(base_url=sandbox_base) as zoom:
            stats = (await zoom.get("/_control/stats")).json()
            issued = (await zoom.get("/_control/users/procs@zoom.example.com/tokens")).json()
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    assert len({out.strip() for out, _ in outputs}) == 1  # all four got the same token
    assert stats["token_requests"]["refresh_token"] == {"ok": 1}
    everything = "".join(out + err for out, err in outputs)
    for token in issued["access_tokens"]:
        assert token["access_token"] not in everything


async def test_fifty_concurrent_bookings_of_one_slot_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        browser, _ = await h.connected("pg-popular@zoom.example.com")
        slot = await h.add_slot(browser)
        answers = await asyncio.gather(*(h.book(slot, f"Customer {i}") for i in range(50)))
        assert sorted(a.status_code for a in answers) == [201] + [409] * 49
        assert len(await h.zoom_meetings("pg-popular@zoom.example.com")) == 1


async def test_deleting_slots_while_they_are_booked_never_leaves_a_booking_on_a_deleted_slot(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        browser, _ = await h.connected("pg-delete@zoom.example.com")

        async def delete(slot: int, delay: float) -> int:
            await asyncio.sleep(delay)
            return (await browser.delete(f"/api/v1/slots/{slot}")).status_code

        for rounds in range(4):
            slots = [await h.add_slot(browser) for _ in range(50)]
            # Staggered so the deletions land at every point of the bookings' transactions.
            pairs = await asyncio.gather(
                *(
                    asyncio.gather(delete(s, (i % 10) * 0.001 * (rounds + 1)), h.book(s))
                    for i, s in enumerate(slots)
                )
            )
            for deleted, booked in pairs:
                # Exactly one of the two wins each pair.
                assert (deleted, booked.status_code) in ((204, 404), (409, 201))
        orphans = await h.raw(
            "SELECT b.id FROM bookings b JOIN slots s ON s.id = b.slot_id "
            "WHERE b.status = 'confirmed' AND s.deleted_at IS NOT NULL"
        )
        assert orphans == []


async def test_two_processes_refresh_a_retired_grant_once_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """After a reconnect as another Zoom user, cancels in two processes share one refresh
    of the replaced grant (a lease on its row, no transaction across Zoom's answer)."""
    async with harness(postgres_url, tmp_path) as h:
        browser, _ = await h.connected("pg-old@zoom.example.com")
        ids = [(await h.book(await h.add_slot(browser), f"C {i}")).json()["id"] for i in range(8)]
        await h.connect(browser, "pg-new@zoom.example.com")
        await h.advance(2 * HOUR)
        other = build_context(
            h.settings,
            clock=h.ctx.clock,
            zoom_transport=h.ctx.zoom_http._transport,
            retry=FAST_RETRY,
        )
        try:
            await asyncio.gather(
                *(
                    (h.ctx if i % 2 else other).bookings.cancel(booking_id)
                    for i, booking_id in enumerate(ids)
                )
            )
        finally:
            await other.close()
        await h.settle_meetings()
        assert await h.zoom_meetings("pg-old@zoom.example.com") == []
        assert (await h.stats())["token_requests"]["refresh_token"] == {"ok": 1}
        old = await h.control("GET", "/users/pg-old@zoom.example.com/tokens")
        assert old["refresh_token"] is None


async def test_two_outbox_runs_at_once_send_each_email_once_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        async with h.ctx.db.transaction() as session:
            for n in range(150):  # over two batches of 100
                h.ctx.notifier.queue_email(
                    session, Email(f"c{n}@example.com", f"Email {n}", "Body", "test")
                )
        other = build_context(
            h.settings, clock=h.ctx.clock, zoom_transport=h.ctx.zoom_http._transport
        )
        sent: list[tuple[str, str]] = []

        class Recording:
            channel = "test"

            async def send(self, email: OutgoingEmail) -> None:
                await asyncio.sleep(0.001)  # the two runs interleave
                sent.append((email.to, email.subject))

            def reason(self, error: Exception) -> str:
                return str(error)

        try:
            runs = await asyncio.gather(
                *(
                    deliver_outbox(ctx.db, Recording(), ctx.clock, ctx.cipher)
                    for ctx in (h.ctx, other)
                )
            )
        finally:
            await other.close()
        [(pending,)] = await h.raw("SELECT COUNT(*) FROM outbox_emails WHERE status <> 'sent'")
    assert sum(run.sent for run in runs) == 150
    assert all(run.sent > 0 for run in runs)  # both took a share
    assert sorted(subject for _, subject in sent) == sorted(f"Email {n}" for n in range(150))
    assert pending == 0


async def test_a_pooled_connection_is_tested_only_after_sitting_idle(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    from specialistly import db

    database = db.Database(postgres_url)
    dialect = database.engine.sync_engine.dialect
    pings: list[object] = []
    ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))

    async def one() -> int:
        async with database.reading() as session:
            return int((await session.execute(text("SELECT 1"))).scalar_one())

    try:
        assert [await one() for _ in range(3)] == [1, 1, 1]
        assert pings == []  # back in the pool a moment ago: used as it is

        # The server ends the pooled session (a restart, an idle timeout) while it sits idle.
        admin = await asyncpg.connect(postgres_url)
        try:
            ended = await admin.fetchval(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert ended >= 1  # the pool's one (an autovacuum worker may be there too)
        monkeypatch.setattr(db, "TEST_IF_IDLE_FOR", 0.0)  # as if it had sat idle long
        assert await one() == 1  # tested, found closed, replaced: the caller sees nothing
        assert len(pings) == 1
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_bursts_up_to_the_pool_size_reuse_the_pools_connections(postgres_url: str) -> None:
    """Each burst of 20 transactions at once (the default DATABASE_POOL_SIZE) runs on the same
    20 connections: none is closed as it comes back and opened again for the next burst."""
    db = Database(postgres_url)
    opened: list[object] = []
    event.listen(db.engine.sync_engine, "connect", lambda *_: opened.append(None))

    async def hold() -> None:
        async with db.reading() as session:
            await session.execute(text("SELECT pg_sleep(0.05)"))

    try:
        for _ in range(3):
            await asyncio.gather(*(hold() for _ in range(DEFAULT_POOL_SIZE)))
        assert len(opened) == DEFAULT_POOL_SIZE
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_database_pool_size_sizes_each_process_pool(
    postgres_url: str, tmp_path: Path
) -> None:
    ctx = build_context(live_settings(postgres_url, tmp_path, database_pool_size=7))
    try:
        pool = ctx.db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (7, 3)
    finally:
        await ctx.close()
