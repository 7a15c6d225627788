"""Security: who may call what, slowed-down password guessing, cookie flags."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Harness, harness

PASSWORD = "correct horse battery"


async def _world(h: Harness) -> dict[str, Any]:
    """Specialist A (Zoom connected, a slot, a booking, a notification) and specialist B."""
    a, a_id = await h.connected("a@zoom.example.com")
    b, b_id = await h.sign_up()
    slot = await h.add_slot(a)
    booking = (await h.book(slot)).json()
    free_slot = await h.add_slot(a)
    await a.delete("/api/v1/zoom/connection")  # leaves A a notification
    await h.connect(a, "a@zoom.example.com")
    [note] = [n for n in (await a.get("/api/v1/notifications")).json()]
    kind = await a.post("/api/v1/event-types", json={"name": "Talk", "duration_minutes": 30})
    return {
        "event_type": kind.json()["id"],
        "a": a,
        "a_id": a_id,
        "b": b,
        "b_id": b_id,
        "slot": slot,
        "free_slot": free_slot,
        "booking": booking,
        "note": note["id"],
    }


async def test_the_authorization_matrix_over_every_endpoint(h: Harness) -> None:
    w = await _world(h)
    out, a, b = h.client(), w["a"], w["b"]
    booking, token = w["booking"]["id"], w["booking"]["manage_token"]
    as_customer = {"token": token}
    wrong = {"token": "x" * len(token)}
    cases: list[
        tuple[str, str, dict[str, Any], list[tuple[httpx.AsyncClient, dict[str, Any], int]]]
    ] = [
        ("GET", "/api/v1/me", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        ("GET", "/api/v1/zoom/status", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        ("GET", "/api/v1/zoom/connect", {}, [(out, {}, 401), (b, {}, 302)]),
        ("GET", "/api/v1/notifications", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        (
            "POST",
            f"/api/v1/notifications/{w['note']}/read",
            {},
            [(out, {}, 401), (b, {}, 404), (out, as_customer, 401)],
        ),
        (
            "POST",
            "/api/v1/slots",
            {"json": {"start_time": "2030-01-01T10:00:00+00:00", "duration_minutes": 30}},
            [(out, {}, 401), (out, as_customer, 401)],
        ),
        (
            "DELETE",
            f"/api/v1/slots/{w['free_slot']}",
            {},
            [(out, {}, 401), (b, {}, 404), (out, as_customer, 401)],
        ),
        ("GET", "/api/v1/specialists", {}, [(out, {}, 200)]),
        ("GET", f"/api/v1/specialists/{w['a_id']}/slots", {}, [(out, {}, 200)]),
        ("GET", "/api/v1/bookings", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        (
            "GET",
            f"/api/v1/bookings/{booking}",
            {},
            [
                (out, {}, 404),
                (b, {}, 404),
                (out, wrong, 404),
                (b, wrong, 404),
                (out, as_customer, 200),
                (a, {}, 200),
            ],
        ),
        (
            "POST",
            f"/api/v1/bookings/{booking}/cancel",
            {},
            [(out, {}, 404), (b, {}, 404), (out, wrong, 404), (b, wrong, 404)],
        ),
        (
            "POST",
            f"/api/v1/bookings/{booking}/reschedule",
            {"json": {"slot_id": w["free_slot"]}},
            [(out, {}, 404), (b, {}, 404), (out, wrong, 404), (b, wrong, 404)],
        ),
        ("DELETE", "/api/v1/zoom/connection", {}, [(out, {}, 401), (b, {}, 204)]),
        ("PATCH", "/api/v1/me", {"json": {"name": "Eve"}}, [(out, {}, 401), (b, {}, 200)]),
        ("GET", "/api/v1/event-types", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        (
            "POST",
            "/api/v1/event-types",
            {"json": {"name": "Talk", "duration_minutes": 30}},
            [(out, {}, 401), (out, as_customer, 401)],
        ),
        (
            "PATCH",
            f"/api/v1/event-types/{w['event_type']}",
            {"json": {"name": "Taken over"}},
            [(out, {}, 401), (b, {}, 404), (out, as_customer, 401)],
        ),
        (
            "DELETE",
            f"/api/v1/event-types/{w['event_type']}",
            {},
            [(out, {}, 401), (b, {}, 404), (out, as_customer, 401)],
        ),
        ("GET", "/api/v1/availability", {}, [(out, {}, 401), (a, {}, 200), (b, {}, 200)]),
        ("PUT", "/api/v1/availability", {"json": {}}, [(out, {}, 401), (out, as_customer, 401)]),
        ("GET", f"/api/v1/specialists/{w['a_id']}/event-types", {}, [(out, {}, 200)]),
        (
            "GET",
            f"/api/v1/specialists/{w['a_id']}/times",
            {},
            [(out, {"event_type_id": w["event_type"]}, 200)],
        ),
        ("POST", "/api/zoom/webhooks", {"content": b"{}"}, [(out, {}, 401), (a, {}, 401)]),
    ]
    for method, path, body, expectations in cases:
        for client, params, status in expectations:
            answer = await client.request(method, path, params=params, **body)
            assert answer.status_code == status, (method, path, params, answer.text)
    # What B saw was B's own, or nothing of A's.
    assert (await b.get("/api/v1/zoom/status")).json()["status"] == "not_connected"
    assert (await b.get("/api/v1/bookings")).json() == []
    assert (await b.get("/api/v1/notifications")).json() == []
    assert (await a.get("/api/v1/zoom/status")).json()["status"] == "connected"
    customer_view = (await out.get(f"/api/v1/bookings/{booking}", params=as_customer)).json()
    assert customer_view["start_url"] is None
    assert (await a.get(f"/api/v1/bookings/{booking}")).json()["status"] == "confirmed"
    slots = (await out.get(f"/api/v1/specialists/{w['a_id']}/slots")).json()
    assert w["free_slot"] in {s["id"] for s in slots}
    assert (await b.get("/api/v1/event-types")).json() == []
    [kind] = (await a.get("/api/v1/event-types")).json()
    assert (kind["id"], kind["name"]) == (w["event_type"], "Talk")
    # Every API operation of the app is in this matrix.
    names = {
        "bookings": "{booking_id}",
        "slots": "{slot_id}",
        "notifications": "{notification_id}",
        "specialists": "{specialist_id}",
        "event-types": "{event_type_id}",
    }

    def template(path: str) -> str:
        parts = path.split("/")
        return "/".join(
            names[parts[i - 1]] if part.isdigit() and parts[i - 1] in names else part
            for i, part in enumerate(parts)
        )

    templated = {(m, template(p)) for m, p, _, _ in cases}
    schema = (await out.get("/openapi.json")).json()
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    exempt = {
        ("POST", "/api/v1/specialists"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/password-reset"),
        ("POST", "/api/v1/auth/password-reset/confirm"),
        ("POST", "/api/v1/bookings"),
        ("GET", "/api/zoom/oauth/user-callback"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }  # public by design, tested elsewhere
    assert operations - exempt <= templated, sorted(operations - exempt - templated)


async def test_repeated_failed_logins_are_slowed_down(h: Harness) -> None:
    await h.sign_up("guess@example.com")
    client = h.client()

    async def attempt(password: str) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/login", json={"email": "guess@example.com", "password": password}
        )

    for _ in range(5):  # the fifth failure starts a one-second block
        assert (await attempt("wrong guess")).status_code == 401
    blocked = await attempt(PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    await h.advance(2)
    assert (await attempt("wrong again")).status_code == 401
    assert (await attempt(PASSWORD)).status_code == 429  # now blocked for 2 s
    await h.advance(3)
    assert (await attempt(PASSWORD)).status_code == 200
    for _ in range(4):  # a success cleared the count
        assert (await attempt("wrong guess")).status_code == 401
    assert (await attempt(PASSWORD)).status_code == 200
    other = await client.post(
        "/api/v1/auth/login", json={"email": "other@example.com", "password": "x"}
    )
    assert other.status_code == 401  # one email's block is not another's


async def test_cookies_are_httponly_and_samesite_and_secure_in_production(tmp_path: Path) -> None:
    async with harness(f"sqlite:///{tmp_path}/p.db", tmp_path, app_env="production") as h:
        answer = await h.client().post(
            "/api/v1/specialists",
            json={"name": "P", "email": "p@example.com", "password": PASSWORD, "timezone": "UTC"},
        )
        session_cookie = answer.headers["set-cookie"].lower()
        page = await h.client().get("/login")
        csrf_cookie = page.headers["set-cookie"].lower()
    for cookie in (session_cookie, csrf_cookie):
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" in cookie


@pytest.mark.parametrize("field", ["state", "code"])
async def test_a_callback_replayed_after_success_connects_nothing_new(
    h: Harness, field: str
) -> None:
    browser, _ = await h.sign_up()
    callback = await h.consent(browser, f"replay-{field}@zoom.example.com", "approve")
    assert (await browser.get(callback)).headers["location"] == "/dashboard?zoom=connected"
    before = await h.stats()
    replay = await browser.get(callback)
    assert replay.headers["location"] == "/dashboard?zoom=error&reason=invalid_state"
    after = await h.stats()
    assert after["token_requests"] == before["token_requests"]  # nothing reached Zoom
