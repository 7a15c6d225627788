"""What a sandbox knows about its two Zoom apps and the limits it enforces."""

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_USER_SCOPES: tuple[str, ...] = (
    "user:read:user",
    "meeting:read:meeting",
    "meeting:write:meeting",
    "meeting:update:meeting",
    "meeting:delete:meeting",
)
DEFAULT_S2S_SCOPES: tuple[str, ...] = DEFAULT_USER_SCOPES


@dataclass(frozen=True)
class OAuthApp:
    """One Zoom Marketplace app: its credentials, its kind and the scopes it grants."""

    client_id: str
    client_secret: str
    kind: Literal["user_managed", "server_to_server"]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    account_id: str | None = None


@dataclass(frozen=True)
class SandboxConfig:
    """The apps, lifetimes and limits one sandbox runs with."""

    user_app: OAuthApp
    webhook_secret_token: str
    s2s_app: OAuthApp | None = None
    webhook_url: str | None = None
    access_token_ttl: int = 3599
    refresh_token_ttl: int = 7_776_000
    meetings_per_user_per_day: int = 100
    authorization_code_ttl: int = 300
    # Older field reports say a new S2S token ends the previous one; sources disagree (ZOOM.md).
    s2s_token_invalidates_previous: bool = False
    apps: dict[str, OAuthApp] = field(init=False)

    def __post_init__(self) -> None:
        apps = {self.user_app.client_id: self.user_app}
        if self.s2s_app is not None:
            if self.s2s_app.client_id == self.user_app.client_id:
                raise ValueError("the Server-to-Server app needs a client id of its own")
            apps[self.s2s_app.client_id] = self.s2s_app
        object.__setattr__(self, "apps", apps)

    @property
    def s2s_access_token_ttl(self) -> int:
        # Zoom answers 3599 for user tokens and 3600 for Server-to-Server tokens.
        return self.access_token_ttl + 1
