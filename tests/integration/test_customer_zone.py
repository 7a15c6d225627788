"""The customer reads every time in their own zone; a cancel reason reaches the other party."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from specialistly.notifications.message import decode_attachments
from tests.harness import Harness

TOKYO, BERLIN = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")


def _span(start: datetime, zone: ZoneInfo) -> str:
    local = start.astimezone(zone)
    end = local + timedelta(minutes=30)
    return f"{local:%A %d %B %Y, %H:%M}–{end:%H:%M} ({zone.key})"


async def _customer_invite(h: Harness, kind: str) -> str:
    rows = await h.raw(
        "SELECT attachments FROM outbox_emails WHERE kind = :k ORDER BY id DESC", k=kind
    )
    (invite,) = decode_attachments(h.ctx.cipher.decrypt(rows[0][0]))
    event = next(iter(Calendar.from_ical(invite.content).walk("VEVENT")))
    return str(event["DESCRIPTION"])


async def test_a_tokyo_customer_reads_tokyo_time_on_the_page_in_emails_and_the_invite(
    h: Harness,
) -> None:
    browser, _ = await h.connected("tokyo@zoom.example.com")  # the specialist is in Berlin
    # 17:00Z: early evening in Berlin, 02:00 the next day in Tokyo.
    start = (h.ctx.clock.now() + timedelta(days=3)).replace(
        hour=17, minute=0, second=0, microsecond=0
    )
    slot = await h.add_slot(browser, start.isoformat())
    answer = await h.client().post(
        "/api/v1/bookings",
        json={
            "slot_id": slot,
            "customer_name": "Kei",
            "customer_email": "kei@example.com",
            "customer_timezone": "Asia/Tokyo",
        },
    )
    assert answer.status_code == 201, answer.text
    booking = answer.json()
    assert booking["customer_timezone"] == "Asia/Tokyo"
    assert datetime.fromisoformat(booking["end_time"]) == start + timedelta(minutes=30)
    tokyo = _span(start, TOKYO)
    assert ", 02:00–02:30 (Asia/Tokyo)" in tokyo

    page = await h.client().get(
        f"/bookings/{booking['id']}", params={"token": booking["manage_token"]}
    )
    assert tokyo in page.text
    assert "Berlin" not in page.text

    [(_, confirmation)] = await h.emails("booking_confirmation")
    assert tokyo in confirmation
    [(_, host)] = await h.emails("booking_host")
    assert _span(start, BERLIN) in host
    assert "Asia/Tokyo" in await _customer_invite(h, "booking_confirmation")

    cancelled = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        params={"token": booking["manage_token"]},
        json={"reason": "My flight moved."},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancel_reason"] == "My flight moved."
    notices = dict(await h.emails("booking_cancelled"))
    assert tokyo in notices["kei@example.com"]
    specialist_notice = next(body for to, body in notices.items() if to != "kei@example.com")
    assert "cancelled by the customer" in specialist_notice
    assert "Reason: My flight moved." in specialist_notice
    assert "(Europe/Berlin)" in specialist_notice


async def test_a_booking_without_a_zone_reads_the_specialists_and_a_bad_zone_is_refused(
    h: Harness,
) -> None:
    browser, _ = await h.connected("nozone@zoom.example.com")
    slot = await h.add_slot(browser)
    bad = await h.client().post(
        "/api/v1/bookings",
        json={
            "slot_id": slot,
            "customer_name": "Al",
            "customer_email": "al@example.com",
            "customer_timezone": "Mars/Olympus",
        },
    )
    assert bad.status_code == 422
    assert "IANA" in bad.text
    answer = await h.book(slot)
    assert answer.status_code == 201, answer.text
    assert answer.json()["customer_timezone"] == "Europe/Berlin"
    assert answer.json()["cancel_reason"] is None
