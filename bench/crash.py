"""Crash: kill -9 the server again and again during a booking load, restart it each time, then
let the jobs settle. The same invariants as the soak hold, and no booking the client saw
confirmed is missing.

Zoom (the sandbox) runs as its own process so that it survives the crashes, as Zoom would.
Run from the repository root: .venv/bin/python bench/crash.py [--kills 12]
"""

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, Served, free_port, invariants, sign_up_and_connect, wait_settled

SPECIALISTS = 3


def main(kills: int) -> int:
    rng = random.Random(7)
    folder = Path(tempfile.mkdtemp(prefix="crash-"))
    zoom_port, app_port = free_port(), free_port()
    zoom = f"http://127.0.0.1:{zoom_port}"
    env = {
        "ZOOM_USER_MANAGED_CLIENT_ID": "um_" + secrets.token_hex(6),
        "ZOOM_USER_MANAGED_CLIENT_SECRET": secrets.token_urlsafe(24),
        "ZOOM_REDIRECT_URI": f"http://127.0.0.1:{app_port}/api/zoom/oauth/user-callback",
        "ZOOM_CLIENT_ID": "s2s_" + secrets.token_hex(6),
        "ZOOM_CLIENT_SECRET": secrets.token_urlsafe(24),
        "ZOOM_ACCOUNT_ID": "acct_crash",
        "ZOOM_WEBHOOK_SECRET_TOKEN": secrets.token_urlsafe(16),
        "ZOOM_OAUTH_BASE_URL": zoom,
        "ZOOM_API_BASE_URL": zoom + "/v2",
        "ZOOM_SANDBOX_MEETINGS_PER_USER_PER_DAY": "0",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{folder}/var/specialistly.db",
    }
    sandbox_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")} | env
    sandbox = subprocess.Popen(
        [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(zoom_port)],
        env=sandbox_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    served = Served(folder, env, port=app_port, zoom_base=zoom)
    try:
        for _ in range(100):
            try:
                httpx.get(zoom + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        served.start()
        emails = [f"crash{i}@zoom.example.com" for i in range(SPECIALISTS)]
        browsers = [sign_up_and_connect(served, f"Crash{i}", e) for i, e in enumerate(emails)]
        slots: list[int] = []
        for i in range(400):
            start = datetime.now(UTC) + timedelta(days=10, hours=i)
            made = browsers[i % SPECIALISTS].post(
                "/api/v1/slots",
                json={
                    "start_time": start.replace(minute=0, second=0, microsecond=0).isoformat(),
                    "duration_minutes": 30,
                },
            )
            slots.append(made.json()["id"])
        seen: dict[str, int] = {}
        outcomes = {"confirmed": 0, "taken": 0, "no_answer": 0, "5xx": 0}
        stop = threading.Event()
        lock = threading.Lock()

        def customer(offset: int) -> None:
            client = httpx.Client(base_url=served.base, timeout=30)
            for slot in slots[offset::4]:
                if stop.is_set():
                    return
                try:
                    answer = client.post(
                        "/api/v1/bookings",
                        json={
                            "slot_id": slot,
                            "customer_name": "Crash Customer",
                            "customer_email": "crash.customer@example.com",
                        },
                        headers={"Idempotency-Key": f"crash-{slot}"},
                    )
                except httpx.TransportError:
                    with lock:
                        outcomes["no_answer"] += 1
                    time.sleep(0.3)
                    continue
                with lock:
                    if answer.status_code == 201:
                        outcomes["confirmed"] += 1
                        seen[answer.json()["reference"]] = slot
                    elif answer.status_code == 409:
                        outcomes["taken"] += 1
                    elif answer.status_code >= 500:
                        outcomes["5xx"] += 1
                time.sleep(0.02)

        workers = [threading.Thread(target=customer, args=(i,)) for i in range(4)]
        for worker in workers:
            worker.start()
        started = time.monotonic()
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 3.0))
            served.kill(signal.SIGKILL)
            served.start()
        stop.set()
        for worker in workers:
            worker.join()
        load_seconds = round(time.monotonic() - started, 1)
        waiting = wait_settled(served, tries=90)
        with served.db() as conn:
            stored = {
                r
                for (r,) in conn.execute("SELECT reference FROM bookings WHERE status='confirmed'")
            }
        lost = sorted(set(seen) - stored)
        result = invariants(served, emails)
        report = {
            "kills": kills,
            "load_seconds": load_seconds,
            **outcomes,
            "pending_left": waiting,
            "confirmed_seen_by_clients": len(seen),
            "confirmed_but_missing": lost,
            **result,
        }
        print(json.dumps(report, indent=1))
        return 0 if result["ok"] and not lost and outcomes["5xx"] == 0 and waiting == 0 else 1
    finally:
        served.kill()
        os.killpg(sandbox.pid, signal.SIGTERM)
        sandbox.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=12)
    sys.exit(main(parser.parse_args().kills))
