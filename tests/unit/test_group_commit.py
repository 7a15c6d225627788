"""SQLite's writer thread: writes queued together share one commit; a savepoint each only
when one of them fails."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from specialistly.db import Database, connection_of


class Refused(Exception):
    pass


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "t"
    k: Mapped[str] = mapped_column(primary_key=True)
    v: Mapped[int]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'group.db'}")

    def schema(session: Session) -> None:
        session.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))

    await database.write(schema)
    yield database
    await database.dispose()


def insert(
    key: str, value: int, *, fail: bool = False, started: threading.Event | None = None
) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        if started is not None:
            started.set()
            time.sleep(0.3)  # the others queue up meanwhile
        session.execute(text("INSERT INTO t VALUES (:k, :v)"), {"k": key, "v": value})
        if fail:
            raise Refused(key)
        return key

    return work


async def holding_the_thread(db: Database, key: str) -> "asyncio.Future[str]":
    """A write (of `key`, 1) that the writer thread has begun and sleeps in for 0.3 s: what
    is queued meanwhile waits, and runs as one batch after it."""
    started = threading.Event()
    write = asyncio.ensure_future(db.write(insert(key, 1, started=started)))
    await asyncio.to_thread(started.wait)
    return write


async def rows(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        found = await session.execute(text("SELECT k, v FROM t"))
        return {str(k): int(v) for k, v in found.all()}


async def test_a_failing_write_rolls_back_alone_and_the_rest_commit_together(
    db: Database,
) -> None:
    commits: list[str] = []
    engine = db.engines[-1]

    @event.listens_for(engine, "commit")
    def counted(_: object) -> None:
        commits.append("commit")

    first = await holding_the_thread(db, "first")
    # Queued while the first runs: these share one transaction.
    batch = [
        asyncio.ensure_future(db.write(insert("a", 1))),
        asyncio.ensure_future(db.write(insert("bad", 1, fail=True))),
        asyncio.ensure_future(db.write(insert("a", 2))),  # the primary key refuses it
        asyncio.ensure_future(db.write(insert("b", 1))),
    ]
    answers = await asyncio.gather(first, *batch, return_exceptions=True)
    assert answers[0] == "first"
    assert answers[1] == "a"
    assert isinstance(answers[2], Refused)
    assert isinstance(answers[3], IntegrityError)
    assert answers[4] == "b"
    assert await rows(db) == {"first": 1, "a": 1, "b": 1}
    # The first alone, then the four together: tried in one go (rolled back when "bad"
    # raised), then again with a savepoint each, committed once.
    assert len(commits) == 2


async def test_a_batch_that_succeeds_takes_no_savepoints(db: Database) -> None:
    statements: list[str] = []

    @event.listens_for(db.engines[-1], "before_cursor_execute")
    def seen(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    first = await holding_the_thread(db, "first")
    batch = [asyncio.ensure_future(db.write(insert(k, 1))) for k in ("a", "b", "c")]
    assert await asyncio.gather(first, *batch) == ["first", "a", "b", "c"]
    assert await rows(db) == {"first": 1, "a": 1, "b": 1, "c": 1}
    assert sum(s.startswith("INSERT") for s in statements) == 4
    assert not [s for s in statements if "SAVEPOINT" in s]


async def test_each_write_of_a_batch_sees_the_ones_before_and_keeps_its_own_objects(
    db: Database,
) -> None:
    first = await holding_the_thread(db, "first")

    def add(session: Session) -> Row:
        row = Row(k="orm", v=1)
        session.add(row)
        return row

    def change(value: int) -> Callable[[Session], Row]:
        def work(session: Session) -> Row:
            row = session.get(Row, "orm")
            assert row is not None  # added by the write before, in the same transaction
            row.v = value
            return row

        return work

    batch = [db.write(add), db.write(change(2)), db.write(change(3))]
    _, added, two, three = await asyncio.gather(first, *batch)
    # As with a session each: the second write's object is not the third's, nor changed by it.
    assert (added.v, two.v, three.v) == (1, 2, 3)
    assert await rows(db) == {"first": 1, "orm": 3}


async def test_callers_hear_only_after_the_commit(db: Database) -> None:
    first = await holding_the_thread(db, "first")
    second = asyncio.ensure_future(db.write(insert("second", 1)))
    seen: list[dict[str, int]] = []

    async def on_answer() -> None:
        await second
        seen.append(await rows(db))

    await asyncio.gather(first, on_answer())
    assert seen == [{"first": 1, "second": 1}]


async def test_a_transaction_queues_behind_a_batch_and_holds_the_writer(db: Database) -> None:
    first = await holding_the_thread(db, "first")
    queued = asyncio.ensure_future(db.write(insert("queued", 1)))

    async def in_transaction() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES ('async', 1)"))

    after = asyncio.ensure_future(db.write(insert("after", 1)))
    await asyncio.gather(first, queued, in_transaction(), after)
    assert await rows(db) == {"first": 1, "queued": 1, "async": 1, "after": 1}


async def test_closing_lets_a_transaction_still_waiting_for_its_turn_finish(tmp_path: Path) -> None:
    """Closing used to join the writer thread on the event loop: a queued async transaction
    then never got its turn (it needs the loop), and the process hung."""
    database = Database(f"sqlite:///{tmp_path / 'closing.db'}")
    await database.write(lambda s: s.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)")))
    busy = threading.Event()

    def slow(session: Session) -> None:
        busy.set()
        time.sleep(0.2)  # the transaction below queues behind this

    first = asyncio.create_task(database.write(slow))
    await asyncio.to_thread(busy.wait)

    async def late_writer() -> None:
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES ('late')"))

    late = asyncio.create_task(late_writer())
    await asyncio.sleep(0.05)  # queued for its turn
    await asyncio.wait_for(database.dispose(), timeout=10)
    await asyncio.wait_for(asyncio.gather(first, late), timeout=10)
    check = Database(f"sqlite:///{tmp_path / 'closing.db'}")
    async with check.reading() as session:
        assert (await session.execute(text("SELECT k FROM t"))).all() == [("late",)]
    await check.dispose()


async def test_a_write_given_up_while_queued_never_runs_and_one_begun_still_commits(
    db: Database,
) -> None:
    begun = await holding_the_thread(db, "begun")
    queued = asyncio.ensure_future(db.write(insert("queued", 2)))
    kept = asyncio.ensure_future(db.write(insert("kept", 3)))
    await asyncio.sleep(0.05)  # both wait behind the first, which sleeps in the thread
    begun.cancel()  # its caller gives up after the thread began it
    queued.cancel()  # this one's before
    assert await kept == "kept"
    for given_up in (begun, queued):
        with pytest.raises(asyncio.CancelledError):
            await given_up
    assert await rows(db) == {"begun": 1, "kept": 3}


def insert_on_connection(key: str, *, fail: bool = False) -> Callable[[Session], str]:
    """As `insert`, on `connection_of(session)`: the hot path's Core statements' way."""

    def work(session: Session) -> str:
        connection_of(session).execute(text("INSERT INTO t VALUES (:k, 1)"), {"k": key})
        if fail:
            raise Refused(key)
        return key

    return work


async def test_a_failing_write_on_the_handed_connection_rolls_back_alone(db: Database) -> None:
    """`connection_of` gives each function of a batch run with savepoints the connection
    inside its own SAVEPOINT: what the failing one wrote there goes with it."""
    first = await holding_the_thread(db, "first")
    batch = [
        asyncio.ensure_future(db.write(insert_on_connection("a"))),
        asyncio.ensure_future(db.write(insert_on_connection("bad", fail=True))),
        asyncio.ensure_future(db.write(insert_on_connection("b"))),
    ]
    answers = await asyncio.gather(first, *batch, return_exceptions=True)
    assert answers[:2] == ["first", "a"]
    assert isinstance(answers[2], Refused)
    assert answers[3] == "b"
    assert await rows(db) == {"first": 1, "a": 1, "b": 1}


async def test_a_refused_begin_is_raised_as_sqlalchemy_raises_it(db: Database) -> None:
    """BEGIN runs on the driver's cursor: its error still comes as SQLAlchemy's own."""
    engine = db.engines[-1]
    with (
        pytest.raises(OperationalError, match="syntax error"),
        engine.connect() as connection,
    ):
        connection.execution_options(sqlite_begin="NOT A MODE").begin()
