"""Delivering the outbox: each email on its own, retried with backoff, then failed for an operator.

An email is sent, or its failure recorded, in its own short transaction, and any exception while
building or sending it is that email's alone: it never escapes the run or holds back the next.
"""

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from specialistly import observability
from specialistly.clock import Clock
from specialistly.db import Database, connection_of
from specialistly.notifications.email import EmailSender
from specialistly.notifications.message import OutgoingEmail, decode_attachments
from specialistly.notifications.models import OutboxEmail, OutboxStatus
from specialistly.security import TokenCipher
from specialistly.statements import Prepared

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=2)
RETRY_GROWTH = 3  # 2, 6, 18, 54 and 162 minutes: about four hours before an email fails
# An email being sent is due again after this, should its sender die before recording it.
LEASE = timedelta(minutes=5)
# Emails sent at once. Each SMTP message has a connection (and TLS handshake) of its own, so one
# at a time a run sent a few a second to a distant server while a burst of bookings queued
# far more; relays commonly accept a handful of connections from one client.
SEND_AT_ONCE = 4
_jitter = secrets.SystemRandom()


class UnknownEmail(Exception):
    """No email in the outbox has this id."""


class EmailAlreadySent(Exception):
    """The email went out; retrying it would send it twice."""


@dataclass
class OutboxRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class OutboxEntry:
    """An email as operators see it: never its body."""

    id: int
    to: str
    subject: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: exponential, with jitter too small to reorder."""
    base = FIRST_RETRY.total_seconds() * RETRY_GROWTH ** max(attempts - 1, 0)
    return timedelta(seconds=base * _jitter.uniform(0.8, 1.2))


async def deliver_outbox(
    db: Database,
    sender: EmailSender,
    clock: Clock,
    cipher: TokenCipher,
    *,
    batch: int = 100,
    stopping: asyncio.Event | None = None,
) -> OutboxRun:
    """Deliver every email that is due, each on its own, `batch` at a time until none is
    left (or the process is stopping); say how many went, wait or failed.

    A burst of bookings queues two emails each: one batch per run would send them far
    slower than they arrive. The loop ends: each email it takes is sent, or due again only
    later (a retry's wait, another sender's lease).
    """
    run = OutboxRun()
    while not (stopping and stopping.is_set()):
        due = await _due(db, clock.now(), batch)
        for status in await _send_batch(db, sender, clock, cipher, due):
            if status == OutboxStatus.SENT:
                run.sent += 1
            elif status == OutboxStatus.PENDING:
                run.retrying += 1
            elif status == OutboxStatus.FAILED:
                run.failed += 1
        if len(due) < batch:
            break
    return run


async def _send_batch(
    db: Database,
    sender: EmailSender,
    clock: Clock,
    cipher: TokenCipher,
    due: list[tuple[int, str]],
) -> list[OutboxStatus | None]:
    """Send a batch `SEND_AT_ONCE` at a time; one recipient's emails one after another, in
    the order they were queued (a confirmation never arrives after its cancellation). Each
    email is claimed when its turn comes, so its lease covers its own sending only."""
    by_recipient: dict[str, list[int]] = {}
    for email_id, to in due:
        by_recipient.setdefault(to.lower(), []).append(email_id)
    turns = asyncio.Semaphore(SEND_AT_ONCE)

    async def in_order(ids: list[int]) -> list[OutboxStatus | None]:
        statuses = []
        for email_id in ids:
            async with turns:
                statuses.append(await deliver_one(db, sender, clock, cipher, email_id))
        return statuses

    # Every email taken is seen through (a failure elsewhere must not leave one sent but
    # unrecorded); then the first error, if any, ends the run as it did one at a time.
    outcomes = await asyncio.gather(
        *(in_order(ids) for ids in by_recipient.values()), return_exceptions=True
    )
    statuses: list[OutboxStatus | None] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        statuses.extend(outcome)
    return statuses


async def _due(db: Database, now: datetime, batch: int) -> list[tuple[int, str]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(OutboxEmail.id, OutboxEmail.to_address)
            .where(
                OutboxEmail.status == OutboxStatus.PENDING,
                OutboxEmail.next_attempt_at <= now,
            )
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(batch)
        )
        return [(email_id, to) for email_id, to in rows.all()]


async def deliver_one(
    db: Database, sender: EmailSender, clock: Clock, cipher: TokenCipher, email_id: int
) -> OutboxStatus | None:
    """Send one due email and record the outcome; None when it is not due or another has it."""
    email = await db.write(partial(_claimed, email_id, clock.now()))
    if email is None:
        return None
    try:
        files = decode_attachments(cipher.decrypt(email.attachments)) if email.attachments else ()
        outgoing = OutgoingEmail(email.to_address, email.subject, cipher.decrypt(email.body), files)
        await sender.send(outgoing)
    except Exception as error:  # whatever went wrong belongs to this email alone
        observability.EMAIL_ATTEMPTS.labels("error").inc()
        return await _record_failure(db, email_id, clock.now(), sender.reason(error))
    observability.EMAIL_ATTEMPTS.labels("sent").inc()
    observability.EMAILS_SENT.inc()
    await db.write(partial(_record_sent, email_id, clock.now()))
    return OutboxStatus.SENT


# Claim and record are `Database.write` work: on SQLite they queue in the writer thread with
# the bookings' writes, instead of holding it while an async session makes its round trips
# (a run sends every due email, so under load these are two writes for each email).
def _claimed(email_id: int, now: datetime, session: Session) -> Any | None:
    """The email, now this process's until the lease ends, if it is still pending and due;
    with what is sent (address, subject, body, attachments). One statement."""
    return _CLAIM.first(
        connection_of(session), {"email_id": email_id, "now": now, "lease_end": now + LEASE}
    )


def _record_sent(email_id: int, now: datetime, session: Session) -> None:
    _SENT.execute(connection_of(session), {"email_id": email_id, "now": now})


# Core statements, not the ORM: the ORM's work around a one-row UPDATE (and a get by id) was
# most of the outbox's CPU. Sent: the server took the message, and nothing is due any more.
_outbox = cast(Table, OutboxEmail.__table__)
_CLAIM = Prepared(
    _outbox.update()
    .where(
        _outbox.c.id == bindparam("email_id"),
        _outbox.c.status == OutboxStatus.PENDING,
        _outbox.c.next_attempt_at <= bindparam("now"),
    )
    .values(
        claimed_at=bindparam("now"),
        next_attempt_at=bindparam("lease_end"),
        attempts=_outbox.c.attempts + 1,
    )
    .returning(_outbox.c.to_address, _outbox.c.subject, _outbox.c.body, _outbox.c.attachments)
)
_SENT = Prepared(
    _outbox.update()
    .where(_outbox.c.id == bindparam("email_id"))
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("now"),
        next_attempt_at=None,
        claimed_at=None,
        last_error=None,
    )
)


async def _record_failure(
    db: Database, email_id: int, now: datetime, reason: str
) -> OutboxStatus | None:
    async with db.transaction() as session:
        email = await session.get(OutboxEmail, email_id)
        if email is None:
            return None
        last = email.attempts >= MAX_ATTEMPTS
        email.attempt_failed(reason, retry_at=None if last else now + retry_delay(email.attempts))
    if last:
        observability.EMAILS_FAILED.inc()
        log.error("Email %s failed after %s attempts: %s", email_id, email.attempts, reason)
        return OutboxStatus.FAILED
    log.warning(
        "Email %s not delivered (attempt %s of %s; next at %s): %s",
        email_id,
        email.attempts,
        MAX_ATTEMPTS,
        email.next_attempt_at.isoformat(timespec="seconds") if email.next_attempt_at else "—",
        reason,
    )
    return OutboxStatus.PENDING


async def entries(
    db: Database, *, failed_only: bool = False, limit: int = 200
) -> list[OutboxEntry]:
    """The newest emails (or only the failed ones), for operators."""
    query = select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit)
    if failed_only:
        query = query.where(OutboxEmail.status == OutboxStatus.FAILED)
    async with db.reading() as session:
        return [_entry(email) for email in await session.scalars(query)]


async def retry_now(
    db: Database, sender: EmailSender, clock: Clock, cipher: TokenCipher, email_id: int
) -> OutboxEntry:
    """Make an unsent email due now and try it at once; answer how it stands afterwards."""
    async with db.transaction() as session:
        email = await session.get(OutboxEmail, email_id)
        if email is None:
            raise UnknownEmail(email_id)
        if email.status == OutboxStatus.SENT:
            raise EmailAlreadySent(email_id)
        email.due_again(clock.now())
    await deliver_one(db, sender, clock, cipher, email_id)
    async with db.reading() as session:
        found = await session.get(OutboxEmail, email_id)
        assert found is not None  # emails are purged only once sent
        return _entry(found)


def _entry(email: OutboxEmail) -> OutboxEntry:
    return OutboxEntry(
        id=email.id,
        to=email.to_address,
        subject=email.subject,
        kind=email.kind,
        status=email.status.value,
        attempts=email.attempts,
        next_attempt_at=email.next_attempt_at,
        last_error=email.last_error,
    )
