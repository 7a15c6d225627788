"""The database engine, sessions and the transaction scope; nothing feature-specific."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, event, exc, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
T = TypeVar("T")
NAIVE_REFUSED = "naive datetimes are not stored: give them a time zone"


class Base(DeclarativeBase):
    """Every table's declarative base."""


M = TypeVar("M", bound=Base)


def detached(cls: type[M], values: Mapping[str, Any]) -> M:
    """An object of `cls` holding `values` as if loaded from its row, in no session.

    For rows read by Core on the hot path: the ORM keeps an object's loaded values in its
    `__dict__`, and filling that directly, as loading does, skips the attribute event that
    `cls(**values)` runs for each column (a booking's 34 were 33 us, this 3). Changes made
    afterwards are tracked as on any object.
    """
    instance = cls()
    instance.__dict__.update(values)
    return instance


# `Session.info` key: the connection the writer thread gave the session (see `connection_of`).
_CONNECTION = "specialistly.connection"


def connection_of(session: Session) -> Connection:
    """The connection `session` writes on: `session.connection()`, or, in SQLite's writer
    thread, the connection its transaction (or savepoint) already runs on, handed over
    without the session's lookup each time (a booking's writes ask about ten times)."""
    given: Connection | None = session.info.get(_CONNECTION)
    return given if given is not None else session.connection()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(NAIVE_REFUSED)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, `process_bind_param` and SQLite's text rendering as one function.

        A booking binds about twenty datetimes; SQLAlchemy would call three functions for
        each and build a dict to format it. The text is the same: SQLite DATETIME's
        storage format, `YYYY-MM-DD HH:MM:SS.ffffff` (tests/unit/test_db_types.py).
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError(NAIVE_REFUSED)
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process


def async_url(url: str) -> str:
    """Name the async driver in a plain `postgresql://` or `sqlite://` URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


# PostgreSQL connections a process keeps open (DATABASE_POOL_SIZE), and how many more a burst
# may open beyond them (closed again as they come back): half as many.
DEFAULT_POOL_SIZE = 20


def create_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL and a busy timeout, and the file's folder.

    PostgreSQL's pool keeps `pool_size` connections: SQLAlchemy's default of 5 (and 10 more
    in a burst, each closed as it came back) opened a new connection, a backend process at
    the server, for about every tenth booking at 50 at once.
    """
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size // 2
        )
        _test_idle_connections(engine.sync_engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
    _configure_sqlite(engine.sync_engine)
    return engine


# A pooled PostgreSQL connection that sat unused this long is tested with a round trip before
# it is handed out (a restart or an idle timeout may have closed it); one back in the pool
# sooner is used as it is. Testing every checkout (`pool_pre_ping`) was two round trips of a
# booking's fifteen, under load always answered.
TEST_IF_IDLE_FOR = 2.0  # seconds
_RETURNED_AT = "specialistly_returned_at"


def _test_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_connection: Any, record: Any, _: Any) -> None:
        returned = record.info.get(_RETURNED_AT)  # None: connected just now
        if returned is None or time.monotonic() - returned < TEST_IF_IDLE_FOR:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises for a closed connection
            # As `pool_pre_ping` does: a restart closed the others too; the pool connects anew.
            raise exc.InvalidatePoolError(str(error)) from error


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy's "begin" event choose how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Writers wait for each other rather than fail; no write waits on Zoom.
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): it waits
        # for other writers instead of failing when it upgrades a read lock later.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        _run_begin(conn, f"BEGIN {mode}")


def _run_begin(conn: Connection, sql: str) -> None:
    """Run BEGIN on the driver's cursor, as `exec_driver_sql` would with none of its
    execution context (two thirds of a write transaction's own overhead in the writer
    thread's profile); a driver error is raised as SQLAlchemy raises it (busy: its
    OperationalError)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
    except conn.dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            sql, None, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from error
    finally:
        cursor.close()


def _sqlite_writer(url: str) -> "sessionmaker[Session] | None":
    """Sessions of a plain (thread-bound) SQLite engine for the writer thread, for a file."""
    parsed = make_url(async_url(url))
    if not parsed.database or parsed.database == ":memory:":
        return None
    engine = create_sync_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": 60, "check_same_thread": False},
        hide_parameters=True,
    )
    _configure_sqlite(engine)
    return sessionmaker(engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)


# At most this many queued write functions share one SQLite transaction (and one fsync).
GROUP_COMMIT_LIMIT = 32


class _Job:
    """A write function for the writer thread, or (`hold`) a turn the thread waits out.

    A write's caller waits on `waiter`, a future of its event loop. The thread answers all
    the callers of a batch with one call into each loop (`_answer`): one wake-up of the loop
    for the batch, where a `concurrent.futures.Future` per caller (`asyncio.wrap_future`)
    made one each, with a lock and two callbacks.
    """

    __slots__ = ("cancelled", "hold", "loop", "running", "waiter", "work")

    def __init__(
        self,
        work: Callable[[Session], Any] | None,
        hold: Callable[[], None] | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ):
        self.work, self.hold, self.loop = work, hold, loop
        self.waiter: asyncio.Future[Any] | None = loop.create_future() if loop else None
        self.running = self.cancelled = False

    def start(self) -> bool:
        """The thread's: run it, unless its caller gave up first."""
        with _JOB_STATES:
            self.running = not self.cancelled
            return self.running

    def cancel(self) -> bool:
        """The caller's: give up, unless the thread has begun it (it then runs to its end)."""
        with _JOB_STATES:
            self.cancelled = not self.running
            return self.cancelled


_JOB_STATES = threading.Lock()
_END = _Job(None, None)
# How long closing waits for the writer thread to finish what is queued.
WRITER_STOP_WAIT = 30.0  # marks the end of the queue inside `_run`


def _wait_out(hold: Callable[[], None]) -> None:
    try:
        hold()
    except BaseException:  # a closed event loop, say: the writer thread must live on
        log.exception("A turn of the SQLite writer thread failed")


class _SqliteWriter:
    """One thread that runs this process's SQLite write transactions, in order (FIFO).

    Group commit: the write functions queued while the thread was busy run together in one
    transaction, with one commit (one fsync) for all of them. If one of them raises, the
    batch is rolled back and runs again with each function in a SAVEPOINT of its own: the one
    that raises rolls back its savepoint only and its caller gets the error. Every caller is
    answered only after the commit, or with its error if the commit fails.
    """

    def __init__(self, sessions: "sessionmaker[Session]") -> None:
        self._sessions = sessions
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[Session], T], loop: asyncio.AbstractEventLoop) -> _Job:
        """Queue `work`; its outcome comes to `job.waiter`, in `loop`."""
        job = _Job(work, None, loop)
        self._queue.put(job)
        return job

    def hold(self, wait: Callable[[], None]) -> None:
        """Queue a turn: when it comes, the thread calls `wait` and does nothing else."""
        self._queue.put(_Job(None, wait))

    def shutdown(self) -> None:
        """Run what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.hold is not None:
                _wait_out(job.hold)
                continue
            # Whatever else is queued now joins this transaction, up to a turn or the end.
            batch, after = [job], None
            while len(batch) < GROUP_COMMIT_LIMIT:
                try:
                    queued = self._queue.get_nowait()
                except Empty:
                    break
                if queued is None or queued.hold is not None:
                    after = queued or _END
                    break
                batch.append(queued)
            live = [j for j in batch if j.start()]
            if len(live) == 1:
                self._alone(live[0])
            elif live:
                self._together(live)
            if after is _END:
                return
            if after is not None and after.hold is not None:
                _wait_out(after.hold)

    def _alone(self, job: _Job) -> None:
        assert job.work is not None
        try:
            with self._sessions() as session, session.begin():
                result = job.work(session)
        except BaseException as exc:  # the caller gets it, whatever it is
            _answer([(job, False, exc)])
        else:
            _answer([(job, True, result)])

    def _together(self, batch: list[_Job]) -> None:
        if self._straight(batch):
            return
        outcomes: list[tuple[bool, Any]] = []
        bind = self._sessions.kw["bind"]
        try:
            with bind.connect() as connection, connection.begin():
                for job in batch:
                    assert job.work is not None
                    outcomes.append(self._in_savepoint(connection, job.work))
        except BaseException as exc:  # nothing of the batch was committed
            _answer([(job, False, exc) for job in batch])
            return
        _answer([(job, ok, value) for job, (ok, value) in zip(batch, outcomes, strict=True)])

    def _straight(self, batch: list[_Job]) -> bool:
        """The usual case first: every function of the batch in one transaction, no
        savepoints. Answers False, with nothing written, if any of them (or the commit)
        failed: the batch then runs again with a savepoint each (functions must be safe to
        run again, as any transaction body that may be retried)."""
        results: list[Any] = []
        bind = self._sessions.kw["bind"]
        try:
            with (
                bind.connect() as connection,
                connection.begin(),
                # One session for the batch, joined to the connection's transaction (its
                # commit only flushes); emptied after each function, so that each starts
                # afresh as in a session of its own and keeps what it returns to itself.
                self._sessions(
                    bind=connection,
                    join_transaction_mode="rollback_only",
                    info={_CONNECTION: connection},
                ) as session,
            ):
                for job in batch:
                    assert job.work is not None
                    results.append(job.work(session))
                    # What the function left pending, written; the session's commit would
                    # do no more here (the connection's transaction commits the batch) and
                    # cost a session transaction's bookkeeping per function.
                    session.flush()
                    session.expunge_all()
        except BaseException:  # each caller hears of it from the run with savepoints
            return False
        _answer([(job, True, result) for job, result in zip(batch, results, strict=True)])
        return True

    def _in_savepoint(
        self, connection: Connection, work: Callable[[Session], Any]
    ) -> tuple[bool, Any]:
        """Run `work` in a SAVEPOINT: answer (True, result), or (False, its error) once the
        savepoint is rolled back. Anything else (the rollback fails) fails the batch."""
        with self._sessions(bind=connection, join_transaction_mode="create_savepoint") as session:
            session.begin()
            # The SAVEPOINT now (the session makes it when first asked for its connection),
            # and that connection for `connection_of`.
            session.info[_CONNECTION] = session.connection()
            try:
                result = work(session)
                session.commit()  # RELEASE SAVEPOINT (after the flush)
            except Exception as exc:  # the caller gets it
                error = exc
            else:
                return True, result
            session.rollback()  # ROLLBACK TO SAVEPOINT; raises if the transaction is gone
            return False, error


def _answer(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    """From the writer thread: each job's result (True) or error (False) to its caller, with
    one call into each caller's event loop for them all."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
    for outcome in outcomes:
        assert outcome[0].loop is not None
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # that loop is closed: no one is left there to answer
            log.warning("%d SQLite writes finished after their event loop closed", len(answers))


def _settle(answers: list[tuple[_Job, bool, Any]]) -> None:
    """In the callers' event loop: resolve their waiters (a caller cancelled meanwhile has
    its waiter done already, and the outcome is dropped, as `wrap_future` drops it)."""
    for job, ok, value in answers:
        waiter = job.waiter
        if waiter is None or waiter.done():
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)


_writing: ContextVar[bool] = ContextVar("writing", default=False)


class Database:
    """One engine; sessions for reading and transactions for writing.

    On SQLite, writers of this process queue for the database's one write lock in order
    (FIFO) instead of spinning in SQLite's busy handler; reads never wait (WAL).
    """

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_sessions = async_sessionmaker(writer, expire_on_commit=False)
        self._writer_queue = asyncio.Lock() if self.is_sqlite else None
        # SQLite: whole write transactions run in one thread, statement after statement with
        # no trip back to the event loop, so the write lock is held as briefly as possible.
        self._sync_writes = (
            _sqlite_writer(self.engine.url.render_as_string(hide_password=False))
            if self.is_sqlite
            else None
        )
        self._writer_thread = _SqliteWriter(self._sync_writes) if self._sync_writes else None

    @property
    def engines(self) -> list[Engine]:
        """Every engine that talks to the database (for instrumentation)."""
        found = [self.engine.sync_engine]
        if self._sync_writes is not None:
            found.append(self._sync_writes.kw["bind"].engine)
        return found

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Open a write transaction: it commits on success and rolls back on error."""
        if _writing.get():
            # On SQLite it would wait for itself: keep every write transaction one of a kind.
            raise RuntimeError("a write transaction is already open in this task")
        marker = _writing.set(True)
        try:
            async with self._queued(), self._write_sessions() as session, session.begin():
                yield session
        finally:
            _writing.reset(marker)

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction (committed on success, rolled back on error).

        `work` is plain synchronous ORM code: on SQLite it runs in the writer thread, on
        PostgreSQL through the async driver (`run_sync`).
        """
        if _writing.get():
            raise RuntimeError("a write transaction is already open in this task")
        marker = _writing.set(True)
        try:
            if self._sync_writes is None or self._writer_thread is None:
                async with self._queued(), self._write_sessions() as session, session.begin():
                    return await session.run_sync(work)
            # The writer thread is the queue: its jobs run back to back, in order, with no
            # trip through the event loop between one and the next.
            job = self._writer_thread.submit(work, asyncio.get_running_loop())
            assert job.waiter is not None
            try:
                result: T = await job.waiter
            except asyncio.CancelledError:
                job.cancel()  # not run if the thread has not begun it; else it runs out
                raise
            return result
        finally:
            _writing.reset(marker)

    @asynccontextmanager
    async def _queued(self) -> AsyncIterator[None]:
        """Take this process's turn to write on SQLite (nothing to take on PostgreSQL)."""
        if self._writer_thread is not None:
            async with self._holding_writer_thread():
                yield
            return
        if self._writer_queue is None:
            yield
            return
        async with self._writer_queue:
            yield

    @asynccontextmanager
    async def _holding_writer_thread(self) -> AsyncIterator[None]:
        """Queue with the writer thread's jobs, and keep it waiting while we write."""
        assert self._writer_thread is not None
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        done = threading.Event()

        def our_turn() -> None:
            if not turn.done():
                turn.set_result(None)

        def hold() -> None:
            loop.call_soon_threadsafe(our_turn)
            done.wait()

        self._writer_thread.hold(hold)
        try:
            await turn
            yield
        finally:
            done.set()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """Open a session for reads only; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    async def readiness(self) -> tuple[bool, str]:
        """Say whether the database answers and is migrated to the newest revision."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(_current_revisions)
        except Exception as exc:  # any driver error means "not ready"
            return False, f"database unreachable: {type(exc).__name__}"
        head = set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        if current != head:
            return False, "database not migrated: run `specialistly db upgrade`"
        return True, "ok"

    async def dispose(self) -> None:
        if self._writer_thread is not None and self._sync_writes is not None:
            # Off the event loop: a transaction still queued for its turn needs the loop to
            # run its body and let the thread go on (joining here would wait for ever).
            try:
                await asyncio.wait_for(
                    asyncio.to_thread(self._writer_thread.shutdown), timeout=WRITER_STOP_WAIT
                )
            except TimeoutError:
                log.error("The SQLite writer thread did not finish its queue; closing without it")
            self._sync_writes.kw["bind"].dispose()
        await self.engine.dispose()


def _current_revisions(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = async_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (blocking; call from a thread inside a loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)
