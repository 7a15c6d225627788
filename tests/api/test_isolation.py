"""A specialist reaches only their own connection, status and notifications."""

import pytest

from specialistly.connections.errors import ZoomReauthorizationRequired
from tests.harness import Harness


async def test_specialist_b_cannot_see_or_change_as_zoom(h: Harness) -> None:
    alice, alice_id = await h.connected("alice@zoom.example.com")
    bob, _ = await h.sign_up()
    await h.control("POST", "/users/alice@zoom.example.com/invalidate")
    await h.advance(3600)
    with pytest.raises(ZoomReauthorizationRequired):
        await h.ctx.connections.get_valid_token(alice_id)

    bob_status = (await bob.get("/api/v1/zoom/status")).json()
    assert bob_status["status"] == "not_connected"
    assert bob_status["zoom_email"] is None
    assert (await bob.get("/api/v1/notifications")).json() == []

    [alice_note] = (await alice.get("/api/v1/notifications")).json()
    stolen = await bob.post(f"/api/v1/notifications/{alice_note['id']}/read")
    assert stolen.status_code == 404
    assert (await bob.delete("/api/v1/zoom/connection")).status_code == 204
    assert (await alice.get("/api/v1/zoom/status")).json()["status"] == "needs_reconnect"
    [still] = (await alice.get("/api/v1/notifications")).json()
    assert still["read"] is False
    assert (await alice.post(f"/api/v1/notifications/{still['id']}/read")).status_code == 204


async def test_signed_out_callers_get_401_everywhere(h: Harness) -> None:
    stranger = h.client()
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/zoom/connect"),
        ("GET", "/api/v1/zoom/status"),
        ("DELETE", "/api/v1/zoom/connection"),
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/notifications/1/read"),
    ):
        answer = await stranger.request(method, path)
        assert answer.status_code == 401, path
        assert answer.json() == {"detail": "Sign in first."}


async def test_an_out_of_range_notification_id_is_a_4xx(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await browser.post(f"/api/v1/notifications/{2**40}/read")
    assert answer.status_code == 422


async def test_the_reconnect_link_sends_a_signed_out_specialist_to_sign_in(h: Harness) -> None:
    answer = await h.client().get("/zoom/reconnect")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=%2Fzoom%2Freconnect"
    browser, _ = await h.sign_up()
    signed_in = await browser.get("/zoom/reconnect")
    assert signed_in.headers["location"].startswith("https://zoom.sandbox.test/oauth/authorize?")
