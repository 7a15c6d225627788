"""Schemathesis against the app's own /openapi.json: no 5xx, no answer that breaks the schema.

A short run here (`make test`); `bench/fuzz.sh` runs the long one with the same command.
Two checks are left out on purpose: `allow_header_conformance` (Starlette answers OPTIONS
with the methods of one route, not of the whole path) and `positive_data_acceptance` (a
JSON schema cannot say "an IANA time zone" or "a future time", which we do check).
"""

import os
import subprocess
from pathlib import Path

from tests.servers import BIN, ROOT, clean_env, free_port, http_request, serving

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")


def schemathesis_command(base: str, cookie: str, *extra: str) -> list[str]:
    return [
        str(BIN / "st"),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "allow_header_conformance,positive_data_acceptance",
        "--exclude-path",
        "/api/v1/auth/logout",  # it would end the session the run signs in with
        "-H",
        f"Cookie: specialistly_session={cookie}",
        "--continue-on-failure",
        "--workers",
        "2",
        *extra,
    ]


def test_the_api_never_answers_5xx_nor_breaks_its_schema(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(PORT=str(port), VAR_DIR=str(tmp_path / "var"))
    binary = str(BIN / "specialistly")
    subprocess.run(
        [binary, "db", "upgrade"], env=env, cwd=ROOT, check=True, timeout=60, capture_output=True
    )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with serving([binary, "serve"], env=env, ready_url=base + "/healthz", cwd=ROOT, log=log):
        signed_in = http_request(
            "POST",
            base + "/api/v1/specialists",
            json={
                "name": "Fuzz",
                "email": "fuzz@example.com",
                "password": "fuzz password",
                "timezone": "UTC",
            },
        )
        cookie = signed_in.cookies["specialistly_session"]
        run = subprocess.run(
            schemathesis_command(base, cookie, "--max-examples", EXAMPLES, "--seed", "1"),
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Traceback" not in log.read_text()
