"""`Prepared`: the hot path's statements run on SQLite's cursor give what SQLAlchemy gives."""

import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, StatementError

from specialistly.db import UTCDateTime
from specialistly.statements import Prepared


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
    Column(
        "colour", Enum(Colour, native_enum=False, values_callable=lambda e: [m.value for m in e])
    ),
    Column("done", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=True),
    Column("size", Integer, default=3),
)
INSERT = Prepared(things.insert())
UPDATE = Prepared(things.update().where(things.c.id == bindparam("thing")))
FIND = Prepared(
    select(things.c.id, things.c.colour, things.c.done, things.c.at, things.c.name.label("label"))
    .where(things.c.id == bindparam("id"), things.c.colour != Colour.BLUE)
    .limit(1)
)
WHEN = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(f"sqlite:///{tmp_path / 'prepared.db'}")
    metadata.create_all(made)
    yield made
    made.dispose()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def _row(conn: Connection, thing: int) -> dict[str, Any]:
    row = conn.execute(select(things).where(things.c.id == thing)).one()
    return dict(row._asdict())


def test_a_row_inserted_and_read_back_has_the_types_sqlalchemy_gives(engine: Engine) -> None:
    with engine.begin() as conn:
        thing = INSERT.insert(
            conn, {"name": "a", "colour": Colour.RED, "done": True, "at": WHEN, "size": 4}
        )
        core = conn.execute(FIND.statement, {"id": thing}).one()
        short = FIND.first(conn, {"id": thing})
        assert short is not None
        assert tuple(short) == tuple(core)
        assert short._asdict() == core._asdict()
        assert short.at == WHEN  # the column type's processors ran
        assert short.at.tzinfo is UTC
        assert short.colour is Colour.RED
        assert short.done is True
        assert short.label == "a"
        assert _row(conn, thing) == {
            "id": thing,
            "name": "a",
            "colour": Colour.RED,
            "done": True,
            "at": WHEN,
            "size": 4,
        }


def test_a_zone_is_converted_to_utc_and_a_naive_time_refused_as_in_sqlalchemy(
    engine: Engine,
) -> None:
    berlin = WHEN.astimezone(ZoneInfo("Europe/Berlin"))
    with engine.begin() as conn:
        thing = INSERT.insert(
            conn, {"name": "b", "colour": None, "done": False, "at": berlin, "size": 1}
        )
        assert _row(conn, thing)["at"] == WHEN
        with pytest.raises(StatementError, match="naive"):
            INSERT.insert(
                conn,
                {
                    "name": "c",
                    "colour": None,
                    "done": False,
                    "at": WHEN.replace(tzinfo=None),
                    "size": 1,
                },
            )


def test_the_statement_runs_once_on_the_cursor_and_finds_nothing_where_it_should(
    engine: Engine,
) -> None:
    seen = _statements(engine)
    with engine.begin() as conn:
        thing = INSERT.insert(
            conn, {"name": "d", "colour": Colour.BLUE, "done": False, "at": None, "size": 1}
        )
        assert FIND.first(conn, {"id": thing}) is None  # BLUE: the literal in the statement
        assert FIND.first(conn, {"id": thing + 1}) is None
    # SQLAlchemy's own events see only the transaction: the statements went to the cursor.
    assert not [s for s in seen if s.startswith(("INSERT", "SELECT"))]


def test_an_update_writes_only_the_columns_given(engine: Engine) -> None:
    with engine.begin() as conn:
        thing = INSERT.insert(
            conn, {"name": "e", "colour": Colour.RED, "done": False, "at": None, "size": 5}
        )
        UPDATE.execute(conn, {"done": True, "at": WHEN, "thing": thing})
        UPDATE.execute(conn, {"colour": Colour.BLUE, "thing": thing})
        assert _row(conn, thing) == {
            "id": thing,
            "name": "e",
            "colour": Colour.BLUE,
            "done": True,
            "at": WHEN,
            "size": 5,
        }


def test_executemany_inserts_every_row_and_an_empty_list_nothing(engine: Engine) -> None:
    rows = [
        {
            "name": f"m{n}",
            "colour": Colour.RED,
            "done": bool(n % 2),
            "at": WHEN + timedelta(minutes=n),
            "size": n,
        }
        for n in range(5)
    ]
    with engine.begin() as conn:
        INSERT.execute(conn, rows)
        INSERT.execute(conn, [])
        stored = conn.execute(
            select(things.c.name, things.c.done, things.c.at).order_by(things.c.id)
        )
        assert [tuple(r) for r in stored] == [(r["name"], r["done"], r["at"]) for r in rows]


def test_a_constraint_broken_raises_sqlalchemys_integrity_error(engine: Engine) -> None:
    row = {"name": "same", "colour": None, "done": False, "at": None, "size": 1}
    with engine.begin() as conn:
        INSERT.insert(conn, row)
        with pytest.raises(IntegrityError):
            INSERT.insert(conn, row)
        with pytest.raises(IntegrityError):
            INSERT.execute(conn, [row])


def test_a_python_side_default_to_compute_is_left_to_sqlalchemy(engine: Engine) -> None:
    seen = _statements(engine)
    with engine.begin() as conn:
        thing = INSERT.insert(conn, {"name": "f", "colour": None, "done": True, "at": None})
        assert _row(conn, thing)["size"] == 3  # the column's default, which only SQLAlchemy knows
    assert [s for s in seen if s.startswith("INSERT")]


def test_an_error_hides_its_parameters_as_the_engine_does(tmp_path: Path) -> None:
    hiding = create_engine(f"sqlite:///{tmp_path / 'hidden.db'}", hide_parameters=True)
    metadata.create_all(hiding)
    row = {"name": "secret@example.com", "colour": None, "done": False, "at": None, "size": 1}
    try:
        with hiding.begin() as conn:
            INSERT.insert(conn, row)
            with pytest.raises(IntegrityError) as one:
                INSERT.insert(conn, row)
            with pytest.raises(IntegrityError) as many:
                INSERT.execute(conn, [row, row])
    finally:
        hiding.dispose()
    for raised in (one, many):
        assert "secret@example.com" not in str(raised.value)
        assert "parameters hidden" in str(raised.value)


def test_a_value_missing_is_refused_as_sqlalchemy_refuses_it(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(StatementError, match="'thing'"):
        UPDATE.execute(conn, {"done": True})  # no booking to update: not every row
    with engine.begin() as conn, pytest.raises(StatementError, match="'id'"):
        FIND.first(conn, {})


def test_a_connection_not_yet_in_a_transaction_begins_one_as_sqlalchemy_would(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        INSERT.insert(conn, {"name": "g", "colour": None, "done": False, "at": None, "size": 1})
        assert conn.in_transaction()
        conn.rollback()
        assert conn.execute(select(things.c.id)).first() is None  # rolled back, not autocommitted


TAKE = Prepared(
    things.update()
    .where(things.c.id == bindparam("thing"), things.c.done.is_(False))
    .values(done=True, at=bindparam("when"), size=things.c.size + 1)
    .returning(things.c.name, things.c.colour, things.c.at, things.c.size)
)


def test_an_update_returning_answers_its_row_as_sqlalchemy_does_and_finishes(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        first = INSERT.insert(
            conn, {"name": "t", "colour": Colour.RED, "done": False, "at": None, "size": 1}
        )
        second = INSERT.insert(
            conn, {"name": "u", "colour": Colour.BLUE, "done": False, "at": None, "size": 1}
        )
        taken = TAKE.first(conn, {"thing": first, "when": WHEN})
        core = conn.execute(TAKE.statement, {"thing": second, "when": WHEN}).one()
        assert taken is not None
        assert taken._asdict() == {"name": "t", "colour": Colour.RED, "at": WHEN, "size": 2}
        assert taken.at.tzinfo is UTC  # the column types' result processors ran
        assert list(taken._asdict()) == list(core._asdict())
        assert TAKE.first(conn, {"thing": first, "when": WHEN}) is None  # taken already
    with engine.connect() as conn:  # committed: the statement was read to its end
        assert _row(conn, first)["done"] is True
        assert _row(conn, first)["size"] == 2
