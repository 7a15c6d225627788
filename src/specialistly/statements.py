"""Core statements for the hot write path, compiled once and run on SQLite's own cursor.

A booking's two write transactions run about ten short statements in SQLite's writer thread.
SQLAlchemy's work around each one (execution context, parameter and result objects) cost
several times what SQLite itself did: about a third of a booking's CPU in the profile of
bench/README.md, round 6. `Prepared` keeps SQLAlchemy for what it is good at here, the SQL
and the column types' conversions, and does the per-execution part directly: the statement
is compiled once per set of parameter names, each parameter goes through its column type's
bind processor and each result column through its result processor, exactly the functions
SQLAlchemy would call, and driver errors are raised as SQLAlchemy's exceptions (their
parameters hidden as the engine hides them). SQLAlchemy's engine events do not see these
statements: count or fault them at the driver, or through a statement that is not Prepared.
Whatever this path cannot do as SQLAlchemy would (a Python-side default, a value missing,
values worked out per execution) is left to `Connection.execute`.

On the writer thread's own SQLite connection (the pysqlite driver), and on PostgreSQL's
(asyncpg, through SQLAlchemy's own DBAPI adapter of it, which begins the transaction, keeps
asyncpg's prepared statements and translates its errors: SQLAlchemy's execution around that
was a fifth of a PostgreSQL booking's CPU, bench/README.md, round 16). There, an INSERT's new
key comes back through RETURNING. Anywhere else (the async sessions on aiosqlite) it is
`Connection.execute`.
"""

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, exc
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
    row: Any  # the rows' namedtuple class (None for a statement that returns none)
    # The result columns that convert (a datetime's zone, an enum), by position: on SQLite
    # most (text, integers) do not, and a booking's row has 37 columns.
    results: tuple[tuple[int, Callable[[Any], Any]], ...]

    def arguments(self, params: Params) -> list[Any]:
        if self.fixed:
            params = {**self.fixed, **params}
        try:
            return [
                params[name] if process is None else process(params[name])
                for name, process in zip(self.names, self.processors, strict=True)
            ]
        except Exception as error:  # a value its column refuses, as SQLAlchemy says it
            raise exc.StatementError(
                f"({type(error).__module__}.{type(error).__name__}) {error}",
                self.sql,
                None,
                error,
            ) from error

    def load(self, raw: Sequence[Any]) -> Any:
        assert self.row is not None
        values = list(raw)
        for index, process in self.results:
            values[index] = process(values[index])
        return self.row._make(values)


# The drivers whose DBAPI cursor this runs statements on.
_DRIVERS = frozenset({"pysqlite", "asyncpg"})


class Prepared:
    """One Core statement (SELECT, INSERT or UPDATE) run the short way on SQLite and
    PostgreSQL."""

    def __init__(self, statement: Select[Any] | Insert | Update) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, frozenset[str]], _Plan | None] = {}
        self._with_key: Prepared | None = None  # the INSERT … RETURNING its key (PostgreSQL)
        self._many: dict[tuple[frozenset[str], int], Prepared] = {}  # multi-row INSERTs

    def first(self, conn: Connection, params: Params) -> Any | None:
        """The first row of a SELECT, or of an UPDATE's RETURNING (columns as attributes, and
        `_asdict()`), or None."""
        plan = self._plan(conn, params)
        if plan is None:
            return conn.execute(self.statement, params).first()
        cursor = self._run(conn, plan, params)
        # An UPDATE is read to its end: SQLite finishes the statement only then.
        raw = (
            cursor.fetchone()
            if isinstance(self.statement, Select)
            else next(iter(cursor.fetchall()), None)
        )
        return None if raw is None else plan.load(raw)

    def insert(self, conn: Connection, params: Params) -> int:
        """Insert one row; answer its new integer primary key."""
        plan = self._plan(conn, params)
        key = _integer_key(self.statement)
        if plan is None or key is None:
            inserted = conn.execute(self.statement, params).inserted_primary_key
            assert inserted is not None
            return int(inserted[0])
        if conn.dialect.driver == "pysqlite":
            return int(self._run(conn, plan, params).lastrowid)
        if self._with_key is None:
            assert isinstance(self.statement, Insert)
            self._with_key = Prepared(self.statement.returning(key))
        row = self._with_key.first(conn, params)
        assert row is not None
        return int(row[0])

    def execute(self, conn: Connection, params: Params | Sequence[Params]) -> None:
        """Run an INSERT or UPDATE for one set of parameters, or for each of a list."""
        assert not isinstance(self.statement, Select), "a SELECT is read with first()"
        if isinstance(params, Mapping):
            plan = self._plan(conn, params)
            if plan is None:
                conn.execute(self.statement, params)
            else:
                self._run(conn, plan, params)
            return
        many = list(params)
        if not many:
            return
        plan = self._plan(conn, many[0])
        if plan is None or any(row.keys() != many[0].keys() for row in many):
            conn.execute(self.statement, many)  # SQLAlchemy says what is missing
            return
        if (
            len(many) > 1
            and conn.dialect.driver == "asyncpg"
            and isinstance(self.statement, Insert)
        ):
            self._rows(many[0].keys(), len(many)).execute(
                conn,
                {f"{key}_{n}": value for n, row in enumerate(many) for key, value in row.items()},
            )
            return
        _execute(conn, _cursor(conn), plan.sql, [plan.arguments(row) for row in many], many=True)

    def _rows(self, keys: Iterable[str], count: int) -> "Prepared":
        """This INSERT of `count` rows in one statement (`key_n` for row n's `key`): asyncpg's
        executemany writes to the socket row by row, one statement writes once."""
        assert isinstance(self.statement, Insert)
        columns = self.statement.table.c
        shape = (frozenset(keys), count)
        if (rows := self._many.get(shape)) is None:
            rows = self._many[shape] = Prepared(
                self.statement.values(
                    [
                        {key: bindparam(f"{key}_{n}", type_=columns[key].type) for key in shape[0]}
                        for n in range(count)
                    ]
                )
            )
        return rows

    def _run(self, conn: Connection, plan: _Plan, params: Params) -> Any:
        """Execute on the DBAPI cursor and answer that cursor, to fetch its rows from."""
        cursor = _cursor(conn)
        _execute(conn, cursor, plan.sql, plan.arguments(params), many=False)
        return cursor

    def _plan(self, conn: Connection, params: Params) -> _Plan | None:
        dialect = conn.dialect
        if dialect.driver not in _DRIVERS or not dialect.positional:  # not aiosqlite
            return None  # nothing to build or keep for SQLAlchemy's own path
        key = (dialect.driver, frozenset(params))
        try:
            plan = self._plans[key]
        except KeyError:
            plan = self._plans[key] = self._compile(dialect, params)
        if plan is not None and not conn.in_transaction():
            conn.begin()  # what SQLAlchemy's autobegin does: never SQLite's autocommit
        return plan

    def _compile(self, dialect: Dialect, params: Params) -> _Plan | None:
        """The statement for these parameter names; None where only SQLAlchemy can run it."""
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(params))
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            return None  # a Python-side default or onupdate to compute: SQLAlchemy's job
        binds = compiled.binds
        names = tuple(compiled.positiontup or ())
        for name in names:
            bind = binds[name]
            if bind.expanding or bind.callable is not None:
                return None  # values worked out at each execution
            if name not in params and bind.required:
                return None  # a value missing: SQLAlchemy raises, naming it
        row: Any = None
        results: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
        if isinstance(self.statement, Select) or self.statement._returning:
            columns = self.statement.exported_columns
            row = _row_type(list(map(str, columns.keys())))
            processors = (
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
            results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        return _Plan(
            sql=compiled.string,
            names=names,
            processors=tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            # Values the statement holds itself (a status compared against, a LIMIT).
            fixed={name: binds[name].effective_value for name in names if name not in params},
            row=row,
            results=results,
        )


def _cursor(conn: Connection) -> Any:
    """A DBAPI cursor of the connection: sqlite3's own, or SQLAlchemy's adapter of asyncpg
    (inside `run_sync`, as the rest of the write path).

    asyncpg's adapter keeps each connection's prepared statements and prepares one again
    when it is older than the time on the cursor; SQLAlchemy's asyncpg execution context puts
    the dialect's "schema changed" time there before each statement, and so does this.
    """
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    changed = getattr(conn.dialect, "_invalidate_schema_cache_asof", None)
    if changed is not None:
        cursor._invalidate_schema_cache_asof = changed
    return cursor


def _execute(conn: Connection, cursor: Any, sql: str, arguments: Any, *, many: bool) -> None:
    """Run on the cursor (`many`: a list of arguments, one row each), with the driver's
    errors as SQLAlchemy's. A statement stopped half-way (its task cancelled, the process exiting)
    leaves the connection in a state nobody knows, so it is invalidated, as SQLAlchemy does."""
    try:
        if many:
            cursor.executemany(sql, arguments)
        else:
            cursor.execute(sql, arguments)
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(conn, cursor, sql, arguments, error, many=many) from error
    except Exception:
        raise
    except BaseException:
        conn.invalidate()
        raise


def _integer_key(statement: Select[Any] | Insert | Update) -> Any | None:
    """The table's primary key column when it is one INTEGER (SQLite's rowid), else None."""
    assert isinstance(statement, Insert)
    key = list(statement.table.primary_key)
    return key[0] if len(key) == 1 and isinstance(key[0].type, Integer) else None


def _row_type(keys: list[str]) -> Any:
    """Rows with their columns as attributes and `_asdict()`, as SQLAlchemy's have."""
    return namedtuple("Row", keys)


def _wrapped(
    conn: Connection, cursor: Any, sql: str, arguments: Any, error: Exception, *, many: bool
) -> exc.StatementError:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, …),
    its parameters hidden as the engine hides them (they hold names, emails, tokens).

    What SQLAlchemy does besides, it does here too. A lost connection is invalidated, with
    every connection the pool opened before it (a restarted server lost them all), so that
    the pool hands none of them out again. A prepared statement the server no longer accepts
    (a column's type changed) marks the dialect's statements stale, so that each
    connection prepares its statements again (`_cursor`).
    """
    dbapi = conn.dialect.loaded_dbapi
    stale = tuple(
        getattr(dbapi, name)
        for name in ("InvalidCachedStatementError", "InternalServerError")
        if hasattr(dbapi, name)
    )
    if stale and isinstance(error, stale):
        conn.dialect._invalidate_schema_cache()  # type: ignore[attr-defined]  # asyncpg's
    lost = conn.dialect.is_disconnect(
        error,  # type: ignore[arg-type]  # the DBAPI's Error, which the caller caught
        conn.connection.dbapi_connection,
        cursor,
    )
    wrapped = exc.DBAPIError.instance(
        sql,
        arguments,
        error,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=conn.engine.hide_parameters,
        connection_invalidated=lost,
        dialect=conn.dialect,
        ismulti=many,
    )
    if lost:
        conn.engine.pool._invalidate(conn.connection, wrapped)
        conn.invalidate(wrapped)
    return wrapped
