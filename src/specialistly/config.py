"""Settings: the only code that reads the environment. Fails fast, naming what is wrong."""

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from specialistly.db import DEFAULT_POOL_SIZE, async_url

CALLBACK_PATH = "/api/zoom/oauth/user-callback"
SANDBOX_MOUNT = "/zoom-sandbox"
DEFAULT_SANDBOX_SCOPES = (
    "user:read:user meeting:read:meeting meeting:write:meeting "
    "meeting:update:meeting meeting:delete:meeting"
)
USER_APP_VARS = ("ZOOM_USER_MANAGED_CLIENT_ID", "ZOOM_USER_MANAGED_CLIENT_SECRET")
LIVE_REQUIRED = (*USER_APP_VARS, "ZOOM_REDIRECT_URI", "ZOOM_WEBHOOK_SECRET_TOKEN")
S2S_VARS = ("ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_ACCOUNT_ID")
CREDENTIAL_VARS = (*USER_APP_VARS, *S2S_VARS, "ZOOM_WEBHOOK_SECRET_TOKEN")


class ConfigurationError(Exception):
    """The configuration cannot start the app; `problems` says each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Every variable of SPEC section 1, typed; secrets stay `SecretStr`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    zoom_user_managed_client_id: str | None = None
    zoom_user_managed_client_secret: SecretStr | None = None
    zoom_redirect_uri: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_account_id: str | None = None
    zoom_webhook_secret_token: SecretStr | None = None
    zoom_oauth_base_url: str = "https://zoom.us"
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_mode: Literal["live", "sandbox"] | None = None
    app_env: Literal["development", "production"] = "development"
    database_url: SecretStr | None = None
    # PostgreSQL: connections each server process keeps open (a burst opens up to half as many
    # more). Not SQLite's: its writes run in one thread.
    database_pool_size: int = Field(DEFAULT_POOL_SIZE, ge=1, le=500)
    token_encryption_keys: SecretStr | None = None
    secret_key: SecretStr | None = None
    public_base_url: str | None = None
    smtp_url: SecretStr | None = None
    # A PEM of the CA (or the self-signed certificate) to trust for SMTP instead of the system's.
    smtp_ca_file: Path | None = None
    zoom_sandbox_access_token_ttl: int = Field(3599, ge=1)
    zoom_sandbox_refresh_token_ttl: int = Field(7_776_000, ge=1)
    zoom_sandbox_meetings_per_user_per_day: int = Field(100, ge=0)
    zoom_sandbox_scopes: str = DEFAULT_SANDBOX_SCOPES
    zoom_sandbox_webhook_url: str | None = None
    meeting_fallback: Literal["platform", "none"] | None = None
    # Refresh an access token once it has less than this left (Zoom's are good for an hour).
    zoom_refresh_leeway_seconds: int = Field(300, ge=1, le=1800)
    zoom_http_timeout_seconds: float = Field(15.0, gt=0, le=120)
    meetings_job_interval_seconds: float = Field(10.0, gt=0)
    keepalive_refresh_after_days: float = Field(30, gt=0, le=80)
    keepalive_interval_seconds: float = Field(3600, gt=0)
    keepalive_concurrency: int = Field(4, ge=1, le=64)
    keepalive_max_per_second: float = Field(5.0, gt=0, le=1000)
    # Minutes before each booking's start at which both parties get a reminder ("" for none).
    reminder_offsets_minutes: str = "1440,60"
    reminders_job_interval_seconds: float = Field(30.0, gt=0)
    # A customer can reschedule or cancel online until this long before the start.
    housekeeping_interval_seconds: float = Field(3600.0, gt=0)
    # How long a process holds a periodic job's lease without renewing it (a dead process's
    # job is taken over by another after this).
    job_lease_seconds: float = Field(60.0, ge=1, le=3600)
    reschedule_cutoff_minutes: int = Field(60, ge=0, le=43_200)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    var_dir: Path = Path("var")

    @field_validator("token_encryption_keys", mode="before")
    @classmethod
    def _fernet_keys(cls, value: object) -> object:
        """Accept only comma-separated Fernet keys; an empty value means "not set"."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        if not raw.strip():
            return None
        keys = [k.strip() for k in raw.split(",")]
        if not any(keys):
            raise ValueError("holds no key")
        for number, key in enumerate(keys, start=1):
            if not key:
                raise ValueError(f"key {number} of {len(keys)} is empty")
            try:
                Fernet(key.encode())
            except ValueError:
                # Never repeat the value: it is a secret, or a secret's neighbour.
                raise ValueError(
                    f"key {number} of {len(keys)} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes; make one with `python -c 'from cryptography.fernet "
                    "import Fernet; print(Fernet.generate_key().decode())'`)"
                ) from None
        return value

    @field_validator("reminder_offsets_minutes")
    @classmethod
    def _offsets(cls, value: str) -> str:
        """Accept comma-separated whole minutes, each from 1 to 30 days."""
        for part in filter(None, (p.strip() for p in value.split(","))):
            if not part.isdigit() or not 1 <= int(part) <= 43_200:
                raise ValueError(
                    "must be comma-separated whole minutes from 1 to 43200, e.g. 1440,60"
                )
        return value

    @property
    def reminder_offsets(self) -> tuple[int, ...]:
        """The reminder offsets in minutes, largest first, each once."""
        parts = {int(p) for p in self.reminder_offsets_minutes.split(",") if p.strip()}
        return tuple(sorted(parts, reverse=True))

    @property
    def mode(self) -> Literal["live", "sandbox"]:
        if self.zoom_mode is not None:
            return self.zoom_mode
        return "live" if any(self._given(v) for v in CREDENTIAL_VARS) else "sandbox"

    @property
    def sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def has_s2s(self) -> bool:
        return all(self._given(v) for v in S2S_VARS)

    @property
    def fallback(self) -> Literal["platform", "none"]:
        if self.meeting_fallback is not None:
            return self.meeting_fallback
        return "platform" if self.has_s2s else "none"

    @property
    def async_database_url(self) -> str:
        given = self.database_url.get_secret_value() if self.database_url else None
        return async_url(given or f"sqlite:///{self.var_dir / 'specialistly.db'}")

    @property
    def encryption_keys(self) -> list[str]:
        raw = self.token_encryption_keys.get_secret_value() if self.token_encryption_keys else ""
        return [k.strip() for k in raw.split(",") if k.strip()]

    def _given(self, env_name: str) -> bool:
        value = getattr(self, env_name.lower())
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return bool(value)

    def problems(self) -> list[str]:
        """List every reason this configuration cannot start, each naming its variable."""
        found: list[str] = []
        if self.mode == "live":
            missing = [v for v in LIVE_REQUIRED if not self._given(v)]
            found += [f"{v} is missing (required in live mode)" for v in missing]
            partial_s2s = any(self._given(v) for v in S2S_VARS) and not self.has_s2s
            if partial_s2s:
                found += [
                    f"{v} is missing (the Server-to-Server app needs all of {', '.join(S2S_VARS)})"
                    for v in S2S_VARS
                    if not self._given(v)
                ]
        if (
            self.zoom_user_managed_client_id
            and self.zoom_user_managed_client_id == self.zoom_client_id
        ):
            found.append(
                "ZOOM_USER_MANAGED_CLIENT_ID equals ZOOM_CLIENT_ID: refreshing a specialist's "
                "token needs the user-managed app's own credentials, never the "
                "Server-to-Server app's"
            )
        if self.production:
            if self.sandbox:
                found.append("ZOOM_MODE is sandbox: production needs live Zoom credentials")
            found += [
                f"{v} is missing (production does not generate secrets)"
                for v in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS")
                if not self._given(v)
            ]
        if self.zoom_redirect_uri and redirect_path(self) != CALLBACK_PATH:
            found.append(
                f"ZOOM_REDIRECT_URI's path must be the callback route {CALLBACK_PATH} "
                f"(it is {redirect_path(self) or '/'})"
            )
        smtp = urlsplit(self.smtp_url.get_secret_value()) if self.smtp_url else None
        if smtp is not None and (smtp.scheme not in ("smtp", "smtps") or not smtp.hostname):
            found.append("SMTP_URL must be smtp://user:pass@host:port or smtps://user:pass@host")
        if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
            found.append(f"SMTP_CA_FILE {self.smtp_ca_file} is not a readable file")
        if self.meeting_fallback == "platform" and not self.has_s2s and not self.sandbox:
            found.append(
                "MEETING_FALLBACK is platform but the Server-to-Server app is not configured"
            )
        return found


def read_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`) into typed settings, or raise `ConfigurationError`.

    Pydantic's own message would quote the offending value, which may be a secret: each
    problem here names the variable and says what is wrong with it, never what it holds.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as invalid:
        raise ConfigurationError(
            [_invalid_variable(error) for error in invalid.errors(include_input=False)]
        ) from None


def _invalid_variable(error: ErrorDetails) -> str:
    name = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{name} is invalid: {message}"


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`), check it, and fill development secrets from `var/`."""
    settings = read_settings(**overrides)
    if problems := settings.problems():
        raise ConfigurationError(problems)
    return with_generated_secrets(settings)


def with_generated_secrets(settings: Settings) -> Settings:
    """Outside production, fill unset secrets (and sandbox credentials) from `var/secrets.json`."""
    if settings.production:
        return settings
    generated = _generated(settings.var_dir)
    fill: dict[str, object] = {}
    if not settings.secret_key:
        fill["secret_key"] = SecretStr(generated["secret_key"])
    if not settings.token_encryption_keys:
        fill["token_encryption_keys"] = SecretStr(generated["token_encryption_key"])
    if settings.sandbox:
        base = settings.base_url
        fill |= {
            "zoom_mode": "sandbox",
            "zoom_user_managed_client_id": settings.zoom_user_managed_client_id
            or generated["user_client_id"],
            "zoom_user_managed_client_secret": settings.zoom_user_managed_client_secret
            or SecretStr(generated["user_client_secret"]),
            "zoom_client_id": settings.zoom_client_id or generated["s2s_client_id"],
            "zoom_client_secret": settings.zoom_client_secret
            or SecretStr(generated["s2s_client_secret"]),
            "zoom_account_id": settings.zoom_account_id or generated["s2s_account_id"],
            "zoom_webhook_secret_token": settings.zoom_webhook_secret_token
            or SecretStr(generated["webhook_secret_token"]),
            "zoom_redirect_uri": settings.zoom_redirect_uri or base + CALLBACK_PATH,
            "zoom_oauth_base_url": base + SANDBOX_MOUNT,
            "zoom_api_base_url": base + SANDBOX_MOUNT + "/v2",
        }
    return settings.model_copy(update=fill) if fill else settings


def _generated(var_dir: Path) -> dict[str, str]:
    """Return this installation's generated secrets, creating them once (file mode 0600)."""
    path = var_dir / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted: dict[str, Callable[[], str]] = {
        "secret_key": lambda: secrets.token_urlsafe(48),
        "token_encryption_key": lambda: Fernet.generate_key().decode(),
        "user_client_id": lambda: "um_" + secrets.token_urlsafe(16),
        "user_client_secret": lambda: secrets.token_urlsafe(32),
        "s2s_client_id": lambda: "s2s_" + secrets.token_urlsafe(16),
        "s2s_client_secret": lambda: secrets.token_urlsafe(32),
        "s2s_account_id": lambda: "acct_" + secrets.token_urlsafe(10),
        "webhook_secret_token": lambda: secrets.token_urlsafe(24),
    }
    missing = {k: make() for k, make in wanted.items() if k not in values}
    if missing:
        values |= missing
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(values, out)
    return values


def redirect_path(settings: Settings) -> str:
    return urlsplit(settings.zoom_redirect_uri or "").path
