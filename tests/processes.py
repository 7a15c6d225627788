"""Real `specialistly` processes for tests: a standalone sandbox, servers and workers."""

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from specialistly.config import CALLBACK_PATH, Settings
from tests.servers import BIN, ROOT, clean_env, free_port, serving


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The live-mode settings as environment variables for another process."""
    values: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None or name in {"var_dir", "zoom_mode"}:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        values[name.upper()] = str(value)
    values |= {"VAR_DIR": str(settings.var_dir), "PYTHONPATH": str(ROOT)}
    return clean_env(**(values | extra))


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def bound(process: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> bool:
    """Whether uvicorn bound its port (False: it exited because another process holds it).

    A port from `free_port()` is free only when it is picked: another test process may bind it
    before our server does, and then that process answers our readiness check.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = process.poll() is not None  # before reading: then the log is complete
        text = log.read_text(errors="replace")
        if "Uvicorn running on" in text:
            return True
        if exited:
            assert "address already in use" in text, text
            return False
        time.sleep(0.05)
    raise AssertionError(f"the server neither bound its port nor exited:\n{tail(log)}")


@contextmanager
def serve_on_a_free_port(
    command: Callable[[int], tuple[list[str], dict[str, str]]], ready_path: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Serve `command(port)` on a free port, trying a fresh one if another process took it."""
    for _ in range(3):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args, env = command(port)
        with ExitStack() as stack:
            try:
                process = stack.enter_context(
                    serving(args, env=env, ready_url=base + ready_path, cwd=log.parent, log=log)
                )
            except AssertionError:
                if "address already in use" not in log.read_text(errors="replace"):
                    raise
                continue
            if bound(process, log):
                yield process, base
                return
    raise AssertionError(f"no free port in 3 tries:\n{tail(log)}")


def serve(
    env: dict[str, str], log: Path, *args: str
) -> AbstractContextManager[tuple[subprocess.Popen[bytes], str]]:
    """`specialistly serve [args]` with `env` on a port of its own (PORT)."""
    return serve_on_a_free_port(
        lambda port: ([str(BIN / "specialistly"), "serve", *args], env | {"PORT": str(port)}),
        "/readyz",
        log,
    )


def live_against(env: dict[str, str], zoom_base: str) -> dict[str, str]:
    """`env` pointed at a standalone sandbox for Zoom's OAuth and API."""
    return env | {"ZOOM_OAUTH_BASE_URL": zoom_base, "ZOOM_API_BASE_URL": zoom_base + "/v2"}


@contextmanager
def sandbox_and_servers(
    env: dict[str, str], tmp_path: Path, count: int = 3, *args: str
) -> Iterator[tuple[str, list[str]]]:
    """A standalone sandbox (`sandbox.log`) and `count` × `serve [args]` in live mode pointed
    at it (`serve-0.log`, …); answers the sandbox's base and the servers'."""
    with ExitStack() as servers:
        _, zoom_base = servers.enter_context(
            serve_on_a_free_port(
                lambda port: (
                    [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(port)],
                    env,
                ),
                "/",
                tmp_path / "sandbox.log",
            )
        )
        app_env = live_against(env, zoom_base)
        yield (
            zoom_base,
            [
                servers.enter_context(serve(app_env, tmp_path / f"serve-{n}.log", *args))[1]
                for n in range(count)
            ],
        )


async def sign_up(browser: httpx.AsyncClient, email: str) -> int:
    body = {"name": "Multi", "email": email, "password": "long enough", "timezone": "UTC"}
    answer = await browser.post("/api/v1/specialists", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def connect(browser: httpx.AsyncClient, zoom: httpx.AsyncClient, zoom_email: str) -> None:
    """The connect flow as a browser does it: the app, Zoom's consent page, the callback."""
    start = await browser.get("/api/v1/zoom/connect")
    assert start.status_code == 302, start.text
    consent = await zoom.post(
        start.headers["location"], data={"email": zoom_email, "action": "approve"}
    )
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["location"])
    assert callback.path == CALLBACK_PATH, callback
    landed = await browser.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 302, landed.text
    assert landed.headers["location"] == "/dashboard?zoom=connected"
