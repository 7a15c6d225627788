"""POST /api/zoom/webhooks: Zoom's signed events, built here by Zoom's own recipe."""

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from tests.harness import Harness

WEBHOOK = "/api/zoom/webhooks"


def secret(h: Harness) -> str:
    token = h.settings.zoom_webhook_secret_token
    assert token is not None
    return token.get_secret_value()


def now_ts(h: Harness) -> str:
    return str(int(h.ctx.clock.now().timestamp()))


def sign(key: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signed(h: Harness, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """The headers Zoom sends with this exact body."""
    ts = timestamp if timestamp is not None else now_ts(h)
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": sign(secret(h), ts, body),
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def deauthorized_event(h: Harness, zoom_user_id: str) -> bytes:
    now = h.ctx.clock.now()
    event_ts = int(now.timestamp() * 1000)
    return encode(
        {
            "event": "app_deauthorized",
            "event_ts": event_ts,
            "payload": {
                "account_id": "acct_test",
                "user_id": zoom_user_id,
                "signature": "legacy",
                "deauthorization_time": now.isoformat(timespec="milliseconds").replace(
                    "+00:00", "Z"
                ),
                "client_id": h.settings.zoom_user_managed_client_id,
                "event_ts": event_ts,
            },
        }
    )


async def post(h: Harness, body: bytes, headers: dict[str, str]) -> httpx.Response:
    answer = await h.client().post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code < 500, answer.text
    return answer


async def connected_with_user_id(h: Harness, zoom_email: str) -> tuple[httpx.AsyncClient, int, str]:
    browser, specialist = await h.connected(zoom_email)
    status = (await browser.get("/api/v1/zoom/status")).json()
    assert status["status"] == "connected"
    assert status["zoom_user_id"]
    return browser, specialist, str(status["zoom_user_id"])


async def tokens_held(h: Harness, specialist: int) -> tuple[Any, Any]:
    [(access, refresh)] = await h.raw(
        "SELECT access_token, refresh_token FROM zoom_connections WHERE specialist_id = :s",
        s=specialist,
    )
    return access, refresh


# --- URL validation and unknown events ---------------------------------------------------


async def test_a_signed_url_validation_is_answered_with_the_encrypted_plain_token(
    h: Harness,
) -> None:
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    body = encode(
        {
            "payload": {"plainToken": plain},
            "event_ts": int(h.ctx.clock.now().timestamp() * 1000),
            "event": "endpoint.url_validation",
        }
    )
    answer = await post(h, body, signed(h, body))
    assert answer.status_code == 200
    expected = hmac.new(secret(h).encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert answer.json() == {"plainToken": plain, "encryptedToken": expected}


async def test_the_sandbox_validates_the_endpoint_too(h: Harness) -> None:
    result = await h.control("POST", "/webhooks/validate")
    assert result["status"] == 200
    assert result["valid"] is True


async def test_a_signed_unknown_event_is_acknowledged_and_changes_nothing(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "unknown@example.com")
    before = await tokens_held(h, specialist)
    body = encode(
        {
            "event": "meeting.started",
            "event_ts": int(h.ctx.clock.now().timestamp() * 1000),
            "payload": {"account_id": "acct_test", "object": {"host_id": zoom_user_id}},
        }
    )
    answer = await post(h, body, signed(h, body))
    assert answer.status_code == 200
    assert await h.status(specialist) == "connected"
    assert await tokens_held(h, specialist) == before
    assert await h.notifications(specialist, "zoom_deauthorized") == 0


# --- refused requests --------------------------------------------------------------------


async def test_a_forged_signature_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "forged@example.com")
    body = deauthorized_event(h, zoom_user_id)
    ts = now_ts(h)
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": sign("not-the-secret", ts, body),
    }
    answer = await post(h, body, headers)
    assert answer.status_code == 401
    assert "detail" in answer.json()
    assert await h.status(specialist) == "connected"
    assert await h.notifications(specialist, "zoom_deauthorized") == 0


async def test_a_missing_signature_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "nosig@example.com")
    body = deauthorized_event(h, zoom_user_id)
    headers = signed(h, body)
    del headers["x-zm-signature"]
    assert (await post(h, body, headers)).status_code == 401
    assert await h.status(specialist) == "connected"


async def test_a_missing_timestamp_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "nots@example.com")
    body = deauthorized_event(h, zoom_user_id)
    headers = signed(h, body)
    del headers["x-zm-request-timestamp"]
    assert (await post(h, body, headers)).status_code == 401
    assert await h.status(specialist) == "connected"


async def test_a_correctly_signed_event_six_minutes_old_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "old@example.com")
    body = deauthorized_event(h, zoom_user_id)
    old = str(int(h.ctx.clock.now().timestamp()) - 6 * 60)
    answer = await post(h, body, signed(h, body, old))
    assert answer.status_code == 401
    assert await h.status(specialist) == "connected"
    assert await h.notifications(specialist, "zoom_deauthorized") == 0


async def test_a_signed_event_replayed_six_minutes_later_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "replay@example.com")
    body = deauthorized_event(h, zoom_user_id)
    headers = signed(h, body)
    await h.advance(6 * 60)
    assert (await post(h, body, headers)).status_code == 401
    assert await h.status(specialist) == "connected"


async def test_a_correctly_signed_event_four_minutes_old_is_accepted(h: Harness) -> None:
    body = encode({"event": "meeting.ended", "payload": {}})
    recent = str(int(h.ctx.clock.now().timestamp()) - 4 * 60)
    assert (await post(h, body, signed(h, body, recent))).status_code == 200


async def test_a_body_changed_after_signing_is_refused(h: Harness) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "tamper@example.com")
    original = encode({"event": "meeting.started", "payload": {"user_id": zoom_user_id}})
    headers = signed(h, original)
    tampered = original.replace(b"meeting.started", b"app_deauthorized")
    assert tampered != original
    answer = await post(h, tampered, headers)
    assert answer.status_code == 401
    assert await h.status(specialist) == "connected"
    assert await h.notifications(specialist, "zoom_deauthorized") == 0


async def test_a_signature_over_another_timestamp_is_refused(h: Harness) -> None:
    body = encode({"event": "meeting.started", "payload": {}})
    headers = signed(h, body, str(int(h.ctx.clock.now().timestamp()) - 10))
    headers["x-zm-request-timestamp"] = now_ts(h)
    assert (await post(h, body, headers)).status_code == 401


@pytest.mark.parametrize(
    "signature",
    ["", "v0=", "v0=zz", "v1=" + "0" * 64, "garbage", "v0=" + "0" * 64, "v0=" + "a" * 10_000],
    ids=["empty", "bare-prefix", "not-hex", "other-version", "garbage", "zeros", "very-long"],
)
async def test_malformed_signatures_are_refused(h: Harness, signature: str) -> None:
    body = encode({"event": "meeting.started", "payload": {}})
    headers = signed(h, body)
    headers["x-zm-signature"] = signature
    assert (await post(h, body, headers)).status_code == 401


@pytest.mark.parametrize(
    "timestamp",
    [b"", b"soon", b"-5", b"1.5e9", b"9" * 400, b"9" * 5000, b"\xb2", b"\xb9\xb2\xb3"],
    ids=[
        "empty",
        "words",
        "negative",
        "float",
        "huge",
        "beyond-int-digits",
        "superscript-two",
        "superscripts",
    ],
)
async def test_malformed_timestamps_are_refused_without_a_server_error(
    h: Harness, timestamp: bytes
) -> None:
    body = encode({"event": "meeting.started", "payload": {}})
    ts = timestamp.decode("latin-1")
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"x-zm-request-timestamp", timestamp),
        (b"x-zm-signature", sign(secret(h), ts, body).encode()),
    ]
    answer = await h.client().post(WEBHOOK, content=body, headers=raw_headers)
    assert answer.status_code == 401, answer.text


async def test_a_signed_body_that_is_not_json_is_a_bad_request(h: Harness) -> None:
    body = b"event=app_deauthorized&user_id=someone"
    answer = await post(h, body, signed(h, body))
    assert answer.status_code == 400
    assert "detail" in answer.json()


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'"app_deauthorized"', b"null", b"\xff\xfe{}", b'{"event": 5, "payload": []}'],
    ids=["empty", "list", "string", "null", "not-utf8", "odd-types"],
)
async def test_signed_bodies_that_are_not_events_get_no_server_error(
    h: Harness, body: bytes
) -> None:
    answer = await post(h, body, signed(h, body))
    assert answer.status_code in (200, 400), answer.text


async def test_a_signed_deauthorization_with_odd_payloads_gets_no_server_error(
    h: Harness,
) -> None:
    _, specialist, _ = await connected_with_user_id(h, "odd@example.com")
    for payload in ({}, {"user_id": None}, {"user_id": 12345}, {"user_id": ["x"]}, "text"):
        body = encode({"event": "app_deauthorized", "payload": payload})
        answer = await post(h, body, signed(h, body))
        assert answer.status_code in (200, 400), answer.text
    assert await h.status(specialist) == "connected"


async def test_a_huge_body_is_refused_as_too_large(h: Harness) -> None:
    body = encode({"event": "meeting.started", "payload": {"pad": "x" * (65 * 1024)}})
    assert len(body) > 64 * 1024
    answer = await post(h, body, signed(h, body))
    assert answer.status_code == 413


async def test_a_huge_unsigned_body_is_refused_as_too_large(h: Harness) -> None:
    body = b"x" * (1024 * 1024)
    answer = await post(h, body, {"content-type": "application/json"})
    assert answer.status_code == 413


# --- app_deauthorized --------------------------------------------------------------------


async def test_a_signed_deauthorization_disconnects_the_specialist_and_tells_them_once(
    h: Harness,
) -> None:
    browser, specialist, zoom_user_id = await connected_with_user_id(h, "bye@example.com")
    body = deauthorized_event(h, zoom_user_id)
    answer = await post(h, body, signed(h, body))
    assert answer.status_code == 200
    assert await h.status(specialist) == "not_connected"
    assert (await browser.get("/api/v1/zoom/status")).json()["status"] == "not_connected"
    assert await tokens_held(h, specialist) == (None, None)
    assert await h.notifications(specialist, "zoom_deauthorized") == 1
    kinds = [n["kind"] for n in (await browser.get("/api/v1/notifications")).json()]
    assert kinds.count("zoom_deauthorized") == 1


async def test_a_replayed_deauthorization_is_acknowledged_and_notifies_only_once(
    h: Harness,
) -> None:
    _, specialist, zoom_user_id = await connected_with_user_id(h, "twice@example.com")
    body = deauthorized_event(h, zoom_user_id)
    headers = signed(h, body)
    assert (await post(h, body, headers)).status_code == 200
    assert (await post(h, body, headers)).status_code == 200
    assert await h.status(specialist) == "not_connected"
    assert await tokens_held(h, specialist) == (None, None)
    assert await h.notifications(specialist, "zoom_deauthorized") == 1


async def test_a_deauthorization_touches_only_that_zoom_users_specialist(h: Harness) -> None:
    _, leaving, zoom_user_id = await connected_with_user_id(h, "leaving@example.com")
    _, staying, _ = await connected_with_user_id(h, "staying@example.com")
    before = await tokens_held(h, staying)
    body = deauthorized_event(h, zoom_user_id)
    assert (await post(h, body, signed(h, body))).status_code == 200
    assert await h.status(leaving) == "not_connected"
    assert await h.status(staying) == "connected"
    assert await tokens_held(h, staying) == before
    assert await h.notifications(staying, "zoom_deauthorized") == 0


async def test_a_deauthorization_for_an_unknown_zoom_user_is_acknowledged(h: Harness) -> None:
    _, specialist, _ = await connected_with_user_id(h, "known@example.com")
    body = deauthorized_event(h, "no-such-zoom-user")
    assert (await post(h, body, signed(h, body))).status_code == 200
    assert await h.status(specialist) == "connected"
    assert await h.notifications(specialist, "zoom_deauthorized") == 0


async def test_the_sandboxs_own_deauthorization_webhook_is_delivered_and_disconnects(
    h: Harness,
) -> None:
    browser, specialist = await h.connected("sandboxbye@example.com")
    result = await h.control("POST", "/users/sandboxbye@example.com/deauthorize")
    assert result["webhook"]["delivered"] is True
    assert result["webhook"]["status"] == 200
    assert await h.status(specialist) == "not_connected"
    assert await tokens_held(h, specialist) == (None, None)
    assert await h.notifications(specialist, "zoom_deauthorized") == 1
    assert (await browser.get("/api/v1/zoom/status")).json()["status"] == "not_connected"


async def test_a_specialist_can_reconnect_after_being_deauthorized(h: Harness) -> None:
    browser, specialist = await h.connected("comeback@example.com")
    await h.control("POST", "/users/comeback@example.com/deauthorize")
    assert await h.status(specialist) == "not_connected"
    landed = await h.connect(browser, "comeback@example.com")
    assert landed.headers["location"] == "/dashboard?zoom=connected"
    assert await h.status(specialist) == "connected"
    access, refresh = await tokens_held(h, specialist)
    assert access is not None
    assert refresh is not None


async def test_a_late_deauthorization_from_before_a_reconnect_changes_nothing(
    h: Harness,
) -> None:
    """Zoom retries deliveries for an hour: an old event must not undo a fresh connection."""
    browser, specialist = await h.connected("late@zoom.example.com")
    zoom_user_id = (await browser.get("/api/v1/zoom/status")).json()["zoom_user_id"]
    stale = deauthorized_event(h, zoom_user_id)
    await h.advance(60)
    await h.connect(browser, "late@zoom.example.com")  # connected again after the event
    answer = await post(h, stale, signed(h, stale))
    assert answer.status_code == 200
    assert await h.status(specialist) == "connected"


async def test_a_deauthorization_for_another_zoom_app_changes_nothing(h: Harness) -> None:
    browser, specialist = await h.connected("other-app@zoom.example.com")
    zoom_user_id = (await browser.get("/api/v1/zoom/status")).json()["zoom_user_id"]
    event = json.loads(deauthorized_event(h, zoom_user_id))
    event["payload"]["client_id"] = "someone-elses-app"
    body = encode(event)
    assert (await post(h, body, signed(h, body))).status_code == 200
    assert await h.status(specialist) == "connected"
