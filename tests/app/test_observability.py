"""Metrics move with what happens; request ids; JSON logs; no secret in a full run's logs."""

import json
import re
import subprocess
from pathlib import Path

import httpx

from tests.harness import Harness
from tests.servers import BIN, ROOT, clean_env, free_port, serving


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
        app = httpx.Client(base_url=base)
        zoom = httpx.Client(base_url=base + "/zoom-sandbox")
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
        httpx.get(
            f"{base}/api/v1/bookings/{booking['id']}", params={"token": booking["manage_token"]}
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
