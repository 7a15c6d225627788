"""Reminders before a booking: exactly one per offset and party, with the current join link.

The booking flows do not plan reminders yet (issue 12 integrates them): these tests call
`schedule_reminders` themselves right after booking, as the flows will.
"""

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from specialistly.bookings.models import Booking
from specialistly.bookings.reminders import cancel_reminders, schedule_reminders
from specialistly.context import build_context
from specialistly.jobs import run_once
from tests.harness import FAST_RETRY, Harness, harness
from tests.servers import BIN, clean_env

CUSTOMER = "casey.customer@example.com"


async def booked_in(h: Harness, minutes: int) -> tuple[int, str, str]:
    """A confirmed booking starting `minutes` from now; answer its id, join link, specialist."""
    browser, _ = await h.connected()
    start = (h.ctx.clock.now() + timedelta(minutes=minutes)).replace(microsecond=0)
    answer = await h.book(await h.add_slot(browser, start.isoformat()))
    assert answer.status_code == 201, answer.text
    booking = answer.json()
    assert booking["meeting"]["join_url"]
    me = (await browser.get("/api/v1/me")).json()
    return int(booking["id"]), booking["meeting"]["join_url"], me["email"]


async def plan(h: Harness, booking_id: int) -> list[int]:
    async with h.ctx.db.transaction() as session:
        booking = await session.get(Booking, booking_id)
        assert booking is not None
        return await schedule_reminders(
            session, booking, h.ctx.clock.now(), h.settings.reminder_offsets
        )


async def reminders_sent(h: Harness) -> list[tuple[str, str]]:
    return sorted(await h.emails("booking_reminder") + await h.emails("booking_reminder_host"))


async def test_a_booking_in_70_minutes_gets_one_60_minute_reminder_for_each_party(
    h: Harness,
) -> None:
    booking_id, join_url, specialist_email = await booked_in(h, 70)
    assert await plan(h, booking_id) == [60]  # the 1440-minute moment has passed already

    assert (await run_once(h.ctx, "reminders")) == {"sent": 0, "skipped": 0}
    await h.advance(11 * 60)
    assert (await run_once(h.ctx, "reminders")) == {"sent": 1, "skipped": 0}
    assert (await run_once(h.ctx, "reminders")) == {"sent": 0, "skipped": 0}

    [(to_customer, body)] = await h.emails("booking_reminder")
    assert to_customer == CUSTOMER
    assert join_url in body
    assert "(Europe/Berlin)" in body  # the customer's zone, the specialist's until they have one
    assert f"/bookings/{booking_id}?token=" in body
    [(to_specialist, host_body)] = await h.emails("booking_reminder_host")
    assert to_specialist == specialist_email
    assert "Start it as host: https://zoom.sandbox.test/s/" in host_body
    rows = await h.raw("SELECT offset_minutes, sent_at IS NOT NULL, skipped FROM booking_reminders")
    assert rows == [(60, 1, 0)]


async def test_both_offsets_are_planned_for_a_booking_days_ahead(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 3 * 24 * 60)
    assert await plan(h, booking_id) == [1440, 60]
    await h.advance(2 * 86_400 + 60)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    await h.advance(23 * 3600)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    assert len(await reminders_sent(h)) == 4


async def test_a_reminder_carries_the_join_link_of_the_moment_it_is_sent(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 70)
    await plan(h, booking_id)
    current = "https://zoom.sandbox.test/j/12345678901?pwd=changed"
    await h.raw_write("UPDATE bookings SET join_url = :u WHERE id = :b", u=current, b=booking_id)
    await h.advance(11 * 60)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    [(_, body)] = await h.emails("booking_reminder")
    assert current in body


async def test_a_cancelled_booking_gets_no_reminder(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 70)
    await plan(h, booking_id)
    token = (await h.raw("SELECT manage_token FROM bookings WHERE id = :b", b=booking_id))[0][0]
    cancelled = await h.client().post(
        f"/api/v1/bookings/{booking_id}/cancel", params={"token": h.ctx.cipher.decrypt(token)}
    )
    assert cancelled.status_code == 200, cancelled.text
    await h.advance(11 * 60)
    # The cancel dropped the unsent rows, so the job has nothing to send or skip.
    assert (await run_once(h.ctx, "reminders")) == {"sent": 0, "skipped": 0}
    assert await reminders_sent(h) == []


async def test_cancelling_drops_the_unsent_reminders(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 3 * 24 * 60)
    await plan(h, booking_id)
    async with h.ctx.db.transaction() as session:
        await cancel_reminders(session, booking_id)
    assert await h.raw("SELECT id FROM booking_reminders") == []


async def test_a_moved_booking_is_reminded_at_its_new_time_only(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 70)
    await plan(h, booking_id)
    await h.advance(11 * 60)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    # Moved two days later (as a reschedule does), then planned again by the flow.
    await h.raw_write(
        "UPDATE bookings SET start_time = :s WHERE id = :b",
        s=h.ctx.clock.now() + timedelta(days=2),
        b=booking_id,
    )
    assert await plan(h, booking_id) == [1440, 60]
    assert (await run_once(h.ctx, "reminders"))["sent"] == 0
    await h.advance(86_400 + 60)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    await h.advance(23 * 3600)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1
    assert len(await h.emails("booking_reminder")) == 3  # one before the move, two after


async def test_a_booking_moved_without_replanning_is_not_reminded_early(h: Harness) -> None:
    booking_id, _, _ = await booked_in(h, 70)
    await plan(h, booking_id)
    later = h.ctx.clock.now() + timedelta(hours=5)
    await h.raw_write("UPDATE bookings SET start_time = :s WHERE id = :b", s=later, b=booking_id)
    await h.advance(11 * 60)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 0
    await h.advance(4 * 3600)
    assert (await run_once(h.ctx, "reminders"))["sent"] == 1


def test_reminder_offsets_are_read_from_the_setting(tmp_path: Path) -> None:
    from tests.harness import live_settings

    settings = live_settings(f"sqlite:///{tmp_path}/x.db", tmp_path)
    assert settings.reminder_offsets == (1440, 60)
    custom = live_settings("sqlite://", tmp_path, reminder_offsets_minutes="15, 120,15")
    assert custom.reminder_offsets == (120, 15)
    assert live_settings("sqlite://", tmp_path, reminder_offsets_minutes="").reminder_offsets == ()
    with pytest.raises(ValueError, match="whole minutes"):
        live_settings("sqlite://", tmp_path, reminder_offsets_minutes="an hour")


@pytest.mark.postgres
async def test_two_processes_running_the_job_at_once_send_each_reminder_once(
    postgres_url: str, tmp_path: Path
) -> None:
    async with harness(postgres_url, tmp_path) as h:
        bookings = [await booked_in(h, 70 + n) for n in range(6)]
        for booking_id, _, _ in bookings:
            assert await plan(h, booking_id) == [60]
        await h.advance(20 * 60)
        other = build_context(
            h.settings,
            clock=h.ctx.clock,
            zoom_transport=h.ctx.zoom_http._transport,
            retry=FAST_RETRY,
        )
        try:
            runs = await asyncio.gather(run_once(h.ctx, "reminders"), run_once(other, "reminders"))
            again = await asyncio.gather(run_once(h.ctx, "reminders"), run_once(other, "reminders"))
        finally:
            await other.close()
        assert sum(r["sent"] for r in runs) == 6
        assert sum(r["sent"] for r in again) == 0
        customers = await h.emails("booking_reminder")
        assert len(customers) == 6
        assert len(await h.emails("booking_reminder_host")) == 6
        joins = {join for _, join, _ in bookings}
        assert {next(j for j in joins if j in body) for _, body in customers} == joins


def test_jobs_run_once_reminders_reports_what_it_sent(tmp_path: Path) -> None:
    env = clean_env(VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
    binary = str(BIN / "specialistly")
    subprocess.run([binary, "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=60)
    done = subprocess.run(
        [binary, "jobs", "run-once", "reminders"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sent=0 skipped=0"
