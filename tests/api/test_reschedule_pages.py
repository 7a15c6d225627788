"""Rescheduling and cancelling by the pages: who may, until when, and what they are told."""

import re
from datetime import datetime

from tests.api.test_pages import csrf_of
from tests.api.test_schedule_pages import book_by_form, event_type_with_hours, post_form
from tests.harness import Harness, landed


def offered(page_text: str, field: str = "start_time") -> list[str]:
    return re.findall(rf'name="{field}" value="([^"]+)"', page_text)


async def test_a_customer_moves_a_booking_to_another_offered_time_by_form(h: Harness) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer, start, confirmation = await book_by_form(h, specialist, kind)
    booking_id, token = re.findall(r"/bookings/(\d+)\?token=(.+)$", confirmation)[0]
    page = await customer.get(f"/bookings/{booking_id}/reschedule", params={"token": token})
    assert page.status_code == 200
    times = offered(page.text)
    assert start not in times  # its own time is not a new one
    answer = await customer.post(
        f"/bookings/{booking_id}/reschedule",
        data={"csrf": csrf_of(page), "token": token, "start_time": times[3]},
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("&moved=1")
    [(moved,)] = await h.raw("SELECT start_time FROM bookings")
    assert datetime.fromisoformat(str(moved)).strftime("%Y-%m-%dT%H:%M") == times[3][:16]
    shown = await customer.get(answer.headers["location"])
    assert "is moved." in shown.text


async def test_a_time_that_is_not_offered_is_refused_in_plain_words_and_nothing_moves(
    h: Harness,
) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer, start, confirmation = await book_by_form(h, specialist, kind)
    booking_id, token = re.findall(r"/bookings/(\d+)\?token=(.+)$", confirmation)[0]
    page = await customer.get(f"/bookings/{booking_id}/reschedule", params={"token": token})
    for bad in ("2001-01-01T10:00:00Z", "not a time", ""):
        answer = await customer.post(
            f"/bookings/{booking_id}/reschedule",
            data={"csrf": csrf_of(page), "token": token, "start_time": bad},
        )
        answer = await landed(customer, answer)
        assert 'id="time-error"' in answer.text, bad
    [(kept,)] = await h.raw("SELECT start_time FROM bookings")
    assert datetime.fromisoformat(str(kept)).strftime("%Y-%m-%dT%H:%M") == start[:16]


async def test_past_the_cutoff_the_customer_is_told_to_contact_the_specialist(h: Harness) -> None:
    _, specialist, kind = await event_type_with_hours(h)
    customer, start, confirmation = await book_by_form(h, specialist, kind)
    booking_id, token = re.findall(r"/bookings/(\d+)\?token=(.+)$", confirmation)[0]
    page = await customer.get(f"/bookings/{booking_id}/reschedule", params={"token": token})
    later = offered(page.text)[-1]
    starts_in = datetime.fromisoformat(start) - h.ctx.clock.now()
    await h.advance(starts_in.total_seconds() - 30 * 60)  # 30 minutes before the start

    shown = await customer.get(confirmation)
    assert "Reschedule" not in shown.text
    assert "Cancel this booking" not in shown.text
    assert "60 minutes before" in shown.text
    moved = await customer.post(
        f"/bookings/{booking_id}/reschedule",
        data={"csrf": csrf_of(page), "token": token, "start_time": later},
    )
    moved = await landed(customer, moved)
    assert "please contact the specialist" in moved.text
    cancelled = await customer.post(
        f"/bookings/{booking_id}/cancel", data={"csrf": csrf_of(page), "token": token}
    )
    cancelled = await landed(customer, cancelled)
    assert "please contact the specialist" in cancelled.text
    assert await h.raw("SELECT status FROM bookings") == [("confirmed",)]


async def test_only_the_bookings_specialist_opens_its_reschedule_page(h: Harness) -> None:
    owner, specialist, kind = await event_type_with_hours(h)
    _, _, confirmation = await book_by_form(h, specialist, kind)
    booking_id = re.findall(r"/bookings/(\d+)\?", confirmation)[0]
    stranger, _ = await h.sign_up()
    path = f"/dashboard/bookings/{booking_id}/reschedule"
    assert (await stranger.get(path)).status_code == 404
    page = await owner.get(path)
    assert page.status_code == 200
    refused = await post_form(stranger, "/dashboard", path, start_time="x")
    assert refused.status_code == 404
    wrong_token = await h.client().get(f"/bookings/{booking_id}/reschedule?token=nope")
    assert wrong_token.status_code == 404


async def test_a_slot_booking_moves_to_another_free_slot_only(h: Harness) -> None:
    browser, _ = await h.connected()
    first, second = await h.add_slot(browser), await h.add_slot(browser)
    booking = (await h.book(first)).json()
    customer = h.client()
    path = f"/bookings/{booking['id']}/reschedule"
    page = await customer.get(path, params={"token": booking["manage_token"]})
    assert offered(page.text, "slot_id") == [str(second)]
    answer = await customer.post(
        path,
        data={"csrf": csrf_of(page), "token": booking["manage_token"], "slot_id": str(second)},
    )
    assert answer.status_code == 303
    assert await h.raw("SELECT slot_id FROM bookings") == [(second,)]
