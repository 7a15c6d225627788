"""Time from `specialistly serve` to the first 200 from /healthz (the app is installed already).

Run: .venv/bin/python bench/startup.py [--runs 5]
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def one_start(var_dir: str) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
    env |= {"PORT": str(port), "VAR_DIR": var_dir}
    binary = str(Path(sys.executable).parent / "specialistly")
    subprocess.run([binary, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    started = time.monotonic()
    process = subprocess.Popen(
        [binary, "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # One client for every poll: httpx spends about 0.1 s of CPU on a TLS context for
        # each client it makes, which the starting server would be waiting on.
        with httpx.Client(timeout=1) as poller:
            while True:
                try:
                    if poller.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as var_dir:
        times = [one_start(var_dir) for _ in range(runs)]
    print(
        f"startup to first /healthz 200 over {runs} runs: "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (goal: < 10 s)"
    )


if __name__ == "__main__":
    main()
