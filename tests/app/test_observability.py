"""Metrics move with what happens; request ids; JSON logs; no secret in a full run's logs."""

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from specialistly import observability
from specialistly.app import create_app
from specialistly.config import Settings, with_generated_secrets
from specialistly.db import DEFAULT_POOL_SIZE, upgrade_async
from specialistly.jobs import Scheduler, run_once
from tests.harness import Harness, harness
from tests.servers import BIN, ROOT, clean_env, free_port, http_client, http_request, serving


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def scrape(h: Harness) -> str:
    answer = await h.client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def test_metrics_counters_move_as_things_happen(h: Harness) -> None:
    before = await scrape(h)
    browser, specialist = await h.connected("metrics@zoom.example.com")
    await h.advance(3600)
    await h.ctx.connections.get_valid_token(specialist)
    await h.book(await h.add_slot(browser))
    await h.client().post(
        "/api/zoom/webhooks",
        content=b"{}",
        headers={
            "x-zm-request-timestamp": str(int(h.ctx.clock.now().timestamp())),
            "x-zm-signature": "v0=" + "0" * 64,
        },
    )
    after = await scrape(h)
    name = "specialistly_zoom_refresh_attempts_total"
    assert metric(after, name, outcome="ok") == metric(before, name, outcome="ok") + 1
    assert metric(after, "specialistly_zoom_refresh_seconds_count") >= 1
    created = {"outcome": "created", "provider": "specialist_zoom"}
    assert (
        metric(after, "specialistly_meetings_total", **created)
        == metric(before, "specialistly_meetings_total", **created) + 1
    )
    bad = {"event": "unknown", "outcome": "bad_signature"}
    assert (
        metric(after, "specialistly_zoom_webhook_events_total", **bad)
        == metric(before, "specialistly_zoom_webhook_events_total", **bad) + 1
    )
    assert metric(after, "specialistly_zoom_connections", status="connected") == 1
    assert metric(after, "specialistly_pending_meetings") == 0


def http_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("specialistly_http_")]


async def test_metrics_count_and_time_requests_by_route_template_method_and_status(
    h: Harness,
) -> None:
    route = {"method": "GET", "route": "/api/v1/bookings/{booking_id}", "status": "404"}
    before = await scrape(h)
    browser = h.client()
    for booking_id in (424242, 535353):
        assert (await browser.get(f"/api/v1/bookings/{booking_id}")).status_code == 404
    assert (await browser.get("/healthz")).status_code == 200
    assert (await browser.get("/no/such/page/616161")).status_code == 404
    # Only a trailing-slash redirect matches this one: still no raw path in a label.
    assert (await browser.get("/api/v1/bookings/717171/")).status_code == 307
    after = await scrape(h)
    requests = "specialistly_http_requests_total"
    assert metric(after, requests, **route) == metric(before, requests, **route) + 2
    ok = {"method": "GET", "route": "/healthz", "status": "200"}
    assert metric(after, requests, **ok) == metric(before, requests, **ok) + 1
    unmatched = {"method": "GET", "route": "none", "status": "404"}
    assert metric(after, requests, **unmatched) == metric(before, requests, **unmatched) + 1
    redirected = {"method": "GET", "route": "none", "status": "307"}
    assert metric(after, requests, **redirected) == metric(before, requests, **redirected) + 1
    seconds = "specialistly_http_request_duration_seconds"
    timed = {"method": "GET", "route": "/api/v1/bookings/{booking_id}"}
    assert (
        metric(after, seconds + "_count", **timed)
        == metric(before, seconds + "_count", **timed) + 2
    )
    buckets = [line for line in http_lines(after) if line.startswith(seconds + "_bucket")]
    assert any(
        'le="0.1"' in line and 'route="/api/v1/bookings/{booking_id}"' in line for line in buckets
    )
    assert any('le="+Inf"' in line and 'route="/healthz"' in line for line in buckets)
    # In the labels: a line's value (a duration's sum, say) may hold the same digits.
    labels = [line.rpartition(" ")[0] for line in http_lines(after)]
    for raw in ("424242", "535353", "616161", "717171"):
        assert not [line for line in labels if raw in line]


async def test_metrics_name_fastapis_pages_a_refused_method_and_static_files(
    h: Harness,
) -> None:
    before = await scrape(h)
    browser = h.client()
    assert (await browser.delete("/healthz")).status_code == 405
    assert (await browser.get("/static/app.css")).status_code == 200
    assert (await browser.get("/static/no-such-838383.css")).status_code == 404
    assert (await browser.get("/openapi.json")).status_code == 200  # FastAPI's own page
    after = await scrape(h)
    requests = "specialistly_http_requests_total"
    for labels in (
        {"method": "GET", "route": "/openapi.json", "status": "200"},
        {"method": "DELETE", "route": "/healthz", "status": "405"},
        {"method": "GET", "route": "/static", "status": "200"},
        {"method": "GET", "route": "/static", "status": "404"},
    ):
        assert metric(after, requests, **labels) == metric(before, requests, **labels) + 1
    assert not [line for line in http_lines(after) if "838383" in line or "app.css" in line]


async def test_the_mounted_sandbox_is_counted_under_its_mount_not_its_raw_paths(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    await upgrade_async(url)
    settings = with_generated_secrets(
        Settings(_env_file=None, zoom_mode="sandbox", database_url=url, var_dir=tmp_path)  # type: ignore[call-arg]
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as browser:
        before = (await browser.get("/metrics")).text
        assert (await browser.get("/zoom-sandbox/v2/meetings/818181")).status_code == 401
        assert (await browser.get("/zoom-sandbox/v2/meetings/919191")).status_code == 401
        assert (await browser.get("/zoom-sandbox/_control/stats")).status_code == 200
        after = (await browser.get("/metrics")).text
    await app.state.ctx.close()
    requests = "specialistly_http_requests_total"
    refused = {"method": "GET", "route": "/zoom-sandbox", "status": "401"}
    assert metric(after, requests, **refused) == metric(before, requests, **refused) + 2
    for raw in ("818181", "919191", "_control"):
        assert not [line for line in http_lines(after) if raw in line]


async def test_job_runs_are_counted_timed_and_dated_by_job(h: Harness) -> None:
    runs, seconds = "specialistly_job_runs_total", "specialistly_job_duration_seconds_count"
    before = await scrape(h)
    started = time.time()
    await run_once(h.ctx, "meetings")
    after = await scrape(h)
    assert metric(after, runs, job="meetings") == metric(before, runs, job="meetings") + 1
    assert metric(after, seconds, job="meetings") == metric(before, seconds, job="meetings") + 1
    last = "specialistly_job_last_success_timestamp_seconds"
    assert metric(after, last, job="meetings") >= int(started)


def sample(name: str, job: str) -> float:
    return observability.REGISTRY.get_sample_value(name, {"job": job}) or 0.0


def test_a_failing_job_run_counts_as_a_failure_and_leaves_its_last_success() -> None:
    with observability.job_run("flaky"):
        pass
    failures = sample("specialistly_job_failures_total", "flaky")
    succeeded = sample("specialistly_job_last_success_timestamp_seconds", "flaky")
    with pytest.raises(RuntimeError), observability.job_run("flaky"):
        raise RuntimeError("SMTP said no")
    assert sample("specialistly_job_failures_total", "flaky") == failures + 1
    assert sample("specialistly_job_runs_total", "flaky") >= 2
    assert sample("specialistly_job_last_success_timestamp_seconds", "flaky") == succeeded > 0


async def test_the_scheduler_counts_the_runs_of_its_jobs(h: Harness) -> None:
    before = sample("specialistly_job_runs_total", "outbox")
    scheduler = Scheduler(h.ctx, grace=5)
    scheduler.start()
    try:
        for _ in range(150):
            if sample("specialistly_job_runs_total", "outbox") > before:
                break
            await asyncio.sleep(0.1)
    finally:
        await scheduler.stop()
    assert metric(await scrape(h), "specialistly_job_runs_total", job="outbox") >= before + 1


async def test_metrics_show_the_database_pools(h: Harness) -> None:
    text = await scrape(h)
    assert metric(text, "specialistly_db_pool_size", engine="main") >= 1
    assert metric(text, "specialistly_db_pool_size", engine="sqlite_writer") >= 1
    assert 'specialistly_db_pool_checked_out{engine="main"}' in text


@pytest.mark.postgres
async def test_metrics_show_the_postgresql_pool(tmp_path: Path, postgres_url: str) -> None:
    async with harness(postgres_url, tmp_path) as pg:
        text = await scrape(pg)
    assert metric(text, "specialistly_db_pool_size", engine="main") == DEFAULT_POOL_SIZE
    assert 'specialistly_db_pool_checked_out{engine="main"}' in text


async def test_every_answer_carries_a_request_id(h: Harness) -> None:
    answer = await h.client().get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["x-request-id"])
    given = await h.client().get("/healthz", headers={"x-request-id": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    odd = await h.client().get(
        "/healthz", headers={"x-request-id": "bad id\u00e9".encode("latin-1")}
    )
    assert odd.headers["x-request-id"] != "bad id"


def test_a_full_sandbox_run_leaves_no_token_or_secret_in_logs_or_database(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        PORT=str(port), VAR_DIR=str(tmp_path / "var"), LOG_FORMAT="json", MEETING_FALLBACK="none"
    )
    binary = str(BIN / "specialistly")
    subprocess.run(
        [binary, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=60
    )
    log = tmp_path / "serve.log"
    with serving([binary, "serve"], env=env, ready_url=base + "/healthz", cwd=ROOT, log=log):
        app = http_client(base_url=base)
        zoom = http_client(base_url=base + "/zoom-sandbox")
        app.post(
            "/api/v1/specialists",
            json={
                "name": "Log",
                "email": "log@example.com",
                "password": "a long password",
                "timezone": "UTC",
            },
        )
        authorize = app.get("/api/v1/zoom/connect").headers["location"]
        callback = zoom.post(
            authorize, data={"email": "log@zoom.example.com", "action": "approve"}
        ).headers["location"]
        assert app.get(callback).headers["location"] == "/dashboard?zoom=connected"
        slot = app.post(
            "/api/v1/slots",
            json={"start_time": "2027-03-01T10:00:00+00:00", "duration_minutes": 30},
        ).json()["id"]
        booking = app.post(
            "/api/v1/bookings",
            json={"slot_id": slot, "customer_name": "C", "customer_email": "c@example.com"},
        ).json()
        http_request(
            "GET",
            f"{base}/api/v1/bookings/{booking['id']}",
            params={"token": booking["manage_token"]},
        )
        zoom.post("/_control/clock", json={"advance_seconds": 3600})
        second = app.post(
            "/api/v1/slots",
            json={"start_time": "2027-03-02T10:00:00+00:00", "duration_minutes": 30},
        ).json()["id"]
        app.post(
            "/api/v1/bookings",
            json={"slot_id": second, "customer_name": "D", "customer_email": "d@example.com"},
        )
        booked = app.get("/api/v1/bookings").json()
        tokens = zoom.get("/_control/users/log@zoom.example.com/tokens").json()
        stats = zoom.get("/_control/stats").json()
        app.post(f"/api/v1/bookings/{booking['id']}/cancel")
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(p) for p in parsed)
    assert any(p["request_id"] != "-" for p in parsed)
    assert any("Zoom access token refreshed successfully" in p["message"] for p in parsed)
    assert stats["token_requests"]["refresh_token"] == {"ok": 1}
    text = log.read_text()
    secrets_file = json.loads((tmp_path / "var" / "secrets.json").read_text())
    issued = [t["access_token"] for t in tokens["access_tokens"]]
    issued.append(tokens["refresh_token"]["refresh_token"])
    issued += [booking["manage_token"], booked[0]["start_url"].split("zak=")[1]]
    for name in (
        "secret_key",
        "token_encryption_key",
        "user_client_secret",
        "s2s_client_secret",
        "webhook_secret_token",
    ):
        assert secrets_file[name] not in text
    for value in issued:
        assert value not in text
    assert "a long password" not in text
    # The raw database (and its write-ahead log) holds none of them either.
    stored = b"".join(p.read_bytes() for p in (tmp_path / "var").glob("specialistly.db*"))
    for value in [
        *issued,
        *(secrets_file[name] for name in ("user_client_secret", "s2s_client_secret")),
    ]:
        assert value.encode() not in stored
    assert b"a long password" not in stored
