"""Password reset by an emailed single-use link: no account enumeration, once, short-lived,
every other session signed out; the pages follow post/redirect/get."""

import re

import httpx

from tests.api.test_pages import csrf_of
from tests.harness import Harness

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new password"


async def _link(h: Harness, to: str) -> str:
    """The newest reset link emailed to `to` (the outbox body, decrypted)."""
    bodies = [body for address, body in await h.emails("password_reset") if address == to]
    assert bodies, f"no reset email to {to}"
    found = re.search(r"http\S+/password-reset/new\?token=(\S+)", bodies[-1])
    assert found
    return "/password-reset/new?token=" + found.group(1)


async def _ask(h: Harness, email: str) -> httpx.Response:
    browser = h.client()
    page = await browser.get("/login")
    assert 'href="/password-reset"' in page.text
    form = await browser.get("/password-reset")
    answer = await browser.post("/password-reset", data={"csrf": csrf_of(form), "email": email})
    assert answer.status_code == 303
    return answer


async def _sign_in(h: Harness, email: str, password: str) -> int:
    answer = await h.client().post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    return answer.status_code


async def test_asking_answers_the_same_for_known_and_unknown_addresses(h: Harness) -> None:
    await h.sign_up("known@example.com")
    known = await _ask(h, "known@example.com")
    unknown = await _ask(h, "nobody@example.com")
    assert known.headers["location"] == unknown.headers["location"] == "/password-reset/sent"
    api_known = await h.client().post(
        "/api/v1/auth/password-reset", json={"email": "known@example.com"}
    )
    api_unknown = await h.client().post(
        "/api/v1/auth/password-reset", json={"email": "nobody@example.com"}
    )
    assert api_known.status_code == api_unknown.status_code == 202
    assert api_known.json() == api_unknown.json()
    assert [to for to, _ in await h.emails("password_reset")] == ["known@example.com"] * 2
    digests = await h.raw("SELECT token_digest FROM password_resets")
    link = await _link(h, "known@example.com")
    assert all(link.split("=", 1)[1] not in str(row) for row in digests)


async def test_the_link_works_once_and_signs_every_other_session_out(h: Harness) -> None:
    other_device, _ = await h.sign_up("dana@example.com")
    assert (await other_device.get("/api/v1/me")).status_code == 200
    await _ask(h, "dana@example.com")
    link = await _link(h, "dana@example.com")
    browser = h.client()
    form = await browser.get(link)
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["referrer-policy"] == "no-referrer"
    token = link.split("=", 1)[1]
    short = await browser.post(
        "/password-reset/new", data={"csrf": csrf_of(form), "token": token, "password": "short"}
    )
    assert short.status_code == 303
    again = await browser.get(short.headers["location"])
    assert "Use at least 8 characters" in again.text
    done = await browser.post(
        "/password-reset/new",
        data={"csrf": csrf_of(again), "token": token, "password": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/password-reset/done"
    assert "signed out everywhere else" in (await browser.get("/password-reset/done")).text
    assert (await browser.get("/api/v1/me")).status_code == 200
    assert (await other_device.get("/api/v1/me")).status_code == 401
    assert await _sign_in(h, "dana@example.com", PASSWORD) == 401
    assert await _sign_in(h, "dana@example.com", NEW_PASSWORD) == 200

    used = await h.client().get(link)
    assert used.status_code == 410
    assert "text/html" in used.headers["content-type"]
    assert 'href="/password-reset"' in used.text
    replay = await browser.post(
        "/password-reset/new",
        data={"csrf": csrf_of(form), "token": token, "password": "yet another one"},
    )
    assert replay.status_code == 410
    assert await _sign_in(h, "dana@example.com", NEW_PASSWORD) == 200
    api_replay = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "whatever1"}
    )
    assert api_replay.status_code == 410


async def test_a_link_expires_after_an_hour(h: Harness) -> None:
    await h.sign_up("late@example.com")
    await _ask(h, "late@example.com")
    link = await _link(h, "late@example.com")
    await h.advance(3601)
    expired = await h.client().get(link)
    assert expired.status_code == 410
    assert "Ask for a new link" in expired.text
    token = link.split("=", 1)[1]
    confirm = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert confirm.status_code == 410
    assert await _sign_in(h, "late@example.com", PASSWORD) == 200


async def test_the_api_resets_once_and_ends_every_session(h: Harness) -> None:
    browser, specialist = await h.sign_up("api@example.com")
    await h.client().post("/api/v1/auth/password-reset", json={"email": "API@example.com "})
    await h.client().post("/api/v1/auth/password-reset", json={"email": "api@example.com"})
    first, second = [
        re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]
        for _, body in await h.emails("password_reset")
    ]
    bad = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": first, "password": "short"}
    )
    assert bad.status_code == 422
    ok = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD}
    )
    assert ok.status_code == 204
    sessions = await h.raw(
        "SELECT COUNT(*) FROM sign_in_sessions WHERE specialist_id = :s", s=specialist
    )
    assert sessions == [(0,)]
    assert (await browser.get("/api/v1/me")).status_code == 401
    # Using one link uses up the account's others.
    other = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": second, "password": "another one!"}
    )
    assert other.status_code == 410
    unknown = await h.client().post(
        "/api/v1/auth/password-reset/confirm", json={"token": "x" * 43, "password": NEW_PASSWORD}
    )
    assert unknown.status_code == 410
    assert (await h.client().get("/password-reset/new")).status_code == 410


async def test_asking_too_often_is_throttled_without_telling_who_exists(h: Harness) -> None:
    await h.sign_up("flood@example.com")
    for email in ("flood@example.com", "ghost@example.com"):
        answers = [
            await h.client().post("/api/v1/auth/password-reset", json={"email": email})
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
    assert len(await h.emails("password_reset")) == 3
    throttled = await _ask(h, "flood@example.com")
    assert throttled.headers["location"] == "/password-reset?error=wait"


async def test_bad_input_on_the_pages_gets_a_page_not_an_error(h: Harness) -> None:
    browser = h.client()
    form = await browser.get("/password-reset")
    answer = await browser.post("/password-reset", data={"csrf": csrf_of(form), "email": "nope"})
    assert answer.headers["location"] == "/password-reset?error=email"
    page = await browser.get(answer.headers["location"])
    assert page.status_code == 200
    assert "like name@example.com" in page.text
    long = await browser.post(
        "/password-reset/new",
        data={"csrf": csrf_of(form), "token": "t" * 5000, "password": "p" * 9},
    )
    assert long.status_code == 410
    assert (await browser.get("/password-reset/new?token=" + "%00" * 10)).status_code == 410
