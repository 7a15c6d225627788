"""Migration 0010 (scheduling): the models match it, and bookings keep their partial index."""

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from specialistly.db import Base, alembic_config, upgrade
from specialistly.models import load_all

PARTIAL_INDEX = "uq_bookings_confirmed_slot"


def indexes(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bookings'"
        ).fetchall()
    return {name: sql or "" for name, sql in rows}


def test_the_models_match_the_migrated_sqlite_schema(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    upgrade(f"sqlite:///{path}")
    load_all()
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_the_partial_unique_index_on_confirmed_bookings_survives_0010_both_ways(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0009")
    before = indexes(path)[PARTIAL_INDEX]
    assert "WHERE status = 'confirmed'" in before
    upgrade(url, "0010")
    assert indexes(path)[PARTIAL_INDEX] == before
    assert "ix_bookings_event_type_id" in indexes(path)
    command.downgrade(alembic_config(url), "0009")
    assert indexes(path)[PARTIAL_INDEX] == before
    assert "ix_bookings_event_type_id" not in indexes(path)
    upgrade(url, "0010")
    assert indexes(path)[PARTIAL_INDEX] == before


def test_existing_specialists_get_an_empty_bio(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0009")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO specialists (name, email, password_hash, timezone, created_at) "
            "VALUES ('Ada', 'ada@example.com', 'x', 'UTC', '2026-01-01 00:00:00')"
        )
    upgrade(url, "0010")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT bio FROM specialists").fetchall() == [("",)]


def test_the_overlap_check_reads_only_bookings_ending_after_the_new_one_starts(
    tmp_path: Path,
) -> None:
    """Migration 0017: every booking's overlap check searches an index, so it does not get
    slower with each booking the specialist ever had."""
    from sqlalchemy.dialects import sqlite

    from specialistly.bookings.busy import _OVERLAP

    path = tmp_path / "app.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    compiled = _OVERLAP.statement.compile(dialect=sqlite.dialect())
    values = compiled.construct_params(
        {"specialist_id": 1, "start": "2027-01-01 10:00:00", "end": "2027-01-01 10:30:00"}
    )
    assert compiled.positiontup is not None
    params = [getattr(values[name], "value", values[name]) for name in compiled.positiontup]
    with sqlite3.connect(path) as db:
        [(*_, plan)] = db.execute("EXPLAIN QUERY PLAN " + str(compiled), params).fetchall()
    assert "USING INDEX ix_bookings_busy" in plan
    assert "busy_end>?" in plan
    command.downgrade(alembic_config(url), "0016")
    assert "ix_bookings_busy" not in indexes(path)
    upgrade(url)
    assert "ix_bookings_busy" in indexes(path)
