"""Housekeeping: purge what has expired, in small batches, and say how much went.

Each batch is its own short write, so purging a large backlog never holds the database's
write lock (SQLite) or a long transaction (PostgreSQL) for long.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from specialistly.bookings.models import IdempotencyKey
from specialistly.bookings.reminders import BookingReminder
from specialistly.clock import Clock
from specialistly.connections.models import OAuthState, RefreshEvent
from specialistly.db import Database
from specialistly.notifications.models import OutboxEmail, OutboxStatus
from specialistly.specialists.models import (
    LoginThrottle,
    PasswordReset,
    SignInSession,
    SignInThrottle,
)
from specialistly.specialists.throttle import FORGET_AFTER

log = logging.getLogger(__name__)
BATCH = 500
# A client retrying a booking with the same Idempotency-Key gets the same booking for a week.
IDEMPOTENCY_KEYS_KEPT = timedelta(days=7)
SENT_EMAILS_KEPT = timedelta(days=30)
SENT_REMINDERS_KEPT = timedelta(days=30)
REFRESH_HISTORY_KEPT = timedelta(days=90)


@dataclass
class HousekeepingReport:
    purged: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """Rows of one table that may go: `key` names them, `expired` picks them at `now`."""

    table: str
    key: InstrumentedAttribute[Any]
    expired: Any  # Callable[[datetime], ColumnElement[bool]]


def _throttle_spent(model: type[SignInThrottle] | type[LoginThrottle], now: datetime) -> Any:
    return and_(
        model.last_failure_at < now - FORGET_AFTER,
        or_(model.blocked_until.is_(None), model.blocked_until < now),
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "sign_in_sessions", SignInSession.token_digest, lambda now: SignInSession.expires_at < now
    ),
    Rule("oauth_states", OAuthState.state_digest, lambda now: OAuthState.expires_at < now),
    Rule(
        "password_resets",
        PasswordReset.token_digest,
        # A used or expired link answers as one that never was: nothing to keep it for.
        lambda now: or_(PasswordReset.expires_at < now, PasswordReset.used_at.is_not(None)),
    ),
    Rule(
        "idempotency_keys",
        IdempotencyKey.key,
        lambda now: IdempotencyKey.created_at < now - IDEMPOTENCY_KEYS_KEPT,
    ),
    Rule(
        "sign_in_throttles",
        SignInThrottle.key_digest,
        lambda now: _throttle_spent(SignInThrottle, now),
    ),
    Rule(
        "login_throttles",
        LoginThrottle.email_digest,
        lambda now: _throttle_spent(LoginThrottle, now),
    ),
    Rule(
        "outbox_emails",
        OutboxEmail.id,
        lambda now: and_(
            OutboxEmail.status == OutboxStatus.SENT, OutboxEmail.sent_at < now - SENT_EMAILS_KEPT
        ),
    ),
    Rule(
        "booking_reminders",
        BookingReminder.id,
        lambda now: BookingReminder.due_at < now - SENT_REMINDERS_KEPT,
    ),
    Rule(
        "zoom_refresh_events",
        RefreshEvent.id,
        lambda now: RefreshEvent.at < now - REFRESH_HISTORY_KEPT,
    ),
)


def _purge_batch(rule: Rule, now: datetime, limit: int, session: Session) -> int:
    condition: ColumnElement[bool] = rule.expired(now)
    model = rule.key.class_
    doomed = select(rule.key).where(condition).limit(limit).scalar_subquery()
    result = session.execute(delete(model).where(rule.key.in_(doomed)))
    return int(getattr(result, "rowcount", 0) or 0)


async def run_housekeeping(
    db: Database, clock: Clock, *, batch: int = BATCH, rules: tuple[Rule, ...] = RULES
) -> HousekeepingReport:
    """Purge every rule's expired rows, `batch` at a time, until none is left."""
    now = clock.now()
    report = HousekeepingReport()
    for rule in rules:
        total = 0
        while True:
            gone = await db.write(partial(_purge_batch, rule, now, batch))
            total += gone
            if gone < batch:
                break
        report.purged[rule.table] = total
    if any(report.purged.values()):
        log.info(
            "Housekeeping purged %s",
            ", ".join(f"{n} {table}" for table, n in report.purged.items() if n),
        )
    return report
