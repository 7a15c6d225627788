"""A real server, Debian's chromium driven by Playwright, and pages checked for errors."""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.servers import BIN, ROOT, clean_env, free_port, http_request, serving

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Server:
    base: str

    def control(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        answer = http_request(method, f"{self.base}/zoom-sandbox/_control{path}", **kwargs)  # type: ignore[arg-type]
        assert answer.status_code < 300, answer.text
        return answer


@dataclass
class Watched:
    """Console errors and failed requests of every page a test opened."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: object) -> None:
        page.on(
            "console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}")
        )  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))  # type: ignore[attr-defined]
        page.on("requestfailed", self._failed)  # type: ignore[attr-defined]
        page.on(  # type: ignore[attr-defined]
            "response", lambda r: r.status >= 500 and self.problems.append(f"{r.status}: {r.url}")
        )

    def _failed(self, request: object) -> None:
        error = request.failure or ""  # type: ignore[attr-defined]
        # Chromium's net::ERR_ABORTED: a load the page itself gave up when it navigated away
        # (a favicon still loading as a form's answer replaces the page), not a server fault.
        if "ERR_ABORTED" not in error:
            self.problems.append(f"failed: {request.url} ({error})")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = clean_env(
        PORT=str(port),
        VAR_DIR=str(folder / "var"),
        MEETING_FALLBACK="none",
        MEETINGS_JOB_INTERVAL_SECONDS="1",
    )
    binary = str(BIN / "specialistly")
    subprocess.run(
        [binary, "db", "upgrade"], env=env, cwd=ROOT, check=True, timeout=60, capture_output=True
    )
    base = f"http://127.0.0.1:{port}"
    with serving(
        [binary, "serve"], env=env, ready_url=base + "/healthz", cwd=ROOT, log=folder / "serve.log"
    ):
        yield Server(base)


# Module scope: sync Playwright runs an event loop of its own, which must be gone before the
# asyncio tests of later modules start.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(
                "REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)"
            )
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def watched() -> Iterator[Watched]:
    seen = Watched()
    yield seen
    assert seen.problems == [], "\n".join(seen.problems)


def shoot(page: object, name: str) -> None:
    """Save the page at desktop and at 390 px wide."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("390px", MOBILE)):
        page.set_viewport_size(size)  # type: ignore[attr-defined]
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size(DESKTOP)  # type: ignore[attr-defined]
