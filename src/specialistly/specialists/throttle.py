"""Sign-in throttling, done atomically in the database, per account and per client address.

Each attempt reserves a failure in both counters *before* its password is checked (one upsert
per counter, in one transaction), so parallel attempts are all counted before any of them is
judged and none can slip past the limit. A blocked attempt reserves nothing. A success gives
its reservation back: it clears the account's count and takes one off the address's.

Policy, for each counter: the first `free` failures cost nothing; the `free`-th starts a block
of 1 s, and each failure after a block twice as long as the last, up to 15 minutes. A counter
is forgotten after 15 quiet minutes (counted from the end of its last block).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.db import Database, UTCDateTime
from specialistly.security import digest
from specialistly.specialists.models import SignInThrottle

ACCOUNT_FREE_FAILURES = 5
# Higher than an account's: people behind one address (an office, a phone network) share it,
# but spraying one password over many accounts from one address is slowed all the same.
ADDRESS_FREE_FAILURES = 20
FORGET_AFTER = timedelta(minutes=15)
LONGEST_BLOCK = timedelta(minutes=15)


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this account or from this address: wait `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Counter:
    """One throttle row: its key (a digest) and how many failures are free."""

    key: str
    free: int


def counters(email: str, address: str) -> tuple[Counter, Counter]:
    """Return the account's and the address's counters, the account's first (the lock order)."""
    account = Counter(digest("account:" + email.strip().lower()), ACCOUNT_FREE_FAILURES)
    return account, Counter(digest("address:" + address), ADDRESS_FREE_FAILURES)


async def reserve(db: Database, account: Counter, address: Counter, now: datetime) -> None:
    """Count this attempt as a failure in both counters, or raise `TooManyAttempts`.

    Raising rolls the transaction back, so a blocked attempt counts nowhere. Rows are always
    locked account first, then address, so two attempts never wait on each other in a cycle.
    """
    async with db.transaction() as session:
        for counter in (account, address):
            blocked_until = await _count(session, counter, now)
            if blocked_until is not None:
                raise TooManyAttempts(_seconds_until(blocked_until, now))


async def succeeded(session: AsyncSession, account: Counter, address: Counter) -> None:
    """Give back a successful attempt's reservation, in the caller's transaction."""
    await session.execute(delete(SignInThrottle).where(SignInThrottle.key_digest == account.key))
    row = SignInThrottle.__table__.c
    await session.execute(
        update(SignInThrottle)
        .where(row.key_digest == address.key, row.failures > 0)
        .values(
            failures=row.failures - 1,
            # The block this attempt's own reservation may have started was not earned.
            blocked_until=case((row.failures - 1 < address.free, None), else_=row.blocked_until),
        )
    )


async def _count(session: AsyncSession, counter: Counter, now: datetime) -> datetime | None:
    """Upsert one failure into the counter; answer when its block ends if it is blocked."""
    row = SignInThrottle.__table__.c
    at = literal(now, UTCDateTime())
    blocked = row.blocked_until > at
    forgotten = func.coalesce(row.blocked_until, row.last_failure_at) < literal(
        now - FORGET_AFTER, UTCDateTime()
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SignInThrottle)
        .values(key_digest=counter.key, failures=1, last_failure_at=now, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[row.key_digest],
            set_={
                "failures": case((blocked, row.failures), (forgotten, 1), else_=row.failures + 1),
                "last_failure_at": case((blocked, row.last_failure_at), else_=at),
                "blocked_until": case(
                    (blocked, row.blocked_until),
                    (forgotten, literal(None, UTCDateTime())),
                    else_=row.blocked_until,
                ),
            },
        )
        .returning(row.failures, row.blocked_until)
    )
    counted = (await session.execute(statement)).one()
    failures: int = counted.failures
    blocked_until: datetime | None = counted.blocked_until
    if blocked_until is not None and blocked_until > now:
        return blocked_until
    if failures >= counter.free:
        # Still inside the transaction that holds the row: nobody sees the count without it.
        await session.execute(
            update(SignInThrottle)
            .where(row.key_digest == counter.key)
            .values(blocked_until=now + _block(failures - counter.free))
        )
    return None


def _block(over: int) -> timedelta:
    return min(LONGEST_BLOCK, timedelta(seconds=2 ** min(over, 20)))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds()) + 1)
