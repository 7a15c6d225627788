"""Every booking email carries the calendar invitation; reminders are planned with the booking."""

from typing import Any

from icalendar import Calendar

from specialistly.notifications.message import decode_attachments
from tests.harness import Harness


async def _invites(h: Harness, kind: str) -> list[tuple[str, Any]]:
    """(recipient, parsed VEVENT and METHOD) of each email of `kind`."""
    rows = await h.raw(
        "SELECT to_address, attachments FROM outbox_emails WHERE kind = :k ORDER BY id", k=kind
    )
    found = []
    for to, raw in rows:
        assert raw is not None, f"{kind} to {to} has no invitation"
        (invite,) = decode_attachments(h.ctx.cipher.decrypt(raw))
        assert invite.filename == "invite.ics"
        calendar = Calendar.from_ical(invite.content)
        event = next(iter(calendar.walk("VEVENT")))
        found.append((to, (str(calendar["METHOD"]), event)))
    return found


async def test_confirmation_and_host_notice_carry_one_event_and_a_cancel_cancels_it(
    h: Harness,
) -> None:
    browser, _ = await h.connected("ics@zoom.example.com")
    slot = await h.add_slot(browser)
    answer = await h.book(slot, customer="Ivy Invite")
    assert answer.status_code == 201, answer.text
    join_url = answer.json()["meeting"]["join_url"]
    ((_, (method, customer)),) = await _invites(h, "booking_confirmation")
    ((_, (host_method, host)),) = await _invites(h, "booking_host")
    assert method == host_method == "REQUEST"
    assert str(customer["UID"]) == str(host["UID"])
    assert int(customer["SEQUENCE"]) == 0
    assert str(customer["LOCATION"]) == join_url

    booking = answer.json()
    cancelled = await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": booking["manage_token"]}
    )
    assert cancelled.status_code == 200, cancelled.text
    cancels = await _invites(h, "booking_cancelled")
    assert len(cancels) == 2  # the customer and the specialist
    for _, (method, event) in cancels:
        assert method == "CANCEL"
        assert str(event["UID"]) == str(customer["UID"])
        assert int(event["SEQUENCE"]) > int(customer["SEQUENCE"])


async def test_a_booking_plans_its_reminders_and_a_cancel_drops_them(h: Harness) -> None:
    browser, _ = await h.connected("remind@zoom.example.com")
    slot = await h.add_slot(browser)  # three days ahead: both offsets lie ahead
    booking = (await h.book(slot)).json()
    planned = await h.raw(
        "SELECT offset_minutes FROM booking_reminders WHERE booking_id = :b ORDER BY 1",
        b=booking["id"],
    )
    assert [row[0] for row in planned] == [60, 1440]
    await h.client().post(
        f"/api/v1/bookings/{booking['id']}/cancel", params={"token": booking["manage_token"]}
    )
    left = await h.raw(
        "SELECT COUNT(*) FROM booking_reminders WHERE booking_id = :b", b=booking["id"]
    )
    assert left[0][0] == 0
