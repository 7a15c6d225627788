"""Cluster-wide job leases: each periodic job runs in one process at a time.

One row per job says who runs it (`owner`) until when (`lease_until`), and when it is next due
(`next_run_at`). A process takes a due job with one conditional UPDATE, renews the lease while
it runs, and on finishing sets the next due time for the whole cluster. A process that dies
mid-run simply stops renewing: another takes the job once the lease has run out.

Leases use the wall clock, not the app's clock (the sandbox's can be moved by hours).
"""

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, insert, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from specialistly.db import Base, UTCDateTime


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def wall_clock() -> datetime:
    return datetime.now(UTC)


def process_name() -> str:
    """This process, recognisably in `job_leases.owner`: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def _ensure_row(session: Session, name: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(JobLease).values(name=name).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(JobLease).values(name=name).on_conflict_do_nothing())
    elif session.get(JobLease, name) is None:  # pragma: no cover - the two supported databases
        session.execute(insert(JobLease).values(name=name))


def claim(
    session: Session,
    name: str,
    owner: str,
    lease_for: timedelta,
    *,
    now: datetime,
    due_only: bool = True,
) -> bool:
    """Take job `name` for `lease_for` if nobody holds it (and, with `due_only`, it is due)."""
    _ensure_row(session, name)
    conditions = [
        JobLease.name == name,
        or_(JobLease.lease_until.is_(None), JobLease.lease_until < now),
    ]
    if due_only:
        conditions.append(or_(JobLease.next_run_at.is_(None), JobLease.next_run_at <= now))
    taken = session.execute(
        update(JobLease).where(*conditions).values(owner=owner, lease_until=now + lease_for)
    )
    return getattr(taken, "rowcount", 0) == 1


def renew(session: Session, name: str, owner: str, lease_for: timedelta, *, now: datetime) -> bool:
    """Extend our lease; False when it is no longer ours (it ran out and another took it)."""
    renewed = session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.owner == owner)
        .values(lease_until=now + lease_for)
    )
    return getattr(renewed, "rowcount", 0) == 1


def finish(
    session: Session, name: str, owner: str, next_run_at: datetime, *, now: datetime
) -> None:
    """Let the job go, due again at `next_run_at` for whichever process comes first."""
    session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.owner == owner)
        .values(owner=None, lease_until=None, next_run_at=next_run_at, last_finished_at=now)
    )


def holder(session: Session, name: str, *, now: datetime) -> str | None:
    """Who holds job `name` right now, if anyone."""
    lease = session.get(JobLease, name)
    if lease is None or lease.lease_until is None or lease.lease_until < now:
        return None
    return lease.owner
