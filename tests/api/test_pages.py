"""Pages without a browser: CSRF on every form, safe redirects, plain-words errors."""

import re

import httpx

from tests.harness import Harness, landed


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_every_form_post_without_the_csrf_token_is_refused(h: Harness) -> None:
    browser, _ = await h.connected()
    slot = await h.add_slot(browser)
    booking = (await h.book(slot)).json()
    for path, data in (
        ("/signup", {"name": "X", "email": "x@example.com", "password": "long enough"}),
        ("/login", {"email": "x@example.com", "password": "long enough"}),
        ("/logout", {}),
        ("/dashboard/slots", {"start": "2030-01-01T10:00", "duration_minutes": "30"}),
        (f"/dashboard/slots/{slot}/delete", {}),
        ("/dashboard/zoom/disconnect", {}),
        (
            "/specialists/1/book",
            {"slot_id": str(slot), "customer_name": "C", "customer_email": "c@example.com"},
        ),
        (f"/bookings/{booking['id']}/cancel", {"token": booking["manage_token"]}),
    ):
        refused = await browser.post(path, data=data)
        assert refused.status_code == 403, path
        forged = await browser.post(path, data={**data, "csrf": "0" * 64})
        assert forged.status_code == 403, path
    assert (await browser.get("/api/v1/zoom/status")).json()["status"] == "connected"
    assert (
        await h.client().get(
            f"/api/v1/bookings/{booking['id']}", params={"token": booking["manage_token"]}
        )
    ).json()["status"] == "confirmed"


async def test_signing_in_by_form_never_redirects_off_site(h: Harness) -> None:
    await h.sign_up("form@example.com")
    for target, expected in (
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example", "/dashboard"),
        ("/dashboard?zoom=connected", "/dashboard?zoom=connected"),
    ):
        browser = h.client()
        page = await browser.get("/login")
        answer = await browser.post(
            "/login",
            data={
                "csrf": csrf_of(page),
                "email": "form@example.com",
                "password": "correct horse battery",
                "next": target,
            },
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == expected


async def test_a_booking_by_form_lands_on_its_confirmation(h: Harness) -> None:
    browser, specialist = await h.connected("formbook@zoom.example.com")
    slot = await h.add_slot(browser)
    customer = h.client()
    page = await customer.get(f"/specialists/{specialist}")
    assert page.status_code == 200
    answer = await customer.post(
        f"/specialists/{specialist}/book",
        data={
            "csrf": csrf_of(page),
            "slot_id": str(slot),
            "customer_name": "Form Customer",
            "customer_email": "form@example.com",
        },
    )
    assert answer.status_code == 303
    confirmation = await customer.get(answer.headers["location"])
    assert "Join the Zoom meeting" in confirmation.text
    assert "Hosted on Dana Specialist&#39;s Zoom account" in confirmation.text


async def test_the_dashboard_explains_each_connect_error_in_plain_words(h: Harness) -> None:
    browser, _ = await h.sign_up()
    for reason, words in (
        ("access_denied", "You chose Deny"),
        ("invalid_state", "not valid any more"),
        ("expired_state", "longer than 10 minutes"),
        ("invalid_code", "did not accept the sign-in"),
        ("zoom_unavailable", "did not answer"),
    ):
        page = await browser.get("/dashboard", params={"zoom": "error", "reason": reason})
        assert words in page.text
    scoped = await browser.get(
        "/dashboard",
        params={"zoom": "error", "reason": "missing_scopes", "missing": "meeting:write:meeting"},
    )
    assert "meeting:write:meeting" in scoped.text


async def test_signed_out_visitors_are_sent_to_sign_in_and_pages_answer(h: Harness) -> None:
    visitor = h.client()
    to_login = await visitor.get("/dashboard")
    assert to_login.status_code == 303
    assert to_login.headers["location"] == "/login?next=%2Fdashboard"
    for path in ("/", "/signup", "/login", "/static/app.css", "/favicon.ico"):
        assert (await visitor.get(path)).status_code == 200, path
    assert (await visitor.get("/specialists/999999")).status_code == 404
    assert (await visitor.get("/bookings/1", params={"token": "nope"})).status_code == 404


async def test_a_booking_form_with_another_specialists_slot_books_nothing(h: Harness) -> None:
    browser, specialist = await h.connected("formowner@zoom.example.com")
    other_browser, _ = await h.connected("formother@zoom.example.com")
    mine, theirs = await h.add_slot(browser), await h.add_slot(other_browser)
    customer = h.client()
    page = await customer.get(f"/specialists/{specialist}")
    assert f'value="{mine}"' in page.text
    answer = await customer.post(
        f"/specialists/{specialist}/book",
        data={
            "csrf": csrf_of(page),
            "slot_id": str(theirs),  # changed in the form: another specialist's slot
            "customer_name": "Form Customer",
            "customer_email": "form@example.com",
        },
    )
    answer = await landed(customer, answer)
    assert "Choose one of the times shown." in answer.text
    assert await h.raw("SELECT id FROM bookings") == []
    assert await h.zoom_meetings("formother@zoom.example.com") == []
    assert await h.emails("booking_confirmation") == []
