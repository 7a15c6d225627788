"""Run the real command-line servers in subprocesses for tests that need real sockets."""

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# httpx loads every trusted CA certificate into a new TLS context for each client it makes
# (about 0.1 s of CPU, more than a request); clients here speak plain HTTP to local
# servers, so they share one context.
LOCAL_TLS = ssl.create_default_context()


def http_client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=LOCAL_TLS, **options)


def async_http_client(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=LOCAL_TLS, **options)


def http_request(method: str, url: str, **options: Any) -> httpx.Response:
    """`httpx.request` with the shared TLS context."""
    return httpx.request(method, url, verify=LOCAL_TLS, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**values: str) -> dict[str, str]:
    """The current environment without any Zoom or app variable, plus `values`."""
    prefixes = (
        "ZOOM_",
        "APP_ENV",
        "DATABASE_URL",
        "SECRET_KEY",
        "TOKEN_ENCRYPTION_KEYS",
        "PUBLIC_BASE_URL",
        "SMTP_URL",
        "MEETING_FALLBACK",
        "HOST",
        "PORT",
        "VAR_DIR",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | values


@contextmanager
def serving(
    args: list[str],
    *,
    env: dict[str, str],
    ready_url: str,
    cwd: Path,
    log: Path,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process group, wait until `ready_url` answers, and stop it afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if http_request("GET", ready_url, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in {timeout}s:\n{log.read_text()}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
