"""Engine, sessions and the unit of work.

One ``Database`` per process, made by the composition root (``wachter``) or a test.
Services receive a ``Session``, may ``flush()``, and never commit: the request, job or CLI
command commits once through ``unit_of_work()``.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from core.errors import ConfigError
from storage.errors import DatabaseUnavailable
from storage.write_turns import WriteTurns

_VARIABLE = "WACHTER_DATABASE_URL"
# Driver names we accept, and the driver SQLAlchemy should use for each.
_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
SQLITE_BUSY_TIMEOUT_MS = 5000
# Execution option: this connection only reads, so SQLite may begin a deferred transaction.
READ_ONLY = "wachter_read_only"
# Execution option: this connection mostly reads (a console page view: reads, then perhaps an
# audit entry). SQLite begins deferred, so the reads take no write lock; just before the first
# write (or locking read) the read transaction is ended and an IMMEDIATE one begun.
READ_MOSTLY = "wachter_read_mostly"
_LOCK_BEFORE_WRITING = "wachter_lock_before_writing"
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT|CREATE|DROP|ALTER)\b", re.I)
POSTGRES_CONNECT_TIMEOUT_S = 5


def parse_database_url(raw: str) -> URL:
    """Parse ``WACHTER_DATABASE_URL`` into a SQLAlchemy URL for a supported driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            _VARIABLE, "not a database URL; expected sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            _VARIABLE, f"unsupported database {url.drivername!r}; use sqlite:/// or postgresql://"
        )
    if driver == "sqlite" and url.database in (None, "", ":memory:") and not url.query.get("uri"):
        raise ConfigError(
            _VARIABLE, "an in-memory SQLite database loses everything on restart; give a file path"
        )
    return url.set(drivername=driver)


class Database:
    """An engine plus its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._writer_lock = threading.Lock()
        self._turns: WriteTurns | None = _TURNS.get(engine)

    @classmethod
    def from_url(cls, raw_url: str) -> Database:
        url = parse_database_url(raw_url)
        if url.get_backend_name() == "sqlite":
            return cls(_sqlite_engine(url))
        engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
                "application_name": "wachter",
            },
        )
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with its password masked, safe for logs and error messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commit when the block ends normally, roll back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """``unit_of_work`` for the bulk writers (receivers): on SQLite they queue on a lock
        in this process, not on SQLite's busy handler, which sleeps up to 100 ms between
        tries and would leave the write lock idle; and they give way to the other writers
        waiting (``storage.write_turns``). PostgreSQL needs no queue."""
        if self.dialect != "sqlite":
            with self.unit_of_work() as session:
                yield session
            return
        with self._writer_lock:
            if self._turns is None:
                with self.unit_of_work() as session:
                    yield session
                return
            with self._turns.bulk(), self.unit_of_work() as session:
                yield session

    def read_mostly_session(self) -> Session:
        """A session for a request that mostly reads: on SQLite its reads take no write lock
        (other requests and the receivers go on writing meanwhile); its first write begins a
        new transaction with the lock, so a read-then-write never fails on a stale snapshot.
        A session factory bound to one connection (the tests' transaction) is used as is."""
        bind = self.sessions.kw.get("bind")
        if self.dialect != "sqlite" or not isinstance(bind, Engine):
            return self.sessions()
        return self.sessions(bind=bind.execution_options(**{READ_MOSTLY: True}))

    def read_only_connection(self) -> Connection:
        """A connection for reads only: on SQLite it does not wait for the write lock."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session over one consistent state of the database, taking no write lock
        (PostgreSQL: REPEATABLE READ, read only; SQLite: a deferred WAL read transaction)."""
        connection = self.read_only_connection()
        if self.dialect == "postgresql":
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with connection, Session(bind=connection) as session:
            yield session

    def check_connection(self) -> None:
        """Raise ``DatabaseUnavailable`` with a one-line reason unless a query round-trips."""
        try:
            with self.read_only_connection() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as error:
            raise DatabaseUnavailable(
                f"cannot reach {self.display_url}: {first_line(error.orig)}"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()


def first_line(error: BaseException | None) -> str:
    message = str(error).strip() if error is not None else ""
    return message.splitlines()[0] if message else "unknown error"


# Each SQLite engine's write turns, for the Database made on it (tests wrap one engine in
# several) and for the connections' lock waits.
_TURNS: weakref.WeakKeyDictionary[Engine, WriteTurns] = weakref.WeakKeyDictionary()
_TURNS_KEY = "wachter_write_turns"


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    turns = _TURNS[engine] = WriteTurns()

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        record.info[_TURNS_KEY] = turns
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
        # SAVEPOINT and transactional DDL behave (SQLAlchemy "pysqlite" docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # FULL, not NORMAL: an acknowledged event must survive a power cut, not only a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            # Ingest writes thousands of index pages per batch (bench/ingest): a 16 MiB page
            # cache per connection (2 MiB by default) and a checkpoint every ~40 MiB of WAL
            # (4 MiB by default) halve the pages written per commit; the WAL file is cut
            # back to 64 MiB after a checkpoint, so disk use stays bounded.
            cursor.execute("PRAGMA cache_size=-16384")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA journal_size_limit=67108864")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and
        # then writes fails at once with SQLITE_BUSY when another writer committed in
        # between (busy_timeout cannot help there); short serialised transactions can't.
        # Connections marked read-only need no lock: WAL gives them a snapshot. Read-mostly
        # ones begin deferred and take the lock in a new transaction before writing.
        options = connection.get_execution_options()
        deferred = options.get(READ_ONLY, False) or options.get(READ_MOSTLY, False)
        connection.info[_LOCK_BEFORE_WRITING] = bool(options.get(READ_MOSTLY, False))
        if deferred:
            connection.exec_driver_sql("BEGIN")
        else:
            with waiting_for_the_write_lock(), turns.waiting():
                connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def _lock_before_writing(
        connection: Connection, cursor: Any, statement: str, *_args: Any
    ) -> None:
        if connection.info.get(_LOCK_BEFORE_WRITING) and _WRITES.match(statement):
            take_write_lock(connection, cursor)

    return engine


def take_write_lock(connection: Connection, cursor: Any | None = None) -> None:
    """End a read-mostly connection's read transaction and begin an IMMEDIATE one.

    The reads so far changed nothing, so ending them loses nothing; what follows is read and
    written under the lock, as in every other transaction. A no-op for other connections.
    """
    if not connection.info.get(_LOCK_BEFORE_WRITING):
        return
    connection.info[_LOCK_BEFORE_WRITING] = False
    target: Any = cursor if cursor is not None else connection.connection.dbapi_connection
    target.execute("COMMIT")
    turns: WriteTurns = connection.info[_TURNS_KEY]
    with waiting_for_the_write_lock(), turns.waiting():
        target.execute("BEGIN IMMEDIATE")


# Seconds this thread (a web request, a job) has waited for SQLite's write lock since the
# caller last reset it: the console's Server-Timing header reports it per request.
write_lock_wait: ContextVar[float] = ContextVar("write_lock_wait", default=0.0)


@contextmanager
def waiting_for_the_write_lock() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        write_lock_wait.set(write_lock_wait.get() + time.perf_counter() - started)


@event.listens_for(Session, "do_orm_execute")
def _lock_before_locking_read(state: ORMExecuteState) -> None:
    # SQLite renders no FOR UPDATE: a read meant to lock (the audit chain's head, a cursor)
    # takes the write lock first on a read-mostly connection, so it reads the latest state.
    if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
        take_write_lock(state.session.connection())
