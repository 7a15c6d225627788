"""Typed settings: sandbox or live, and start-up refusals that name what is wrong."""

import json
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from specialistly.app import create_app
from specialistly.config import ConfigurationError, Settings, load_settings
from tests.servers import BIN, clean_env

LIVE = {
    "zoom_user_managed_client_id": "um-id",
    "zoom_user_managed_client_secret": "um-secret-value",
    "zoom_redirect_uri": "https://example.com/api/zoom/oauth/user-callback",
    "zoom_webhook_secret_token": "hook-secret-value",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_no_zoom_credentials_means_sandbox_mode() -> None:
    assert settings().mode == "sandbox"
    assert settings(**LIVE).mode == "live"
    assert settings(**LIVE, zoom_mode="sandbox").mode == "sandbox"


def test_live_mode_names_each_missing_variable() -> None:
    problems = settings(zoom_user_managed_client_id="um-id").problems()
    text = "\n".join(problems)
    for name in (
        "ZOOM_USER_MANAGED_CLIENT_SECRET",
        "ZOOM_REDIRECT_URI",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
    ):
        assert name in text
    assert "ZOOM_USER_MANAGED_CLIENT_ID is missing" not in text
    assert len(problems) == 3


def test_half_an_s2s_app_names_the_missing_half() -> None:
    problems = settings(**LIVE, zoom_client_id="s2s-id").problems()
    assert any("ZOOM_CLIENT_SECRET" in p for p in problems)
    assert any("ZOOM_ACCOUNT_ID" in p for p in problems)


def test_the_same_client_id_for_both_apps_is_refused() -> None:
    config = settings(
        **LIVE, zoom_client_id="um-id", zoom_client_secret="x", zoom_account_id="acct"
    )
    assert any("ZOOM_USER_MANAGED_CLIENT_ID equals ZOOM_CLIENT_ID" in p for p in config.problems())


def test_production_refuses_sandbox_mode_and_generated_secrets() -> None:
    problems = "\n".join(settings(app_env="production").problems())
    assert "sandbox" in problems
    assert "SECRET_KEY" in problems
    assert "TOKEN_ENCRYPTION_KEYS" in problems


def test_development_secrets_are_generated_once_into_var(tmp_path: Path) -> None:
    first = load_settings(_env_file=None, var_dir=tmp_path)
    second = load_settings(_env_file=None, var_dir=tmp_path)
    assert first.secret_key is not None
    assert second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert first.zoom_user_managed_client_id == second.zoom_user_managed_client_id
    assert first.zoom_user_managed_client_id != first.zoom_client_id
    assert first.mode == "sandbox"
    assert first.zoom_oauth_base_url == "http://127.0.0.1:8000/zoom-sandbox"
    stored = tmp_path / "secrets.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert set(json.loads(stored.read_text())) >= {"secret_key", "token_encryption_key"}


def test_load_settings_raises_with_every_problem() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(_env_file=None, zoom_client_id="only-this")
    assert len(raised.value.problems) >= 5


def test_starting_live_mode_with_missing_variables_exits_non_zero_naming_them(
    tmp_path: Path,
) -> None:
    secret = "s2s-secret-that-must-not-print"
    env = clean_env(ZOOM_CLIENT_ID="s2s-id", ZOOM_CLIENT_SECRET=secret, VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [str(BIN / "specialistly"), "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    for name in (
        "ZOOM_USER_MANAGED_CLIENT_ID",
        "ZOOM_USER_MANAGED_CLIENT_SECRET",
        "ZOOM_REDIRECT_URI",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
        "ZOOM_ACCOUNT_ID",
    ):
        assert name in result.stderr
    assert secret not in result.stdout + result.stderr


def test_starting_with_the_seed_bugs_configuration_is_refused(tmp_path: Path) -> None:
    env = clean_env(
        ZOOM_USER_MANAGED_CLIENT_ID="same-id",
        ZOOM_USER_MANAGED_CLIENT_SECRET="a",
        ZOOM_REDIRECT_URI="https://example.com/api/zoom/oauth/user-callback",
        ZOOM_WEBHOOK_SECRET_TOKEN="w",
        ZOOM_CLIENT_ID="same-id",
        ZOOM_CLIENT_SECRET="b",
        ZOOM_ACCOUNT_ID="acct",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [str(BIN / "specialistly"), "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ZOOM_USER_MANAGED_CLIENT_ID equals ZOOM_CLIENT_ID" in result.stderr


def test_a_redirect_uri_off_the_callback_route_is_refused() -> None:
    config = settings(**{**LIVE, "zoom_redirect_uri": "https://example.com/oauth/zoom"})
    assert any("/api/zoom/oauth/user-callback" in p for p in config.problems())


def test_an_smtp_url_of_another_scheme_or_a_missing_ca_file_is_refused(tmp_path: Path) -> None:
    problems = settings(
        smtp_url="http://user:secret-pass@mail.example.com", smtp_ca_file=tmp_path / "none.pem"
    ).problems()
    assert any(p.startswith("SMTP_URL must be smtp://") for p in problems)
    assert any(p.startswith("SMTP_CA_FILE") for p in problems)
    assert "secret-pass" not in "\n".join(problems)
    assert settings(smtp_url="smtps://user:pass@mail.example.com:465").problems() == []


BAD_KEY = "not-a-fernet-key-but-secret-all-the-same-0123456789"


@pytest.mark.parametrize("command", [["serve"], ["doctor"], ["db", "upgrade"]])
@pytest.mark.parametrize(
    "keys",
    [BAD_KEY, f"{Fernet.generate_key().decode()},{BAD_KEY}", " , "],
    ids=["malformed", "second-of-two-malformed", "no-key"],
)
def test_a_malformed_token_encryption_key_stops_the_command_naming_the_variable(
    tmp_path: Path, command: list[str], keys: str
) -> None:
    env = clean_env(
        TOKEN_ENCRYPTION_KEYS=keys,
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/app.db",
    )
    result = subprocess.run(
        [str(BIN / "specialistly"), *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "TOKEN_ENCRYPTION_KEYS" in result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "not-a-fernet-key" not in output
    for key in keys.split(","):
        if key.strip():
            assert key.strip() not in output


def test_create_app_refuses_a_malformed_token_encryption_key_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", BAD_KEY)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as refused:
        create_app()
    problems = "\n".join(refused.value.problems)
    assert "TOKEN_ENCRYPTION_KEYS" in problems
    assert BAD_KEY not in problems + str(refused.value) + repr(refused.value)


def test_an_empty_token_encryption_keys_means_generate_one_in_development(tmp_path: Path) -> None:
    loaded = load_settings(_env_file=None, token_encryption_keys="", var_dir=tmp_path)
    assert len(loaded.encryption_keys) == 1


def test_a_database_pool_size_out_of_range_or_not_a_number_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings().database_pool_size == 20
    monkeypatch.setenv("DATABASE_POOL_SIZE", "7")
    assert load_settings(_env_file=None).database_pool_size == 7
    for wrong in ("0", "many", "501"):
        monkeypatch.setenv("DATABASE_POOL_SIZE", wrong)
        with pytest.raises(ConfigurationError) as refused:
            load_settings(_env_file=None)
        assert any("DATABASE_POOL_SIZE" in problem for problem in refused.value.problems)
