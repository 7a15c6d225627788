"""Signed webhooks: app_deauthorized on deauthorize and revoke, and endpoint URL validation."""

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from tests.conftest import make_sandbox_config
from tests.zoomkit import SandboxKit
from zoom_sandbox import SandboxTransport, create_sandbox_app

HOOK_URL = "http://receiver.test/hook"
EMAIL = "host@example.com"
INVALID_TOKEN = {"reason": "Invalid Token!", "error": "invalid_grant"}


@dataclass
class Delivery:
    path: str
    raw_body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.raw_body)
        return event


@dataclass
class Receiver:
    """A webhook endpoint that records what arrives and answers URL validation challenges."""

    secret: str
    wrong_answers: bool = False
    deliveries: list[Delivery] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        self.deliveries.append(Delivery(request.url.path, raw, dict(request.headers)))
        event = json.loads(raw)
        answer: dict[str, str] = {}
        if event.get("event") == "endpoint.url_validation":
            plain = event["payload"]["plainToken"]
            key = "not-the-secret" if self.wrong_answers else self.secret
            encrypted = hmac.new(key.encode(), plain.encode(), hashlib.sha256).hexdigest()
            answer = {"plainToken": plain, "encryptedToken": encrypted}
        await JSONResponse(answer)(scope, receive, send)

    def events(self, name: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.event.get("event") == name]


@dataclass
class HookedKit:
    kit: SandboxKit
    receiver: Receiver


@asynccontextmanager
async def hooked_kit(*, wrong_answers: bool = False) -> AsyncIterator[HookedKit]:
    config = make_sandbox_config(webhook_url=HOOK_URL)
    receiver = Receiver(config.webhook_secret_token, wrong_answers=wrong_answers)
    app = create_sandbox_app(config, webhook_transport=httpx.ASGITransport(app=receiver))
    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url="https://zoom.sandbox.test"
    ) as client:
        yield HookedKit(SandboxKit(app=app, config=config, http=client), receiver)


@pytest.fixture
async def hooked() -> AsyncIterator[HookedKit]:
    async with hooked_kit() as each:
        yield each


@pytest.fixture
async def wrongly_hooked() -> AsyncIterator[HookedKit]:
    async with hooked_kit(wrong_answers=True) as each:
        yield each


def zoom_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """Sign as Zoom documents it: v0= + hex HMAC-SHA256(secret, "v0:{ts}:{body}")."""
    message = f"v0:{timestamp}:".encode() + raw_body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def assert_signed_by_zoom(delivery: Delivery, secret: str) -> None:
    timestamp = delivery.headers["x-zm-request-timestamp"]
    assert timestamp.isdigit()
    assert abs(int(timestamp) - time.time()) < 60, "not epoch seconds of now"
    expected = zoom_signature(secret, timestamp, delivery.raw_body)
    assert hmac.compare_digest(delivery.headers["x-zm-signature"], expected)


async def assert_tokens_ended(kit: SandboxKit, tokens: dict[str, Any]) -> None:
    api = await kit.api("GET", "/users/me", tokens["access_token"])
    assert api.status_code == 401
    assert api.json() == {"code": 124, "message": "Invalid access token."}
    refresh = await kit.refresh(tokens["refresh_token"])
    assert refresh.status_code == 400
    assert refresh.json() == INVALID_TOKEN


async def test_deauthorize_ends_the_tokens_and_sends_a_signed_app_deauthorized(
    hooked: HookedKit,
) -> None:
    kit, receiver = hooked.kit, hooked.receiver
    tokens = await kit.connect(EMAIL)
    me = (await kit.api("GET", "/users/me", tokens["access_token"])).json()

    answer = await kit.control("POST", f"/users/{EMAIL}/deauthorize")
    assert answer["webhook"]["delivered"] is True

    await assert_tokens_ended(kit, tokens)
    [delivery] = receiver.events("app_deauthorized")
    assert delivery.path == "/hook"
    assert delivery.headers["content-type"].startswith("application/json")
    assert_signed_by_zoom(delivery, kit.config.webhook_secret_token)
    event = delivery.event
    payload = event["payload"]
    assert set(payload) >= {
        "account_id",
        "user_id",
        "client_id",
        "deauthorization_time",
        "signature",
        "event_ts",
    }
    assert payload["user_id"] == me["id"]
    assert payload["account_id"] == me["account_id"]
    assert payload["client_id"] == kit.config.user_app.client_id
    assert payload["signature"]
    assert isinstance(payload["event_ts"], int)
    assert isinstance(event["event_ts"], int)
    assert abs(event["event_ts"] / 1000 - time.time()) < 60
    assert datetime.fromisoformat(payload["deauthorization_time"]).tzinfo is not None
    assert (await kit.control("GET", "/stats"))["webhooks"] == {"200": 1}


async def test_a_tampered_body_does_not_match_the_signature(hooked: HookedKit) -> None:
    kit, receiver = hooked.kit, hooked.receiver
    await kit.connect(EMAIL)
    await kit.control("POST", f"/users/{EMAIL}/deauthorize")
    [delivery] = receiver.deliveries
    timestamp = delivery.headers["x-zm-request-timestamp"]
    tampered = delivery.raw_body.replace(b"app_deauthorized", b"app_deauthorizeX")
    secret = kit.config.webhook_secret_token
    assert delivery.headers["x-zm-signature"] != zoom_signature(secret, timestamp, tampered)
    assert delivery.headers["x-zm-signature"] != zoom_signature(
        "other", timestamp, delivery.raw_body
    )


async def test_url_validation_succeeds_against_a_receiver_that_knows_the_secret(
    hooked: HookedKit,
) -> None:
    kit, receiver = hooked.kit, hooked.receiver
    answer = await kit.control("POST", "/webhooks/validate")
    assert answer["valid"] is True
    assert answer["status"] == 200
    [delivery] = receiver.events("endpoint.url_validation")
    assert delivery.event["payload"]["plainToken"]
    assert_signed_by_zoom(delivery, kit.config.webhook_secret_token)


async def test_url_validation_fails_against_a_receiver_with_the_wrong_answer(
    wrongly_hooked: HookedKit,
) -> None:
    answer = await wrongly_hooked.kit.control("POST", "/webhooks/validate")
    assert answer["valid"] is False
    assert len(wrongly_hooked.receiver.deliveries) == 1


async def test_revoking_ends_the_tokens_and_sends_app_deauthorized_soon_after(
    hooked: HookedKit,
) -> None:
    kit, receiver = hooked.kit, hooked.receiver
    tokens = await kit.connect(EMAIL)
    user_id = (await kit.api("GET", "/users/me", tokens["access_token"])).json()["id"]

    answer = await kit.http.post(
        "/oauth/revoke", data={"token": tokens["access_token"]}, headers=kit.user_auth()
    )
    assert answer.status_code == 200
    assert answer.json() == {"status": "success"}
    await assert_tokens_ended(kit, tokens)

    for _ in range(40):
        if receiver.events("app_deauthorized"):
            break
        await asyncio.sleep(0.05)
    [delivery] = receiver.events("app_deauthorized")
    assert delivery.event["payload"]["user_id"] == user_id
    assert delivery.event["payload"]["client_id"] == kit.config.user_app.client_id
    assert_signed_by_zoom(delivery, kit.config.webhook_secret_token)
