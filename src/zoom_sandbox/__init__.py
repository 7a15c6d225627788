"""A stand-in for Zoom's OAuth server, Users and Meetings API and webhooks, strict as Zoom is."""

from zoom_sandbox.app import SandboxApp, create_sandbox_app
from zoom_sandbox.app_state import Sandbox
from zoom_sandbox.clock import SandboxClock
from zoom_sandbox.config import DEFAULT_USER_SCOPES, OAuthApp, SandboxConfig
from zoom_sandbox.store import SandboxStore
from zoom_sandbox.transport import SandboxTransport, UvicornConnectionDropper

__all__ = [
    "DEFAULT_USER_SCOPES",
    "OAuthApp",
    "Sandbox",
    "SandboxApp",
    "SandboxClock",
    "SandboxConfig",
    "SandboxStore",
    "SandboxTransport",
    "UvicornConnectionDropper",
    "create_sandbox_app",
]
