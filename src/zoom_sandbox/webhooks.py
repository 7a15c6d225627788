"""Zoom's signed webhooks: the v0 signature and the events the sandbox sends."""

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Zoom signs."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypt_plain_token(secret: str, plain_token: str) -> str:
    """Return the `encryptedToken` a valid endpoint answers a URL validation with."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def signed_request(
    secret: str, event: dict[str, Any], now: datetime
) -> tuple[bytes, dict[str, str]]:
    """Serialize an event and return its body with Zoom's headers."""
    body = json.dumps(event, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
        "user-agent": "Zoom Marketplace/1.0a",
    }
    return body, headers


def app_deauthorized(
    *, account_id: str, user_id: str, client_id: str, secret: str, now: datetime
) -> dict[str, Any]:
    event_ts = int(now.timestamp() * 1000)
    when = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    legacy_signature = hmac.new(
        secret.encode(), f"{account_id}:{user_id}:{event_ts}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "event": "app_deauthorized",
        "event_ts": event_ts,
        "payload": {
            "account_id": account_id,
            "user_id": user_id,
            "signature": legacy_signature,
            "deauthorization_time": when,
            "client_id": client_id,
            "event_ts": event_ts,
        },
    }


def url_validation(now: datetime) -> dict[str, Any]:
    return {
        "event": "endpoint.url_validation",
        "event_ts": int(now.timestamp() * 1000),
        "payload": {"plainToken": secrets.token_urlsafe(16)},
    }
