"""Whatever a client sends: a 4xx, never a 5xx, and never its secrets echoed back."""

import logging
from pathlib import Path

import pytest

from specialistly.logs import RedactQuerySecrets
from tests.harness import Harness, harness

SIGNUP = {"name": "A", "email": "a@example.com", "password": "long enough", "timezone": "UTC"}


async def test_a_validation_error_never_echoes_the_password(h: Harness) -> None:
    browser = h.client()
    secret = "hunter2-super-secret"
    for path, body in (
        ("/api/v1/auth/login", {"password": secret}),
        ("/api/v1/auth/login", {"email": "a@example.com", "password": secret * 20}),
        ("/api/v1/specialists", {**SIGNUP, "password": "short"}),
        ("/api/v1/specialists", {**SIGNUP, "password": secret, "timezone": "Nowhere/Land"}),
    ):
        answer = await browser.post(path, json=body)
        assert answer.status_code == 422
        assert secret not in answer.text
        assert "short" not in answer.text or "password" not in body.get("password", "")
        assert all(set(e) == {"loc", "msg", "type"} for e in answer.json()["detail"])


def _signup(**raw_fields: str) -> str:
    """A sign-up body with some fields given as raw JSON text (escapes kept as written)."""
    fields = {
        "name": '"A"',
        "email": '"a@example.com"',
        "password": '"long enough"',
        "timezone": '"UTC"',
        **raw_fields,
    }
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/v1/auth/login", '{"email": "a@example.com", "password": NaN}'),
        ("/api/v1/auth/login", '{"email": "a@example.com", "password": 1e999}'),
        ("/api/v1/specialists", _signup(name='"\\ud800"')),
        ("/api/v1/specialists", _signup(name='"A\\u0000B"')),
        ("/api/v1/specialists", _signup(password='"long \\ud800 enough"')),
        ("/api/v1/specialists", _signup(timezone='"Europe"')),
        ("/api/v1/specialists", _signup(timezone='"__pycache__"')),
    ],
)
async def test_odd_json_gets_a_422(h: Harness, path: str, raw: str) -> None:
    answer = await h.client().post(
        path, content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text


async def test_odd_booking_names_and_tokens_get_a_4xx(h: Harness) -> None:
    browser, _ = await h.connected()
    slot = await h.add_slot(browser)
    for name in ("\ud800", "Nul\u0000Name"):
        escaped = name.encode("unicode_escape").decode()
        raw = (
            f'{{"slot_id": {slot}, "customer_name": "{escaped}", '
            '"customer_email": "c@example.com"}'
        )
        answer = await h.client().post(
            "/api/v1/bookings", content=raw.encode(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422
    booking = (await h.book(slot)).json()
    for token in ("é", "%C3%A9", "x" * 199):
        answer = await h.client().get(f"/api/v1/bookings/{booking['id']}", params={"token": token})
        assert answer.status_code == 404


@pytest.mark.postgres
async def test_nul_characters_get_a_422_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    async with harness(postgres_url, tmp_path) as h:
        for body in (
            {**SIGNUP, "name": "A\u0000B"},
            {**SIGNUP, "email": "a@example.com", "password": "long\u0000enough"},
        ):
            answer = await h.client().post("/api/v1/specialists", json=body)
            assert answer.status_code == 422
        login = await h.client().post(
            "/api/v1/auth/login", json={"email": "a\u0000@example.com", "password": "x"}
        )
        assert login.status_code == 422


async def test_a_second_401_in_a_row_leaves_the_booking_pending_not_broken(h: Harness) -> None:
    browser, _ = await h.connected("unlucky@zoom.example.com")
    slot = await h.add_slot(browser)
    await h.control("PUT", "/faults", json={"api": {"error_rate": 1, "status": 401}})
    answer = await h.client().post(
        "/api/v1/bookings",
        json={"slot_id": slot, "customer_name": "C", "customer_email": "c@example.com"},
    )
    assert answer.status_code == 201
    assert answer.json()["status"] == "confirmed"
    assert answer.json()["meeting"]["provider"] in (None, "platform_zoom")


def test_secret_query_values_are_redacted_in_log_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/1.1" %d',
        (
            "127.0.0.1",
            "GET",
            "/api/zoom/oauth/user-callback?code=SECRETCODE&state=SECRETSTATE",
            302,
        ),
        None,
    )
    RedactQuerySecrets().filter(record)
    line = record.getMessage()
    assert "SECRETCODE" not in line
    assert "SECRETSTATE" not in line
    assert "code=[redacted]&state=[redacted]" in line
    booking = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /bookings/4?token=abc", None, None
    )
    RedactQuerySecrets().filter(booking)
    assert booking.getMessage() == "GET /bookings/4?token=[redacted]"
