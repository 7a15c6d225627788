"""Sign-up, sign-in and sign-out with a session cookie; passwords hashed with argon2."""

from tests.harness import Harness


async def test_signing_up_creates_the_specialist_and_signs_them_in(h: Harness) -> None:
    browser, specialist_id = await h.sign_up("Ana@Example.com", name="Ana")
    me = await browser.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == specialist_id
    assert me.json()["email"] == "ana@example.com"
    assert "password" not in me.text


async def test_the_session_cookie_is_httponly_and_samesite(h: Harness) -> None:
    browser = h.client()
    answer = await browser.post(
        "/api/v1/specialists",
        json={"name": "A", "email": "c@example.com", "password": "long enough", "timezone": "UTC"},
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # development over http; production sets Secure


async def test_a_taken_email_is_409(h: Harness) -> None:
    await h.sign_up("same@example.com")
    again = await h.client().post(
        "/api/v1/specialists",
        json={
            "name": "B",
            "email": "SAME@example.com",
            "password": "long enough",
            "timezone": "UTC",
        },
    )
    assert again.status_code == 409
    assert "exists" in again.json()["detail"]


async def test_bad_sign_up_input_is_422_and_stores_nothing(h: Harness) -> None:
    browser = h.client()
    for body in (
        {"name": "A", "email": "x@example.com", "password": "short", "timezone": "UTC"},
        {
            "name": "A",
            "email": "x@example.com",
            "password": "long enough",
            "timezone": "Mars/Olympus",
        },
        {"name": "A", "email": "not-an-email", "password": "long enough", "timezone": "UTC"},
        {"name": "", "email": "x@example.com", "password": "long enough", "timezone": "UTC"},
    ):
        answer = await browser.post("/api/v1/specialists", json=body)
        assert answer.status_code == 422, body
        assert "detail" in answer.json()
    assert await h.raw("SELECT id FROM specialists") == []


async def test_passwords_are_stored_as_argon2_hashes(h: Harness) -> None:
    await h.sign_up("hash@example.com")
    [(stored,)] = await h.raw("SELECT password_hash FROM specialists")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored


async def test_login_and_logout(h: Harness) -> None:
    await h.sign_up("in@example.com")
    browser = h.client()
    wrong = await browser.post(
        "/api/v1/auth/login", json={"email": "in@example.com", "password": "nope nope"}
    )
    assert wrong.status_code == 401
    unknown = await browser.post(
        "/api/v1/auth/login", json={"email": "who@example.com", "password": "nope nope"}
    )
    assert unknown.status_code == 401
    assert unknown.json() == wrong.json()
    assert (await browser.get("/api/v1/me")).status_code == 401
    right = await browser.post(
        "/api/v1/auth/login", json={"email": "IN@example.com", "password": "correct horse battery"}
    )
    assert right.status_code == 200
    assert (await browser.get("/api/v1/me")).status_code == 200
    assert (await browser.post("/api/v1/auth/logout")).status_code == 204
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_a_logged_out_cookie_stays_dead_even_if_replayed(h: Harness) -> None:
    browser, _ = await h.sign_up("replay@example.com")
    cookie = browser.cookies["specialistly_session"]
    await browser.post("/api/v1/auth/logout")
    thief = h.client()
    thief.cookies.set("specialistly_session", cookie)
    assert (await thief.get("/api/v1/me")).status_code == 401


def test_the_server_hashes_with_argon2id_at_its_full_cost() -> None:
    from argon2 import Type

    from tests.conftest import REAL_HASHER

    [real] = REAL_HASHER  # the app's own hasher (tests run a cheaper one in process)
    assert real.type is Type.ID
    assert real.time_cost >= 3
    assert real.memory_cost >= 65536
