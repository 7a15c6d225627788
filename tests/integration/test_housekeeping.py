"""Housekeeping purges what has expired, table by table, and keeps what is still live."""

from datetime import timedelta

import pytest

from specialistly.jobs import run_once
from tests.harness import Harness


async def _purge(h: Harness) -> dict[str, int]:
    return await run_once(h.ctx, "housekeeping")


async def _count(h: Harness, table: str) -> int:
    return int((await h.raw(f"SELECT COUNT(*) FROM {table}"))[0][0])  # noqa: S608 - test's own names


async def _specialist(h: Harness) -> int:
    _, specialist = await h.connected()
    return specialist


async def test_expired_sessions_go_and_live_ones_stay(h: Harness) -> None:
    browser, _ = await h.connected()
    before = await _count(h, "sign_in_sessions")
    await h.raw_write(
        "UPDATE sign_in_sessions SET expires_at = :t", t=h.ctx.clock.now() - timedelta(seconds=1)
    )
    browser2, _ = await h.connected("second@zoom.example.com")
    assert (await _purge(h))["sign_in_sessions"] == before
    assert await _count(h, "sign_in_sessions") == 1
    assert (await browser2.get("/api/v1/me")).status_code == 200
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_expired_oauth_states_go(h: Harness) -> None:
    specialist = await _specialist(h)
    now = h.ctx.clock.now()
    for digest, expires in (
        ("old", now - timedelta(minutes=1)),
        ("live", now + timedelta(minutes=5)),
    ):
        await h.raw_write(
            "INSERT INTO oauth_states (state_digest, specialist_id, code_verifier, expires_at) "
            "VALUES (:d, :s, 'x', :e)",
            d=digest,
            s=specialist,
            e=expires,
        )
    assert (await _purge(h))["oauth_states"] == 1
    assert await h.raw("SELECT state_digest FROM oauth_states") == [("live",)]


async def test_idempotency_keys_are_kept_a_week(h: Harness) -> None:
    browser, _ = await h.connected()
    for key in ("old-key", "new-key"):
        answer = await h.book(await h.add_slot(browser), **{"Idempotency-Key": key})
        assert answer.status_code == 201
    await h.raw_write(
        "UPDATE idempotency_keys SET created_at = :t WHERE key = 'old-key'",
        t=h.ctx.clock.now() - timedelta(days=8),
    )
    assert (await _purge(h))["idempotency_keys"] == 1
    assert await h.raw("SELECT key FROM idempotency_keys") == [("new-key",)]


@pytest.mark.parametrize(
    ("table", "key"), [("sign_in_throttles", "key_digest"), ("login_throttles", "email_digest")]
)
async def test_spent_throttles_go_and_active_ones_stay(h: Harness, table: str, key: str) -> None:
    now = h.ctx.clock.now()
    rows = {
        "spent": (now - timedelta(hours=1), None),
        "blocked": (now - timedelta(hours=1), now + timedelta(minutes=5)),
        "recent": (now - timedelta(minutes=1), None),
    }
    for name, (last, blocked) in rows.items():
        await h.raw_write(
            f"INSERT INTO {table} ({key}, failures, last_failure_at, blocked_until) "  # noqa: S608
            "VALUES (:k, 3, :l, :b)",
            k=name,
            l=last,
            b=blocked,
        )
    assert (await _purge(h))[table] == 1
    assert sorted(await h.raw(f"SELECT {key} FROM {table}")) == [("blocked",), ("recent",)]  # noqa: S608


async def test_sent_emails_go_after_30_days_and_unsent_ones_stay(h: Harness) -> None:
    browser, _ = await h.connected()
    await h.book(await h.add_slot(browser))
    await run_once(h.ctx, "outbox")
    sent = await _count(h, "outbox_emails")
    assert sent >= 2
    await h.raw_write(
        "UPDATE outbox_emails SET status = 'pending', sent_at = NULL "
        "WHERE id = (SELECT MIN(id) FROM outbox_emails)"
    )
    assert (await _purge(h))["outbox_emails"] == 0
    await h.advance(31 * 86_400)
    assert (await _purge(h))["outbox_emails"] == sent - 1
    assert await h.raw("SELECT status FROM outbox_emails") == [("pending",)]


async def test_reminders_go_30_days_after_they_were_due(h: Harness) -> None:
    browser, _ = await h.connected()
    await h.book(await h.add_slot(browser))  # three days ahead: reminders at 1440 and 60
    assert await _count(h, "booking_reminders") == 2
    await h.advance(30 * 86_400)
    assert (await _purge(h))["booking_reminders"] == 0
    await h.advance(3 * 86_400)
    assert (await _purge(h))["booking_reminders"] == 2


async def test_refresh_history_is_kept_90_days(h: Harness) -> None:
    await _specialist(h)
    events = await _count(h, "zoom_refresh_events")
    assert events >= 1
    await h.advance(89 * 86_400)
    assert (await _purge(h))["zoom_refresh_events"] == 0
    await h.advance(2 * 86_400)
    assert (await _purge(h))["zoom_refresh_events"] == events


async def test_a_backlog_goes_in_batches(h: Harness) -> None:
    from specialistly.housekeeping import RULES, run_housekeeping

    specialist = await _specialist(h)
    past = h.ctx.clock.now() - timedelta(days=1)
    for n in range(1234):
        await h.raw_write(
            "INSERT INTO sign_in_sessions (token_digest, specialist_id, created_at, expires_at) "
            "VALUES (:d, :s, :t, :t)",
            d=f"old{n}",
            s=specialist,
            t=past,
        )
    sessions = [rule for rule in RULES if rule.table == "sign_in_sessions"]
    report = await run_housekeeping(h.ctx.db, h.ctx.clock, batch=100, rules=tuple(sessions))
    assert report.purged == {"sign_in_sessions": 1234}
    assert await _count(h, "sign_in_sessions") == 1  # the specialist's own live session


async def test_used_and_expired_password_reset_links_go(h: Harness) -> None:
    specialist = await _specialist(h)
    now = h.ctx.clock.now()
    for digest, expires, used in (
        ("expired", now - timedelta(seconds=1), None),
        ("used", now + timedelta(minutes=30), now - timedelta(minutes=1)),
        ("live", now + timedelta(minutes=30), None),
    ):
        await h.raw_write(
            "INSERT INTO password_resets (token_digest, specialist_id, created_at, expires_at, "
            "used_at) VALUES (:d, :s, :c, :e, :u)",
            d=digest,
            s=specialist,
            c=now - timedelta(minutes=30),
            e=expires,
            u=used,
        )
    assert (await _purge(h))["password_resets"] == 2
    assert await h.raw("SELECT token_digest FROM password_resets") == [("live",)]
