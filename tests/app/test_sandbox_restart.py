"""`specialistly serve` in sandbox mode keeps the sandbox's state under VAR_DIR: after a
restart, join links already sent still open their meetings and the specialist stays connected."""

import os
import signal
import subprocess
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.servers import BIN, ROOT, clean_env, free_port, http_client, http_request, serving

PASSWORD = "correct horse battery"


def _serve(
    tmp_path: Path, env: dict[str, str], base: str, name: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return serving(
        [str(BIN / "specialistly"), "serve"],
        env=env,
        ready_url=base + "/healthz",
        cwd=ROOT,
        log=tmp_path / f"{name}.log",
    )


def _book(browser: httpx.Client, hours_ahead: int) -> dict[str, object]:
    start = (datetime.now(UTC) + timedelta(days=3, hours=hours_ahead)).replace(
        minute=0, second=0, microsecond=0
    )
    slot = browser.post(
        "/api/v1/slots", json={"start_time": start.isoformat(), "duration_minutes": 30}
    )
    assert slot.status_code == 201, slot.text
    booking = http_request(
        "POST",
        str(browser.base_url) + "/api/v1/bookings",
        json={
            "slot_id": slot.json()["id"],
            "customer_name": "Casey Customer",
            "customer_email": "casey@example.com",
        },
    )
    assert booking.status_code == 201, booking.text
    meeting: dict[str, object] = booking.json()["meeting"]
    return meeting


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_restart_keeps_join_links_and_the_zoom_connection(
    tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(PORT=str(port), VAR_DIR=str(tmp_path / "var"), MEETING_FALLBACK="none")
    subprocess.run(
        [str(BIN / "specialistly"), "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
    )
    with _serve(tmp_path, env, base, "first") as first, http_client(base_url=base) as browser:
        body = {
            "name": "Dana Specialist",
            "email": "dana@example.com",
            "password": PASSWORD,
            "timezone": "Europe/Berlin",
        }
        assert browser.post("/api/v1/specialists", json=body).status_code == 201
        start = browser.get("/api/v1/zoom/connect")
        assert start.status_code == 302
        consent = http_request(
            "POST",
            start.headers["location"],
            data={"email": "dana@zoom.example", "action": "approve"},
        )
        assert consent.status_code == 302
        landed = browser.get(consent.headers["location"])
        assert landed.headers["location"] == "/dashboard?zoom=connected"
        before = _book(browser, 1)
        assert before["status"] == "created"
        join_url = str(before["join_url"])
        assert http_request("GET", join_url).status_code == 200
        os.killpg(first.pid, stop)
        first.wait(timeout=15)

    assert (tmp_path / "var" / "zoom-sandbox.db").exists()
    with _serve(tmp_path, env, base, "second"), http_client(base_url=base) as browser:
        page = http_request("GET", join_url)
        assert page.status_code == 200
        assert "does not exist" not in page.text
        login = {"email": "dana@example.com", "password": PASSWORD}
        assert browser.post("/api/v1/auth/login", json=login).status_code == 200
        assert browser.get("/api/v1/zoom/status").json()["status"] == "connected"
        after = _book(browser, 2)
        assert after["status"] == "created"
        assert after["join_url"] != join_url
        assert http_request("GET", str(after["join_url"])).status_code == 200
        stats = http_request("GET", base + "/zoom-sandbox/_control/stats").json()
        assert "authorization_code" not in stats["token_requests"]
        meetings = http_request(
            "GET", base + "/zoom-sandbox/_control/users/dana@zoom.example/meetings"
        )
        assert len(meetings.json()["meetings"]) == 2
