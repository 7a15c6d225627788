"""`Prepared` on PostgreSQL: statements run on asyncpg's DBAPI cursor give what SQLAlchemy
gives, inside the transaction SQLAlchemy began, with its errors (tests/unit/test_prepared.py
holds the same to SQLite)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Float, bindparam, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from specialistly.db import async_url
from specialistly.statements import Prepared
from tests.unit.test_prepared import FIND, INSERT, TAKE, UPDATE, WHEN, Colour, metadata, things

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(async_url(postgres_url), hide_parameters=True)
    async with made.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield made
    await made.dispose()


def _statements(engine: AsyncEngine) -> list[str]:
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


async def _in_transaction(engine: AsyncEngine, work: Callable[[Connection], Any]) -> Any:
    async with engine.begin() as conn:
        return await conn.run_sync(work)


def _row(conn: Connection, thing: int) -> dict[str, Any]:
    return dict(conn.execute(select(things).where(things.c.id == thing)).one()._asdict())


async def test_rows_written_and_read_on_the_cursor_are_sqlalchemys(engine: AsyncEngine) -> None:
    seen = _statements(engine)

    def work(conn: Connection) -> None:
        thing = INSERT.insert(
            conn, {"name": "a", "colour": Colour.RED, "done": True, "at": WHEN, "size": 4}
        )
        other = INSERT.insert(
            conn, {"name": "b", "colour": Colour.BLUE, "done": False, "at": None, "size": 1}
        )
        assert other == thing + 1  # the keys came back through RETURNING
        short = FIND.first(conn, {"id": thing})
        assert short is not None
        assert [s for s in seen if s.startswith(("INSERT", "SELECT"))] == []  # the cursor's
        core = conn.execute(FIND.statement, {"id": thing}).one()
        assert short._asdict() == core._asdict()
        assert short.at == WHEN
        assert short.at.tzinfo is not None
        assert short.colour is Colour.RED
        assert FIND.first(conn, {"id": other}) is None  # BLUE: the literal in the statement
        UPDATE.execute(
            conn, {"colour": Colour.BLUE, "at": WHEN + timedelta(hours=1)} | {"thing": thing}
        )
        assert _row(conn, thing) == {
            "id": thing,
            "name": "a",
            "colour": Colour.BLUE,
            "done": True,
            "at": WHEN + timedelta(hours=1),
            "size": 4,
        }

    await _in_transaction(engine, work)


async def test_many_rows_go_in_one_call_and_an_update_returns_its_row(
    engine: AsyncEngine,
) -> None:
    rows = [
        {"name": f"m{n}", "colour": Colour.RED, "done": False, "at": None, "size": n}
        for n in range(5)
    ]

    def work(conn: Connection) -> None:
        INSERT.execute(conn, rows)
        INSERT.execute(conn, [])
        names = conn.execute(select(things.c.id, things.c.name).order_by(things.c.id)).all()
        assert [name for _, name in names] == [r["name"] for r in rows]
        first = names[0][0]
        taken = TAKE.first(conn, {"thing": first, "when": WHEN})
        assert taken is not None
        assert taken._asdict() == {"name": "m0", "colour": Colour.RED, "at": WHEN, "size": 1}
        assert TAKE.first(conn, {"thing": first, "when": WHEN}) is None  # taken already

    await _in_transaction(engine, work)
    async with engine.connect() as conn:  # committed
        assert (await conn.execute(select(things.c.done).where(things.c.name == "m0"))).one()[0]


async def test_the_first_statement_joins_sqlalchemys_transaction(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(
            lambda c: INSERT.insert(
                c, {"name": "g", "colour": None, "done": False, "at": None, "size": 1}
            )
        )
        assert conn.in_transaction()
        await conn.rollback()
        assert (await conn.execute(select(things.c.id))).first() is None  # not autocommitted


async def test_a_constraint_broken_raises_sqlalchemys_error_with_the_values_hidden(
    engine: AsyncEngine,
) -> None:
    row = {"name": "secret@example.com", "colour": None, "done": False, "at": None, "size": 1}
    await _in_transaction(engine, lambda conn: INSERT.insert(conn, row))
    for attempt in (lambda c: INSERT.insert(c, row), lambda c: INSERT.execute(c, [row, row])):
        with pytest.raises(IntegrityError) as raised:
            await _in_transaction(engine, attempt)
        assert "secret@example.com" not in str(raised.value)
        assert "parameters hidden" in str(raised.value)


async def test_a_connection_lost_mid_transaction_is_not_handed_out_again(
    engine: AsyncEngine,
) -> None:
    await _in_transaction(
        engine,
        lambda c: INSERT.insert(
            c, {"name": "h", "colour": Colour.RED, "done": False, "at": None, "size": 1}
        ),
    )
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await other.commit()
        with pytest.raises(DBAPIError) as raised:
            await conn.run_sync(lambda c: FIND.first(c, {"id": 1}))
        assert raised.value.connection_invalidated
    # The pool connects anew: the next transaction works.
    found = await _in_transaction(engine, lambda c: FIND.first(c, {"id": 1}))
    assert found is not None
    assert found.label == "h"


@asynccontextmanager
async def _pool_of(postgres_url: str, size: int) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """An engine whose pool keeps `size` connections, with the tables made, and beside it
    one without a pool to act on the server as another client would."""
    made = create_async_engine(async_url(postgres_url), pool_size=size, max_overflow=0)
    other = create_async_engine(async_url(postgres_url), poolclass=NullPool)
    try:
        async with made.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield made, other
    finally:
        await made.dispose()
        await other.dispose()


async def _pids(engine: AsyncEngine, count: int) -> list[int]:
    """Open `count` pooled connections at once and give back their server processes."""
    conns = [await engine.connect() for _ in range(count)]
    try:
        return [(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in conns]
    finally:
        for c in conns:
            await c.close()


async def test_a_restarted_server_fails_one_statement_not_one_a_pooled_connection(
    postgres_url: str,
) -> None:
    async with _pool_of(postgres_url, 3) as (made, killer):
        pids = await _pids(made, 3)
        async with killer.connect() as other:
            for pid in pids:  # what a server restart does to every pooled connection
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        outcomes = []
        for _ in range(4):
            try:
                await _in_transaction(made, lambda c: FIND.first(c, {"id": 1}))
                outcomes.append("ok")
            except DBAPIError as error:
                outcomes.append("lost" if error.connection_invalidated else str(error))
        # As SQLAlchemy's own execute: the first loss invalidates the pool's older connections.
        assert outcomes == ["lost", "ok", "ok", "ok"]


async def test_a_statement_the_schema_outdated_is_prepared_again_after_one_failure(
    postgres_url: str,
) -> None:
    row = {"name": "s", "colour": Colour.RED, "done": False, "at": None, "size": 1}
    async with _pool_of(postgres_url, 1) as (made, other):
        thing = await _in_transaction(made, lambda c: INSERT.insert(c, row))
        assert await _in_transaction(made, lambda c: FIND.first(c, {"id": thing})) is not None
        async with other.begin() as conn:  # the prepared SELECT's result type changes
            await conn.execute(text("ALTER TABLE things ALTER COLUMN name TYPE text"))
        with pytest.raises(DBAPIError):  # in a transaction asyncpg cannot prepare it again
            await _in_transaction(made, lambda c: FIND.first(c, {"id": thing}))
        for _ in range(2):  # as after SQLAlchemy's own execute: prepared anew, and it works
            found = await _in_transaction(made, lambda c: FIND.first(c, {"id": thing}))
            assert found is not None
            assert found.label == "s"


SLEEP = Prepared(select(func.pg_sleep(bindparam("seconds", type_=Float)).label("slept")))


def _backend(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


async def test_a_statement_cancelled_half_way_takes_its_connection_out_of_the_pool(
    postgres_url: str,
) -> None:
    async with _pool_of(postgres_url, 1) as (made, _):
        before = await _in_transaction(made, _backend)
        sleeping = asyncio.create_task(
            _in_transaction(made, lambda c: SLEEP.first(c, {"seconds": 5}))
        )
        await asyncio.sleep(0.5)
        sleeping.cancel()  # a request's task cancelled at shutdown, or its client gone
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        # As after SQLAlchemy's own execute: nobody knows the connection's state, a new one.
        after = await asyncio.wait_for(_in_transaction(made, _backend), 10)
        assert after != before
