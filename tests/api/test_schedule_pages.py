"""Scheduling and booking pages without a browser: forms, field errors, ownership, the .ics."""

import re

import httpx

from specialistly.notifications.message import decode_attachments
from tests.api.test_pages import csrf_of
from tests.harness import Harness, landed


async def post_form(
    browser: httpx.AsyncClient, page: str, path: str, **data: str
) -> httpx.Response:
    form = await browser.get(page)
    return await browser.post(path, data={"csrf": csrf_of(form), **data})


async def test_an_event_type_form_with_bad_numbers_says_which_field_and_adds_nothing(
    h: Harness,
) -> None:
    browser, _ = await h.sign_up()
    answer = await post_form(
        browser,
        "/dashboard",
        "/dashboard/event-types",
        name="",
        duration_minutes="three",
        buffer_before_minutes="0",
        buffer_after_minutes="999",
        min_notice_minutes="0",
        horizon_days="60",
        max_per_day="",
    )
    answer = await landed(browser, answer)
    assert "Enter a length from 5 to 480 minutes." in answer.text
    assert "Enter 0 to 240 minutes." in answer.text
    assert (await browser.get("/api/v1/event-types")).json() == []


ALL_WEEK = {f"w-{day}-0-{end}": "00:00" for day in range(7) for end in ("start", "end")}


async def event_type_with_hours(h: Harness) -> tuple[httpx.AsyncClient, int, int]:
    """A connected specialist open all week, with a 30-minute event type made by form."""
    browser, specialist = await h.connected()
    added = await post_form(
        browser,
        "/dashboard",
        "/dashboard/event-types",
        name="Intro call",
        duration_minutes="30",
        description="A first talk.",
        buffer_before_minutes="0",
        buffer_after_minutes="0",
        min_notice_minutes="60",
        horizon_days="30",
        max_per_day="",
    )
    assert added.status_code == 303
    saved = await post_form(browser, "/dashboard", "/dashboard/hours", **ALL_WEEK)
    assert saved.status_code == 303
    [kind] = (await browser.get("/api/v1/event-types")).json()
    return browser, specialist, kind["id"]


async def book_by_form(
    h: Harness, specialist: int, kind: int, zone: str = "Asia/Tokyo"
) -> tuple[httpx.AsyncClient, str, str]:
    """Book the first time the page offers; answer the customer, the time and the page URL."""
    customer = h.client()
    page = await customer.get(f"/specialists/{specialist}", params={"event": kind, "tz": zone})
    first = re.search(r'name="start_time" value="([^"]+)"', page.text)
    assert first, "no time offered"
    answer = await customer.post(
        f"/specialists/{specialist}/book",
        data={
            "csrf": csrf_of(page),
            "event": str(kind),
            "start_time": first.group(1),
            "customer_name": "Kei Customer",
            "customer_email": "kei@example.com",
            "customer_timezone": zone,
        },
    )
    assert answer.status_code == 303, answer.text
    return customer, first.group(1), answer.headers["location"]


async def test_working_hours_and_a_day_off_saved_by_form_are_what_the_api_reads(
    h: Harness,
) -> None:
    browser, _ = await h.sign_up()
    saved = await post_form(
        browser,
        "/dashboard",
        "/dashboard/hours",
        **{"w-0-0-start": "09:00", "w-0-0-end": "12:00", "w-0-1-start": "13:00"},
        **{"w-0-1-end": "17:30", "w-4-0-start": "10:00", "w-4-0-end": "00:00"},
    )
    assert saved.status_code == 303
    off = await post_form(browser, "/dashboard", "/dashboard/dates", date="2099-01-05", kind="off")
    assert off.status_code == 303
    hours = (await browser.get("/api/v1/availability")).json()
    assert hours["weekly"] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "13:00", "end": "17:30"},
        {"weekday": 4, "start": "10:00", "end": "24:00"},
    ]
    assert hours["overrides"] == [{"date": "2099-01-05", "windows": []}]
    dashboard = await browser.get("/dashboard")
    assert "Monday 5 January 2099</strong>: Day off" in dashboard.text

    removed = await post_form(browser, "/dashboard", "/dashboard/dates/2099-01-05/delete")
    assert removed.status_code == 303
    assert (await browser.get("/api/v1/availability")).json()["overrides"] == []


async def test_overlapping_or_inverted_hours_are_refused_beside_the_row(h: Harness) -> None:
    browser, _ = await h.sign_up()
    answer = await post_form(
        browser,
        "/dashboard",
        "/dashboard/hours",
        **{"w-1-0-start": "09:00", "w-1-0-end": "12:00", "w-1-1-start": "11:00"},
        **{"w-1-1-end": "13:00", "w-2-0-start": "15:00", "w-2-0-end": "14:00"},
    )
    answer = await landed(browser, answer)
    assert "Tuesday&#39;s hours overlap" in answer.text
    assert "The end must be after the start." in answer.text
    assert (await browser.get("/api/v1/availability")).json()["weekly"] == []


async def test_a_time_booked_by_form_is_not_offered_again_and_the_page_reads_tokyo_time(
    h: Harness,
) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer, start, confirmation = await book_by_form(h, specialist, kind)
    page = await customer.get(confirmation)
    assert "(Asia/Tokyo)" in page.text
    assert "Intro call, 30 minutes" in page.text
    again = await h.client().get(f"/specialists/{specialist}", params={"event": kind})
    assert f'value="{start}"' not in again.text
    assert 'name="start_time"' in again.text


async def test_the_downloaded_invitation_is_the_one_the_confirmation_email_carries(
    h: Harness,
) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer, _, confirmation = await book_by_form(h, specialist, kind)
    page = await customer.get(confirmation)
    link = re.search(r'href="(/bookings/\d+/invite\.ics\?token=[^"]+)"', page.text)
    assert link
    download = await customer.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/calendar; method=REQUEST")
    assert "attachment" in download.headers["content-disposition"]
    rows = await h.raw(
        "SELECT attachments FROM outbox_emails WHERE kind = 'booking_confirmation' "
        "AND to_address = 'kei@example.com'"
    )
    (emailed,) = decode_attachments(h.ctx.cipher.decrypt(rows[-1][0]))

    def fields(ics: str) -> dict[str, str]:
        lines = ics.replace("\r\n ", "").splitlines()
        return {k: v for k, _, v in (line.partition(":") for line in lines) if k in WANTED}

    WANTED = {"METHOD", "UID", "SEQUENCE", "DTSTART", "DTEND", "LOCATION", "DESCRIPTION"}
    assert fields(download.text) == fields(emailed.content)
    assert fields(download.text)["METHOD"] == "REQUEST"
    wrong = await customer.get(f"/bookings/{confirmation.split('/')[2].split('?')[0]}/invite.ics")
    assert wrong.status_code == 404


async def test_a_specialist_cancels_only_their_own_bookings_from_the_dashboard(
    h: Harness,
) -> None:
    owner, specialist, kind = await event_type_with_hours(h)
    _, _, confirmation = await book_by_form(h, specialist, kind)
    booking_id = confirmation.split("/")[2].split("?")[0]
    stranger, _ = await h.sign_up()
    refused = await post_form(
        stranger, "/dashboard", f"/dashboard/bookings/{booking_id}/cancel", reason="mine now"
    )
    refused = await landed(stranger, refused)
    assert "No such booking." in refused.text
    assert await h.raw("SELECT status FROM bookings") == [("confirmed",)]

    done = await post_form(
        owner, "/dashboard", f"/dashboard/bookings/{booking_id}/cancel", reason="I am ill"
    )
    assert done.status_code == 303
    assert await h.raw("SELECT status, cancel_reason FROM bookings") == [("cancelled", "I am ill")]


async def test_bad_links_and_unknown_pages_answer_a_page_for_people_the_api_keeps_json(
    h: Harness,
) -> None:
    visitor = h.client()
    for path in ("/nope", "/bookings/abc", "/bookings/0?token=x", "/specialists/1/book"):
        answer = await visitor.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "<h1>Page not found</h1>" in answer.text, path
    browser, _ = await h.sign_up()
    expired = await browser.post("/dashboard/hours", data={"csrf": "0" * 64})
    assert expired.status_code == 403
    assert "Go back, reload the page and try again." in expired.text
    api = await visitor.get("/api/v1/bookings/abc")
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["path", "booking_id"]
    assert (await visitor.get("/api/v1/nope")).json() == {"detail": "Not Found"}


async def test_every_new_form_refuses_a_post_without_its_csrf_token(h: Harness) -> None:
    owner, specialist, kind = await event_type_with_hours(h)
    _, _, confirmation = await book_by_form(h, specialist, kind)
    booking_id, token = re.findall(r"/bookings/(\d+)\?token=(.+)$", confirmation)[0]
    for path, data in (
        ("/dashboard/event-types", {"name": "X", "duration_minutes": "30"}),
        (f"/dashboard/event-types/{kind}", {"name": "X", "duration_minutes": "30"}),
        (f"/dashboard/event-types/{kind}/delete", {}),
        ("/dashboard/hours", {"w-0-0-start": "09:00", "w-0-0-end": "10:00"}),
        ("/dashboard/dates", {"date": "2099-01-01", "kind": "off"}),
        ("/dashboard/dates/2099-01-01/delete", {}),
        (f"/dashboard/bookings/{booking_id}/cancel", {}),
        (f"/dashboard/bookings/{booking_id}/reschedule", {"start_time": "x"}),
        (f"/bookings/{booking_id}/reschedule", {"token": token, "start_time": "x"}),
    ):
        refused = await owner.post(path, data={**data, "csrf": "0" * 64})
        assert refused.status_code == 403, path
    assert len((await owner.get("/api/v1/event-types")).json()) == 1
    assert await h.raw("SELECT status FROM bookings") == [("confirmed",)]


async def test_a_start_at_the_calendars_edge_is_a_field_error_not_a_crash(h: Harness) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer = h.client()
    page = await customer.get(f"/specialists/{specialist}", params={"event": kind})
    for start in ("9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+05:00", "2026-13-01T00:00Z"):
        answer = await customer.post(
            f"/specialists/{specialist}/book",
            data={
                "csrf": csrf_of(page),
                "event": str(kind),
                "start_time": start,
                "customer_name": "Edge",
                "customer_email": "edge@example.com",
            },
        )
        answer = await landed(customer, answer)
        assert "Choose a time." in answer.text, start
    assert await h.raw("SELECT id FROM bookings") == []
