"""`specialistly doctor`: a clean sandbox passes; each broken configuration fails, naming it."""

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.servers import BIN, clean_env, free_port, serving

REDIRECT = "https://app.example.test/api/zoom/oauth/user-callback"


def run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "specialistly"), "doctor"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def migrate(env: dict[str, str], cwd: Path) -> None:
    subprocess.run(
        [str(BIN / "specialistly"), "db", "upgrade"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


def live(tmp_path: Path, **changes: str) -> dict[str, str]:
    values = {
        "ZOOM_USER_MANAGED_CLIENT_ID": "um_" + secrets.token_hex(6),
        "ZOOM_USER_MANAGED_CLIENT_SECRET": "umsecret_" + secrets.token_hex(12),
        "ZOOM_REDIRECT_URI": REDIRECT,
        "ZOOM_CLIENT_ID": "s2s_" + secrets.token_hex(6),
        "ZOOM_CLIENT_SECRET": "s2ssecret_" + secrets.token_hex(12),
        "ZOOM_ACCOUNT_ID": "acct_doctor",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "hooksecret_" + secrets.token_hex(12),
        "DATABASE_URL": f"sqlite:///{tmp_path}/doctor.db",
        "VAR_DIR": str(tmp_path / "var"),
        **changes,
    }
    return clean_env(**{k: v for k, v in values.items() if v})


def no_whole_secret(result: subprocess.CompletedProcess[str], env: dict[str, str]) -> None:
    output = result.stdout + result.stderr
    for name, value in env.items():
        if ("SECRET" in name or name.endswith("_KEYS") or name == "SECRET_KEY") and value:
            assert value not in output, name


def test_a_clean_sandbox_passes(tmp_path: Path) -> None:
    env = clean_env(VAR_DIR=str(tmp_path / "var"))
    migrate(env, tmp_path)
    result = run(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox" in result.stdout
    assert "all checks passed" in result.stdout
    generated = (tmp_path / "var" / "secrets.json").read_text()
    for value in json.loads(generated).values():
        if len(value) > 20:
            assert value not in result.stdout


def test_a_live_setup_passes_against_a_reachable_zoom(tmp_path: Path) -> None:
    port = free_port()
    zoom = f"http://127.0.0.1:{port}"
    env = live(tmp_path, ZOOM_OAUTH_BASE_URL=zoom, ZOOM_API_BASE_URL=zoom + "/v2")
    migrate(env, tmp_path)
    with serving(
        [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(port)],
        env=env,
        ready_url=zoom + "/",
        cwd=tmp_path,
        log=tmp_path / "sandbox.log",
    ):
        result = run(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "granted, expires in 3600 s" in result.stdout
    no_whole_secret(result, env)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"ZOOM_WEBHOOK_SECRET_TOKEN": ""}, "ZOOM_WEBHOOK_SECRET_TOKEN"),
        ({"ZOOM_USER_MANAGED_CLIENT_SECRET": ""}, "ZOOM_USER_MANAGED_CLIENT_SECRET"),
        ({"ZOOM_CLIENT_ID": "same-id", "ZOOM_USER_MANAGED_CLIENT_ID": "same-id"}, "apps distinct"),
        ({"ZOOM_REDIRECT_URI": "https://app.example.test/oauth/back"}, "callback route"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}, "database unreachable"),
        (
            {"APP_ENV": "production", "ZOOM_REDIRECT_URI": REDIRECT.replace("https", "http")},
            "https",
        ),
    ],
    ids=[
        "missing-webhook-secret",
        "missing-client-secret",
        "same-client-id",
        "redirect-off-route",
        "database-unreachable",
        "production-http",
    ],
)
def test_each_broken_configuration_fails_naming_it(
    tmp_path: Path, changes: dict[str, str], named: str
) -> None:
    env = live(tmp_path, ZOOM_OAUTH_BASE_URL=f"http://127.0.0.1:{free_port()}", **changes)
    if "DATABASE_URL" not in changes:
        migrate(env, tmp_path)
    result = run(env, tmp_path)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    no_whole_secret(result, env)


def test_an_unreachable_zoom_is_said_plainly(tmp_path: Path) -> None:
    env = live(tmp_path, ZOOM_OAUTH_BASE_URL=f"http://127.0.0.1:{free_port()}")
    migrate(env, tmp_path)
    result = run(env, tmp_path)
    assert result.returncode != 0
    assert "cannot reach Zoom at" in result.stdout
    no_whole_secret(result, env)
