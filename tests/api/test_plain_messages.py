"""Messages in the user's words and zone, field by field (issue 13, item 4), and forms that
redirect after a post, errors included, on pages that are never cached (item 5)."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
from fastapi import APIRouter

from tests.api.test_pages import csrf_of
from tests.harness import Harness, landed


async def _post(browser: httpx.AsyncClient, page: str, path: str, **data: str) -> httpx.Response:
    form = await browser.get(page)
    return await browser.post(path, data={"csrf": csrf_of(form), **data})


async def _slot_error(browser: httpx.AsyncClient, start: str) -> str:
    answer = await _post(
        browser, "/dashboard", "/dashboard/slots", start=start, duration_minutes="30"
    )
    shown = unescape((await landed(browser, answer)).text)
    found = re.search(r'id="slot-error"[^>]*>([^<]+)<', shown)
    assert found, "no error beside the start field"
    return found.group(1)


async def test_an_overlapping_one_off_time_is_named_in_the_specialists_zone(h: Harness) -> None:
    browser, _ = await h.sign_up()  # Europe/Berlin
    day = (h.ctx.clock.now() + timedelta(days=3)).date()
    first = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    await h.add_slot(browser, first.isoformat())
    message = await _slot_error(browser, f"{day.isoformat()}T10:15")
    assert message == (
        f"Not added: it overlaps your one-off time {first:%a %d %b %Y}, 10:00–10:30. "
        "Choose a time that does not."
    )
    assert "slot 1" not in message
    assert "+00:00" not in message


async def test_a_time_in_the_past_is_refused_in_plain_words(h: Harness) -> None:
    browser, _ = await h.sign_up()
    message = await _slot_error(browser, "2020-05-04T10:00")
    assert message == (
        "Not added: Mon 04 May 2020, 10:00 has passed already (Europe/Berlin). "
        "Choose a time in the future."
    )
    assert "start_time" not in message


async def test_a_local_time_the_clocks_skip_is_refused_with_the_reason(h: Harness) -> None:
    browser, _ = await h.sign_up()
    message = await _slot_error(browser, "2027-03-28T02:30")
    assert message == (
        "Sun 28 Mar 2027, 02:30 does not exist in Europe/Berlin: the clocks go forward an "
        "hour that night. Choose another time, e.g. 03:30."
    )
    assert (await browser.get("/api/v1/specialists/1/slots")).json() == []


async def test_sign_up_fields_carry_the_servers_limits_and_say_when_one_is_exceeded(
    h: Harness,
) -> None:
    browser = h.client()
    page = (await browser.get("/signup")).text
    assert re.search(r'id="name"[^>]*maxlength="200"', page)
    assert re.search(r'id="email"[^>]*maxlength="320"', page)
    assert re.search(r'id="password"[^>]*maxlength="256"', page)
    answer = await _post(
        browser,
        "/signup",
        "/signup",
        name="N" * 500,
        email="long@example.com",
        password="correct horse battery",
        timezone="Europe/Berlin",
    )
    shown = await landed(browser, answer)
    assert "Your name is too long: use at most 200 characters." in shown.text
    assert "long@example.com" in shown.text  # what was typed stays
    assert "correct horse battery" not in shown.text  # but never the password
    empty = await landed(browser, await _post(browser, "/signup", "/signup", name=""))
    assert "Enter your name." in empty.text


async def test_an_empty_sign_in_asks_for_the_email_and_password(h: Harness) -> None:
    browser = h.client()
    for sent, said in (
        ({}, "Enter your email and password."),
        ({"email": "who@example.com"}, "Enter your password."),
        ({"password": "secret words"}, "Enter your email."),
    ):
        shown = await landed(browser, await _post(browser, "/login", "/login", **sent))
        assert said in shown.text
        assert "Wrong email or password." not in shown.text
    await h.sign_up("known@example.com")
    wrong = await _post(browser, "/login", "/login", email="known@example.com", password="nope")
    assert "Wrong email or password." in (await landed(browser, wrong)).text


async def test_a_form_error_is_shown_once_and_a_reload_sends_nothing_again(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await _post(browser, "/dashboard", "/dashboard/slots", start="", duration_minutes="30")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard#slots-card"
    first = await browser.get("/dashboard")
    assert "Enter a date and time, and a length." in first.text
    again = await browser.get("/dashboard")  # what a reload does: a GET, the error gone
    assert "Enter a date and time, and a length." not in again.text


async def test_pages_are_not_cached_and_the_api_is_left_alone(h: Harness) -> None:
    browser, specialist = await h.connected()
    slot = await h.add_slot(browser)
    booking = (await h.book(slot)).json()
    for path in ("/login", "/signup"):
        assert (await h.client().get(path)).headers.get("cache-control") == "no-store", path
    for path in (
        "/",
        "/dashboard",
        f"/specialists/{specialist}",
        f"/bookings/{booking['id']}?token={booking['manage_token']}",
        f"/bookings/{booking['id']}/reschedule?token={booking['manage_token']}",
        "/no/such/page",
    ):
        answer = await browser.get(path)
        assert answer.headers.get("cache-control") == "no-store", path


async def test_unknown_pages_and_bad_ids_answer_html_with_a_way_back(h: Harness) -> None:
    visitor = h.client()
    for path in ("/no/such/page", "/specialists/abc", "/specialists/99999", "/bookings/1"):
        answer = await visitor.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert '<a href="/">Back to the start page</a>' in answer.text, path
    assert (await visitor.get("/api/v1/nothing")).json() == {"detail": "Not Found"}


async def test_a_crash_answers_a_page_with_its_request_id_and_the_api_json(h: Harness) -> None:
    crashing = APIRouter()

    @crashing.get("/crash-for-test")
    @crashing.get("/api/v1/crash-for-test")
    async def crash() -> None:
        raise RuntimeError("a bug")

    h.app.include_router(crashing)
    visitor = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=h.app, raise_app_exceptions=False),
        base_url="http://testserver",
    )
    page = await visitor.get("/crash-for-test", headers={"X-Request-ID": "req-1234"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "quote reference <strong>req-1234</strong>" in page.text
    assert '<a href="/">Back to the start page</a>' in page.text
    assert "a bug" not in page.text
    api = await visitor.get("/api/v1/crash-for-test", headers={"X-Request-ID": "req-5678"})
    assert api.status_code == 500
    assert api.json() == {"detail": "Something went wrong on our side.", "request_id": "req-5678"}


async def test_times_follow_the_visitors_clock_with_their_end(h: Harness) -> None:
    browser, specialist = await h.connected()
    day = (h.ctx.clock.now() + timedelta(days=3)).date()
    await h.add_slot(browser, datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC).isoformat())
    page = f"/specialists/{specialist}?event=slots&tz=UTC"
    us = (await browser.get(page, headers={"Accept-Language": "en-US,en;q=0.9"})).text
    de = (await browser.get(page, headers={"Accept-Language": "de-DE,de;q=0.9"})).text
    assert "1:00–1:30 PM" in us
    assert "13:00–13:30" in de
    assert " PM" not in de
    dashboard = (await browser.get("/dashboard", headers={"Accept-Language": "en-US"})).text
    assert "2:00–2:30 PM" in dashboard  # Berlin, with its end
