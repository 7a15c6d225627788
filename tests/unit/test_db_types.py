"""UTCDateTime on SQLite: the fused bind processor writes exactly SQLAlchemy's text."""

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from specialistly.db import UTCDateTime


def _sqlalchemys(dialect):  # what SQLAlchemy composes without the override
    return TypeDecorator.bind_processor(UTCDateTime().dialect_impl(dialect), dialect)


def _ours(dialect):
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


def _samples() -> list[datetime]:
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
    values = [
        datetime(2026, 12, 5, 7, 16, 21, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=zones[1]),
        datetime(1000, 1, 1, 23, 59, 59, 999999, tzinfo=zones[2]),
    ]
    for _ in range(500):
        start = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**17))
        values.append(start.astimezone(rng.choice(zones)))
    return values


def test_the_sqlite_text_is_sqlalchemys_own():
    dialect = sqlite.dialect()
    ours, theirs = _ours(dialect), _sqlalchemys(dialect)
    assert ours is not None
    assert theirs is not None
    for value in _samples():
        assert ours(value) == theirs(value), value
    assert ours(None) is None


def test_a_naive_datetime_is_refused_as_before():
    ours = _ours(sqlite.dialect())
    assert ours is not None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 5, 7, 0))


def test_other_databases_keep_sqlalchemys_processing():
    dialect = postgresql.dialect()
    value = datetime(2026, 12, 5, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    ours, theirs = _ours(dialect), _sqlalchemys(dialect)
    assert (ours(value) if ours else value) == (theirs(value) if theirs else value)


def test_values_round_trip_and_compare_in_order_on_sqlite():
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    values = _samples()[:100]
    with engine.begin() as conn:
        conn.execute(insert(table), [{"at": v} for v in values])
        stored = [row.at for row in conn.execute(select(table).order_by(table.c.at))]
    assert stored == sorted(v.astimezone(UTC) for v in values)
    assert all(v.tzinfo is UTC for v in stored)
