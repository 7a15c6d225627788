"""Wire the Zoom sandbox to this app's settings: one environment configures both."""

from pathlib import Path

import httpx
from pydantic import SecretStr
from starlette.types import ASGIApp

from specialistly.config import SANDBOX_MOUNT, ConfigurationError, Settings
from zoom_sandbox import (
    OAuthApp,
    SandboxApp,
    SandboxClock,
    SandboxConfig,
    SandboxStore,
    create_sandbox_app,
)

WEBHOOK_PATH = "/api/zoom/webhooks"
STATE_FILE = "zoom-sandbox.db"


def _required(value: str | SecretStr | None, name: str) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value:
        raise ConfigurationError([f"{name} is missing (the sandbox needs it)"])
    return value


def sandbox_config(settings: Settings, *, webhook_url: str | None) -> SandboxConfig:
    """Build the sandbox's two apps from the same variables the app reads."""
    scopes = tuple(settings.zoom_sandbox_scopes.split())
    user_app = OAuthApp(
        client_id=_required(settings.zoom_user_managed_client_id, "ZOOM_USER_MANAGED_CLIENT_ID"),
        client_secret=_required(
            settings.zoom_user_managed_client_secret, "ZOOM_USER_MANAGED_CLIENT_SECRET"
        ),
        kind="user_managed",
        scopes=scopes,
        redirect_uris=(_required(settings.zoom_redirect_uri, "ZOOM_REDIRECT_URI"),),
    )
    s2s_app = None
    if settings.has_s2s:
        s2s_app = OAuthApp(
            client_id=_required(settings.zoom_client_id, "ZOOM_CLIENT_ID"),
            client_secret=_required(settings.zoom_client_secret, "ZOOM_CLIENT_SECRET"),
            kind="server_to_server",
            scopes=scopes,
            account_id=settings.zoom_account_id,
        )
    return SandboxConfig(
        user_app=user_app,
        s2s_app=s2s_app,
        webhook_secret_token=_required(
            settings.zoom_webhook_secret_token, "ZOOM_WEBHOOK_SECRET_TOKEN"
        ),
        webhook_url=webhook_url,
        access_token_ttl=settings.zoom_sandbox_access_token_ttl,
        refresh_token_ttl=settings.zoom_sandbox_refresh_token_ttl,
        meetings_per_user_per_day=settings.zoom_sandbox_meetings_per_user_per_day,
    )


def mounted_sandbox(settings: Settings, app: ASGIApp, *, keep_state: bool = False) -> SandboxApp:
    """Build the sandbox served at `/zoom-sandbox`, sending its webhooks to `app` in-process;
    with `keep_state`, its users, grants and meetings live in `var/` across restarts."""
    config = sandbox_config(settings, webhook_url=settings.base_url + WEBHOOK_PATH)
    store = SandboxStore(settings.var_dir / STATE_FILE) if keep_state else None
    return create_sandbox_app(
        config,
        clock=SandboxClock(),
        webhook_transport=httpx.ASGITransport(app=app),
        store=store,
    )


def standalone_sandbox(settings: Settings, *, state_file: Path | None = None) -> SandboxApp:
    """Build the sandbox that `specialistly zoom-sandbox` serves on its own port (its state in
    memory, or in `state_file`)."""
    return create_sandbox_app(
        sandbox_config(settings, webhook_url=settings.zoom_sandbox_webhook_url),
        store=SandboxStore(state_file) if state_file else None,
    )


__all__ = ["SANDBOX_MOUNT", "mounted_sandbox", "sandbox_config", "standalone_sandbox"]
