"""The store: one metadata, engines for SQLite and PostgreSQL, one transaction per command."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import make_url

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

_WRITE = "patron_write"
# Concurrent commands of one process written in one transaction at most (1: each alone).
GROUP_COMMIT_LIMIT = 64
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3; SQLite URLs pass through."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Transactions are begun by us (below), so that writes take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif options.get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN")


class WriterQueue:
    """SQLite writers wait their turn here instead of in SQLite's busy handler.

    A writer that finds the database locked sleeps and retries with growing pauses, so under
    load some wait for seconds while others keep winning. Threads of one process queue on a
    lock, processes on an exclusive file lock beside the database, which the kernel grants
    in turn; only then does the writer begin its ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, database: str | None) -> None:
        self._threads = threading.RLock()
        self._path = f"{database}.writer" if database and database != ":memory:" else None
        self._file: int | None = None
        self._depth = 0

    def __enter__(self) -> WriterQueue:
        self._threads.acquire()
        try:
            if self._path is not None and self._depth == 0:
                if self._file is None:
                    self._file = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._depth -= 1
            if self._file is not None and self._depth == 0:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class Database:
    """An engine plus the two ways Patron uses it: a read transaction and a write transaction."""

    def __init__(
        self, url: str, *, pool_size: int = 10, group_commit: int = GROUP_COMMIT_LIMIT
    ) -> None:
        self.url = normalise_url(url)
        # How many concurrent commands ``core.unit.run_command`` may write in one batch.
        self.group_commit = group_commit
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        # A failed statement's error never carries its parameters into a log: they hold
        # tokens' hashes, webhook secrets, passwords' hashes and customers' personal data.
        options: dict[str, Any] = {"hide_parameters": True}
        if self.dialect == "sqlite":
            options["connect_args"] = {
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            }
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size
        else:
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size
            options["pool_pre_ping"] = False
        self.engine = create_engine(self.url, **options)
        self._writer_gate: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
            self._writer_gate = WriterQueue(parsed.database)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work (a consistent snapshot on PostgreSQL)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def connect_latest(self) -> Connection:
        """A connection that reads without a transaction: each statement sees the latest
        commit, and no BEGIN or COMMIT round trip is paid. The caller closes it."""
        connection = self.engine.connect()
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    @contextmanager
    def read_latest(self) -> Iterator[Connection]:
        """``connect_latest`` for a block: reads of one statement (or whose statements need
        not see one snapshot)."""
        with self.connect_latest() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception."""
        with self._writer_gate, self.engine.connect() as connection:
            connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def row_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of one result as dicts, each read once by position: a row's attributes by
    name, or its field names asked row by row, cost more than turning it into a model."""
    if not rows:
        return []
    names = rows[0]._fields
    return [dict(zip(names, row, strict=True)) for row in rows]


def is_lock_contention(error: BaseException) -> bool:
    """SQLite's 'database is locked' after the busy timeout; worth one more try, never a 500."""
    original = getattr(error, "orig", None)
    return isinstance(original, sqlite3.OperationalError) and "locked" in str(original)


def is_unique_violation(error: exc.IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text
