"""What the token flows hand out, and where a specialist goes to reconnect."""

from dataclasses import dataclass, field

RECONNECT_PATH = "/zoom/reconnect"


@dataclass(frozen=True)
class ZoomAccess:
    """A usable access token and the API base to use it with."""

    token: str = field(repr=False)
    api_base_url: str | None = None
    # The Zoom user the token acts as, when known (a specialist's connection).
    zoom_user_id: str | None = None


def v2(api_url: str | None) -> str | None:
    """The REST base for a token's regional `api_url`."""
    return api_url.rstrip("/") + "/v2" if api_url else None
