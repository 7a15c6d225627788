"""Shared by the soak and crash benchmarks: a served app in sandbox mode, driven over HTTP."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# uvicorn closes a connection idle for 5 s; a client reusing it at that moment gets
# "Server disconnected without sending a response". Clients here drop idle ones sooner.
IDLE_LIMITS = httpx.Limits(keepalive_expiry=2.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """`specialistly serve` in sandbox mode, restartable, its database readable directly."""

    folder: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Where Zoom (the sandbox) is: mounted in the app, or a standalone process.
    zoom_base: str | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM_", "DATABASE"))}
        return (
            env
            | {
                "PORT": str(self.port),
                "VAR_DIR": str(self.folder / "var"),
                "MEETING_FALLBACK": "none",
                "MEETINGS_JOB_INTERVAL_SECONDS": "2",
            }
            | self.extra_env
        )

    def start(self) -> None:
        binary = str(BIN / "specialistly")
        subprocess.run(
            [binary, "db", "upgrade"], env=self.env(), cwd=ROOT, check=True, capture_output=True
        )
        log = (self.folder / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "serve"],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with httpx.Client(timeout=1) as poller:  # one TLS context for every poll
            for _ in range(300):
                try:
                    if poller.get(self.base + "/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        zoom = self.zoom_base or f"{self.base}/zoom-sandbox"
        answer = httpx.request(method, f"{zoom}/_control{path}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.folder / "var" / "specialistly.db", timeout=60)

    def cipher(self) -> Fernet:
        if "TOKEN_ENCRYPTION_KEYS" in self.extra_env:
            return Fernet(self.extra_env["TOKEN_ENCRYPTION_KEYS"].split(",")[0].encode())
        generated = json.loads((self.folder / "var" / "secrets.json").read_text())
        return Fernet(generated["token_encryption_key"].encode())


def sign_up_and_connect(served: Served, name: str, zoom_email: str) -> httpx.Client:
    browser = httpx.Client(base_url=served.base, timeout=60, limits=IDLE_LIMITS)
    browser.post(
        "/api/v1/specialists",
        json={
            "name": name,
            "email": f"{name.lower()}@example.com",
            "password": "soak password 1",
            "timezone": "Europe/Berlin",
        },
    ).raise_for_status()
    connect(served, browser, zoom_email)
    return browser


def connect(served: Served, browser: httpx.Client, zoom_email: str) -> bool:
    start = browser.get("/api/v1/zoom/connect")
    consent = httpx.post(
        start.headers["location"], data={"email": zoom_email, "action": "approve"}, timeout=60
    )
    landed = browser.get(consent.headers["location"])
    return landed.headers.get("location") == "/dashboard?zoom=connected"


def invariants(served: Served, zoom_emails: list[str]) -> dict[str, Any]:
    """Check what the benchmarks promise, reading the database and the sandbox directly."""
    with served.db() as conn:
        confirmed = conn.execute(
            "SELECT reference, meeting_status, specialist_id FROM bookings WHERE status='confirmed'"
        ).fetchall()
        cancelled = {
            r for (r,) in conn.execute("SELECT reference FROM bookings WHERE status='cancelled'")
        }
        notified = {
            s
            for (s,) in conn.execute(
                "SELECT specialist_id FROM notifications WHERE kind='zoom_reconnect_needed'"
            )
        }
        needs = conn.execute(
            "SELECT z.zoom_email, z.refresh_token FROM zoom_connections z "
            "WHERE z.status='needs_reconnect'"
        ).fetchall()
    meetings: dict[str, int] = {}
    for email in zoom_emails:
        for meeting in served.control("GET", f"/users/{email}/meetings")["meetings"]:
            reference = meeting["agenda"].split()[-1]
            meetings[reference] = meetings.get(reference, 0) + 1
    duplicates = sorted(r for r, n in meetings.items() if n > 1)
    orphans = sorted(r for r in meetings if r in cancelled or r not in {c[0] for c in confirmed})
    missing = [
        r
        for r, status, specialist in confirmed
        if meetings.get(r, 0) != 1 and not (status == "pending" and specialist in notified)
    ]
    cipher = served.cipher()
    needless = []
    for zoom_email, stored in needs:
        current = served.control("GET", f"/users/{zoom_email}/tokens")["refresh_token"]
        ours = cipher.decrypt(stored.split(":", 1)[1].encode()).decode() if stored else None
        if current is not None and current["refresh_token"] == ours:
            needless.append(zoom_email)  # Zoom would still have honoured our refresh token
    return {
        "confirmed_bookings": len(confirmed),
        "meetings_live": sum(meetings.values()),
        "pending_with_notice": sum(
            1 for _, s, sp in confirmed if s == "pending" and sp in notified
        ),
        "duplicates": duplicates,
        "orphans": orphans,
        "without_meeting": missing,
        "needs_reconnect_without_dead_grant": needless,
        "ok": not (duplicates or orphans or missing or needless),
    }


def wait_settled(served: Served, *, tries: int = 90, pause: float = 2.0) -> int:
    """Wait for the jobs to make every pending meeting and finish every deletion; answer
    how many are still waiting at the end."""
    waiting = -1
    for _ in range(tries):
        with served.db() as conn:
            (waiting,) = conn.execute(
                "SELECT COUNT(*) FROM bookings WHERE (status='confirmed' AND "
                "meeting_status='pending') OR meeting_delete_pending"
            ).fetchone()
        if waiting == 0:
            return 0
        time.sleep(pause)
    return waiting
