"""`make run` on this checkout migrates, serves /healthz and the sandbox's consent page."""

import json
from pathlib import Path

import httpx

from tests.servers import ROOT, clean_env, free_port, serving


def test_make_run_serves_health_and_the_sandbox_consent_page(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(PORT=str(port), VAR_DIR=str(tmp_path / "var"))
    log = tmp_path / "run.log"
    with serving(
        ["make", "--no-print-directory", "run"],
        env=env,
        ready_url=base + "/healthz",
        cwd=ROOT,
        log=log,
        timeout=60,
    ):
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        assert httpx.get(base + "/readyz").status_code == 200
        generated = json.loads((tmp_path / "var" / "secrets.json").read_text())
        consent = httpx.get(
            base + "/zoom-sandbox/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": generated["user_client_id"],
                "redirect_uri": base + "/api/zoom/oauth/user-callback",
                "state": "s",
            },
        )
        assert consent.status_code == 200
        assert "Approve" in consent.text
        assert "Deny" in consent.text
    output = log.read_text()
    assert (tmp_path / "var" / "specialistly.db").exists()
    secret_names = (
        "secret_key",
        "token_encryption_key",
        "user_client_secret",
        "s2s_client_secret",
        "webhook_secret_token",
    )
    for name in secret_names:
        assert generated[name] not in output
