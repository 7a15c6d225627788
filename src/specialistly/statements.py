"""Core statements for the hot write path, compiled once and run on SQLite's own cursor.

A booking's two write transactions run about ten short statements in SQLite's writer thread.
SQLAlchemy's work around each one (execution context, parameter and result objects) cost
several times what SQLite itself did: about a third of a booking's CPU in the profile of
bench/README.md, round 6. `Prepared` keeps SQLAlchemy for what it is good at here, the SQL
and the column types' conversions, and does the per-execution part directly: the statement
is compiled once per set of parameter names, each parameter goes through its column type's
bind processor and each result column through its result processor, exactly the functions
SQLAlchemy would call, and driver errors are raised as SQLAlchemy's exceptions.

Only on the writer thread's own SQLite connection (the pysqlite driver). Anywhere else it is
`Connection.execute`: PostgreSQL (asyncpg, one round trip per statement, where this overhead
is small beside the wire) and the async sessions on aiosqlite.
"""

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Insert, Select, Update

Params = Mapping[str, Any]
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    # Per positional parameter: its name, its bind processor, and its value when the
    # statement itself holds it (a literal compared against, such as a status).
    names: tuple[str, ...]
    processors: tuple[_Processor, ...]
    fixed: Mapping[str, Any]
    row: Callable[..., Any] | None
    results: tuple[_Processor, ...]

    def arguments(self, params: Params) -> list[Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params[name] if name in params else self.fixed[name]
            try:
                values.append(value if process is None else process(value))
            except Exception as error:  # a value its column refuses, as SQLAlchemy says it
                raise exc.StatementError(
                    f"({type(error).__module__}.{type(error).__name__}) {error}",
                    self.sql,
                    None,
                    error,
                ) from error
        return values

    def load(self, raw: Sequence[Any]) -> Any:
        assert self.row is not None
        return self.row(*(v if p is None else p(v) for v, p in zip(raw, self.results, strict=True)))


class Prepared:
    """One Core statement (SELECT, INSERT or UPDATE) run the short way on SQLite."""

    def __init__(self, statement: Select[Any] | Insert | Update) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, frozenset[str]], _Plan | None] = {}

    def first(self, conn: Connection, params: Params) -> Any | None:
        """The first row (with its columns as attributes, and `_asdict()`), or None."""
        plan = self._plan(conn.dialect, params)
        if plan is None:
            return conn.execute(self.statement, params).first()
        raw = self._run(conn, plan, params).fetchone()
        return None if raw is None else plan.load(raw)

    def insert(self, conn: Connection, params: Params) -> int:
        """Insert one row; answer its new integer primary key."""
        plan = self._plan(conn.dialect, params)
        if plan is None:
            inserted = conn.execute(self.statement, params).inserted_primary_key
            assert inserted is not None
            return int(inserted[0])
        return int(self._run(conn, plan, params).lastrowid)

    def execute(self, conn: Connection, params: Params | Sequence[Params]) -> None:
        """Run it for one set of parameters, or for each of a list (executemany)."""
        many = list(params) if not isinstance(params, Mapping) else None
        if many is not None and not many:
            return
        first = many[0] if many else params
        assert isinstance(first, Mapping)
        plan = self._plan(conn.dialect, first)
        if plan is None:
            conn.execute(self.statement, many if many is not None else params)
            return
        cursor = conn.connection.driver_connection
        assert cursor is not None
        rows = many if many is not None else [first]
        arguments = [plan.arguments(p) for p in rows]
        try:
            cursor.executemany(plan.sql, arguments)
        except conn.dialect.loaded_dbapi.Error as error:
            raise _wrapped(conn.dialect, plan.sql, arguments, error) from error

    def _run(self, conn: Connection, plan: _Plan, params: Params) -> Any:
        arguments = plan.arguments(params)
        driver = conn.connection.driver_connection
        assert driver is not None
        try:
            return driver.execute(plan.sql, arguments)
        except conn.dialect.loaded_dbapi.Error as error:
            raise _wrapped(conn.dialect, plan.sql, arguments, error) from error

    def _plan(self, dialect: Dialect, params: Params) -> _Plan | None:
        key = (dialect.driver, frozenset(params))
        try:
            return self._plans[key]
        except KeyError:
            plan = self._plans[key] = self._compile(dialect, params)
            return plan

    def _compile(self, dialect: Dialect, params: Params) -> _Plan | None:
        """The statement for these parameter names; None where only SQLAlchemy can run it."""
        if dialect.driver != "pysqlite" or not dialect.positional:  # not aiosqlite's either
            return None
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(params))
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            return None  # a Python-side default or onupdate to compute: SQLAlchemy's job
        binds = compiled.binds
        names = tuple(compiled.positiontup or ())
        if any(binds[name].expanding for name in names):
            return None
        row: Callable[..., Any] | None = None
        results: tuple[_Processor, ...] = ()
        if isinstance(self.statement, Select):
            columns = self.statement.selected_columns
            row = _row_type(list(columns.keys()))
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
        return _Plan(
            sql=compiled.string,
            names=names,
            processors=tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            fixed={name: binds[name].effective_value for name in names if name not in params},
            row=row,
            results=results,
        )


def _row_type(keys: list[str]) -> Callable[..., Any]:
    """Rows with their columns as attributes and `_asdict()`, as SQLAlchemy's have."""
    return namedtuple("Row", keys)


def _wrapped(dialect: Dialect, sql: str, arguments: Any, error: Exception) -> exc.StatementError:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, …)."""
    return exc.DBAPIError.instance(
        sql, arguments, error, dialect.loaded_dbapi.Error, dialect=dialect
    )
