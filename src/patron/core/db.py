"""The store: one metadata, engines for SQLite and PostgreSQL, one transaction per command."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    exc,
    insert,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import ExceptionContext, make_url

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

_WRITE = "patron_write"
# A SQLite connection that reads without a transaction (``connect_latest``): no BEGIN is sent.
_LATEST = "patron_latest"
# Concurrent commands of one process written in one transaction at most (1: each alone).
GROUP_COMMIT_LIMIT = 64
SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's page cache for a bulk job's connection (an import): a batch of 1,000 contacts
# changes 2-8 MB of pages, and past the default 2 MB SQLite wrote them to the WAL before the
# commit, again as the batch changed them, and read back those it dropped (853,000 writes and
# 246,000 reads for 100,000 contacts, against 574,000 and 133,000 with this cache).
BULK_PAGE_CACHE_MB = 16


# A libpq connection that waits this long for one host tries the next (unless the URL says).
CONNECT_TIMEOUT_SECONDS = 5
# SQLSTATEs after which the same request may well succeed in a moment, on another connection:
# the server is read-only (a standby, or a primary being demoted), shutting down or starting,
# or the connection broke (class 08).
_UNAVAILABLE_STATES = frozenset({"25006", "57P01", "57P02", "57P03"})


# A check that every write transaction of this context runs before its work: a request
# admitted on a remembered principal confirms it there (``confirm_writes``).
_write_check: ContextVar[Callable[[Connection], None] | None] = ContextVar(
    "patron_write_check", default=None
)


class Rerun(Exception):
    """The request must be run again from its start: what it was admitted on no longer holds
    (its token's principal changed) and nothing of it was written."""


def confirm_writes(check: Callable[[Connection], None] | None) -> Token[Any]:
    """Make every write of this context (this request) run ``check`` on its transaction
    before its work: ``Database.write`` and each command of a group commit. ``check`` raises
    ``Rerun`` to refuse. None: no check. The token resets it (``ContextVar.reset``)."""
    return _write_check.set(check)


def write_check() -> Callable[[Connection], None] | None:
    """The check set by ``confirm_writes`` for this context, if any."""
    return _write_check.get()


# What a request admitted on a remembered principal runs before it refuses something by what
# that principal may do (``confirm_refusals``).
_refusal_check: ContextVar[Callable[[], None] | None] = ContextVar(
    "patron_refusal_check", default=None
)


def confirm_refusals(check: Callable[[], None] | None) -> Token[Any]:
    """Make a refusal by scope in this context (``Principal.require``) run ``check`` first:
    it raises ``Rerun`` when the principal the request was admitted on no longer holds (a
    token revoked since it was remembered), so that the request is answered on its token
    looked up afresh (a 401), not on what the token could do before. None: no check."""
    return _refusal_check.set(check)


def confirm_refusal() -> None:
    """Run the check ``confirm_refusals`` set for this context, if any."""
    check = _refusal_check.get()
    if check is not None:
        check()


class StoreUrlError(ValueError):
    """A store URL that cannot be opened; the message says why without repeating it."""


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3; SQLite URLs pass through.

    A PostgreSQL URL may name several servers libpq's way, ``postgresql://h1:5432,h2:5433/db``,
    which SQLAlchemy cannot parse (it reads one port): the hosts move into the query as
    ``host=h1,h2&port=5432,5433``, the form SQLAlchemy's psycopg dialect passes to libpq.
    The other form, ``postgresql://user@/db?host=h1:5432&host=h2:5433``, passes through.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgresql+psycopg://"):
        return _hosts_into_query(url)
    return url


def _split_host(item: str) -> tuple[str, str]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` into host and port ('' for none)."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise StoreUrlError(f"the host '{item}' is malformed")
        return host, rest[1:]
    host, _, port = item.partition(":")
    return host, port


def _hosts_into_query(url: str) -> str:
    parts = urlsplit(url)
    credentials, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name in {"host", "port"} for name, _ in query):
        raise StoreUrlError(
            "name the servers either in the URL (h1:5432,h2:5433) or as host= parameters, not both"
        )
    pairs = [_split_host(item) for item in hosts.split(",")]
    for host, port in pairs:
        if not host:
            raise StoreUrlError("a host in the URL's list of servers is empty")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise StoreUrlError(f"the port of {host} must be a number from 1 to 65535")
    extra = [("host", ",".join(host for host, _ in pairs))]
    if any(port for _, port in pairs):
        extra.append(("port", ",".join(port for _, port in pairs)))
    netloc = f"{credentials}{at}" if at else ""
    # Built by hand: urlunsplit drops the '//' of an empty authority.
    return f"{parts.scheme}://{netloc}{parts.path}?{urlencode(query + extra, safe=',:')}"


def multiple_hosts(url: str) -> bool:
    """Whether a PostgreSQL URL names more than one server (in either form)."""
    parsed = make_url(normalise_url(url))
    hosts = parsed.query.get("host")
    if isinstance(hosts, tuple):
        return len(hosts) > 1
    return hosts is not None and "," in hosts


def postgresql_connect_args(url: str, *, prepared_statements: bool = True) -> dict[str, Any]:
    """What psycopg is given beside the URL: a connect timeout unless the URL sets one (so a
    server that does not answer hands over to the next host), ``target_session_attrs=
    read-write`` for several hosts unless the URL says otherwise (Patron writes: a standby
    is of no use to it), and no server-side prepared statements when a pooler in transaction
    mode sits in between (the next transaction may run on another server connection)."""
    parsed = make_url(normalise_url(url))
    args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if "target_session_attrs" not in parsed.query and multiple_hosts(url):
        args["target_session_attrs"] = "read-write"
    if not prepared_statements:
        args["prepare_threshold"] = None
    return args


def _configure_sqlite(engine: Engine, page_cache_mb: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Transactions are begun by us (below), so that writes take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if page_cache_mb is not None:
            cursor.execute(f"PRAGMA cache_size = {-1024 * page_cache_mb}")  # in KiB when < 0
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(_LATEST) and options.get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "before_execute")
    def _before_execute(connection: Connection, *_args: object) -> None:
        # A savepoint deferred to the next statement (``defer_savepoint``) goes before any
        # statement SQLAlchemy runs.
        flush_savepoint(connection)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # A read-only server (a standby, or a demoted primary) or one shutting down: every
        # pooled connection may point at it, so all are dropped as after a broken connection
        # and the next checkout connects afresh, libpq finding the server that now writes.
        if _sqlstate(context.original_exception) in _UNAVAILABLE_STATES:
            context.is_disconnect = True


def _sqlstate(error: BaseException | None) -> str:
    return str(getattr(error, "sqlstate", None) or "")


class WriterQueue:
    """SQLite writers wait their turn here instead of in SQLite's busy handler.

    A writer that finds the database locked sleeps and retries with growing pauses, so under
    load some wait for seconds while others keep winning. Threads of one process queue on a
    lock, processes on an exclusive file lock beside the database, which the kernel grants
    in turn; only then does the writer begin its ``BEGIN IMMEDIATE`` transaction.

    An event loop takes its turn with ``take`` (or ``take_nowait``) and gives it back with
    ``give_back``, on the loop's thread: while another process writes, the kernel's queue is
    waited in on a thread of the loop's executor and the loop goes on serving.
    """

    def __init__(self, database: str | None) -> None:
        self._threads = threading.RLock()
        self._path = f"{database}.writer" if database and database != ":memory:" else None
        self._file: int | None = None
        self._depth = 0

    def _opened(self) -> int:
        if self._file is None:
            assert self._path is not None
            self._file = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._file

    def __enter__(self) -> WriterQueue:
        self._threads.acquire()
        try:
            if self._path is not None and self._depth == 0:
                fcntl.flock(self._opened(), fcntl.LOCK_EX)
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

    def take_nowait(self) -> bool:
        """Take the turn if no one holds it (never waits); True: taken, ``give_back`` it."""
        if not self._threads.acquire(blocking=False):
            return False
        try:
            if self._path is not None and self._depth == 0:
                fcntl.flock(self._opened(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads.release()
            return False
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return True

    async def take(self) -> None:
        """Take the turn from an event loop, which serves on while it waits."""
        while not self._threads.acquire(blocking=False):
            await asyncio.sleep(_THREAD_TURN_PAUSE)  # a thread of this process writes
        # Counted now: a write on the loop's thread meanwhile (a token's touch) re-enters
        # without queueing a second time behind this one.
        self._depth += 1
        try:
            if self._path is None or self._depth > 1:
                return
            file = self._opened()
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            loop = asyncio.get_running_loop()
            waiting = loop.run_in_executor(None, fcntl.flock, file, fcntl.LOCK_EX)
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                # The kernel still grants it to the thread: given back once it has.
                waiting.add_done_callback(lambda _: self.give_back())
                raise
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                self.give_back()
            raise

    def give_back(self) -> None:
        """End a turn that ``take`` or ``take_nowait`` began (on the same thread)."""
        self.__exit__()


# How long an event loop waits before it asks again for a turn a thread of its own process
# holds (threads queue on a lock the loop must not block on).
_THREAD_TURN_PAUSE = 0.0005


class Database:
    """An engine plus the two ways Patron uses it: a read transaction and a write transaction."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        group_commit: int = GROUP_COMMIT_LIMIT,
        group_lanes: int = 1,
        prepared_statements: bool = True,
        page_cache_mb: int | None = None,
    ) -> None:
        """``page_cache_mb``: SQLite's page cache per connection, where its default (2 MB)
        is too small (``BULK_PAGE_CACHE_MB``); PostgreSQL ignores it."""
        self.url = normalise_url(url)
        # How many concurrent commands ``core.unit.run_command`` may write in one batch.
        self.group_commit = group_commit
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        # How many batches (or lone commands) one process writes at once: one on SQLite,
        # whose writers take turns anyway (a second lane would only wait in the queue).
        self.group_lanes = 1 if self.dialect == "sqlite" else group_lanes
        # A failed statement's error never carries its parameters into a log: they hold
        # tokens' hashes, webhook secrets, passwords' hashes and customers' personal data.
        options: dict[str, Any] = {"hide_parameters": True}
        if self.dialect == "sqlite":
            options["connect_args"] = {
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                # Prepared statements kept per connection (the driver's default is 128):
                # every statement of every surface stays compiled.
                "cached_statements": 512,
            }
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size
        else:
            options["pool_size"] = pool_size
            options["max_overflow"] = pool_size
            # No ping before each checkout (a round trip on every request): a connection
            # found broken invalidates the whole pool instead (``_configure_postgresql``).
            options["pool_pre_ping"] = False
            options["connect_args"] = postgresql_connect_args(
                url, prepared_statements=prepared_statements
            )
        self.engine = create_engine(self.url, **options)
        self._writer_gate: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        # SQLite's writers' turns (None: the store lets writers wait in it, PostgreSQL).
        self.writer_queue: WriterQueue | None = None
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, page_cache_mb)
            self._writer_gate = self.writer_queue = WriterQueue(parsed.database)
        else:
            _configure_postgresql(self.engine)

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
        if self.is_sqlite:
            # The driver is in autocommit already (Patron sends BEGIN itself): leaving it out
            # is enough. SQLAlchemy's AUTOCOMMIT would run ``PRAGMA read_uncommitted`` on
            # checkout and on return, and a flag pragma expires every statement the
            # connection has prepared, so each request would compile its SQL anew.
            connection.execution_options(**{_LATEST: True})
        else:
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
            if self.is_sqlite:  # its BEGIN IMMEDIATE (``_configure_sqlite``)
                connection.execution_options(**{_WRITE: True})
            with connection.begin():
                check = _write_check.get()
                if check is not None:
                    check(connection)
                yield connection

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except exc.SQLAlchemyError:
            return False
        return True

    def advice(self) -> list[str]:
        """What an operator should change in the store's own settings, one sentence each."""
        if self.is_sqlite:
            return []
        with self.engine.connect() as connection:
            autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
        if autovacuum == "off":
            return [
                "PostgreSQL's autovacuum is off: tables that grow keep the statistics of their "
                "first rows, and the plans the server caches for Patron's statements can end up "
                "reading a whole table for one row (recordOrder at half its rate). Turn it on, "
                "or run ANALYZE regularly."
            ]
        return []

    def dispose(self) -> None:
        self.engine.dispose()


class KeptReader:
    """A connection that reads without a transaction (``connect_latest``), kept open between
    the requests of one thread (a worker's event loop, which answers the known reads): they
    pay no pool checkout and return, nor a reset. Dropped on any error (the next read opens
    a new one) and when the process stops."""

    __slots__ = ("_connection", "db")

    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        kept = self._connection
        if kept is None or kept.closed or kept.invalidated:
            kept = self._connection = self.db.connect_latest()
        return kept

    def drop(self) -> None:
        kept, self._connection = self._connection, None
        if kept is not None:
            with contextlib.suppress(exc.SQLAlchemyError):
                kept.close()


def transaction_memo(connection: Connection) -> dict[str, Any]:
    """What the commands of the connection's current transaction may share of what they read:
    state that changes rarely and is read by every command of a kind (an account's settings),
    read once per transaction (per batch, under group commit) instead of once per command.
    Whoever writes such state in the transaction forgets it (``forget_memo``), as does a
    command rolled back to its savepoint; a new transaction starts with none.

    Sharing a read across a batch is what running its commands one after another would see:
    each command of the batch had arrived before the first of them read the state."""
    transaction = connection.get_transaction()
    kept = connection.info.get(_MEMO)
    if kept is None or kept[0] is not transaction:
        kept = connection.info[_MEMO] = (transaction, {})
    memo: dict[str, Any] = kept[1]
    return memo


def forget_memo(connection: Connection, key: str | None = None) -> None:
    """Drop ``key`` (None: everything) from the transaction's memo."""
    kept = connection.info.get(_MEMO)
    if kept is None:
        return
    if key is None:
        kept[1].clear()
    else:
        kept[1].pop(key, None)


# Where ``transaction_memo`` keeps its transaction and its reads (the connection's info).
_MEMO = "patron_transaction_memo"


class Precompiled:
    """A Core statement compiled once per dialect and then run as its SQL text (``run_sql``):
    no cache key is computed, no compiled form looked up, no execution context built. For
    the hot statements of the ledger and the known mutations. The parameters whose types have
    a bind processor (JSON; SQLite's dates and times) go through it, as SQLAlchemy would put
    them; the rest reach the driver as they are. On PostgreSQL the result columns are taken
    as psycopg gives them (they need no processing); on SQLite they go through their types'
    result processors (its dates and times are text).

    It pays for large statements (many parameters, CTEs, correlated subqueries: per execution
    SQLAlchemy walks them to bind their parameters); a small select of many columns runs
    faster as a prebuilt Core statement, whose result description SQLAlchemy keeps (the
    text's is read off each cursor)."""

    __slots__ = ("_compiled", "_lock", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled | None] = {}
        self._lock = threading.Lock()

    def execute(self, connection: Connection, parameters: dict[str, Any]) -> Any:
        dialect = connection.dialect
        try:
            found = self._compiled[dialect.name]
        except KeyError:
            with self._lock:
                found = self._compiled[dialect.name] = self._compile(dialect)
        if found is None or (dialect.name == "sqlite" and not _direct(connection, sqlite=True)):
            # A statement SQLite's text cannot carry as it is, or one SQLAlchemy must run
            # (to begin its transaction, or for a listener): its result typed as usual.
            return connection.execute(self.statement, parameters)
        sql, defaults, processors, results = found
        bound = {**defaults, **parameters}
        for name, processor in processors.items():
            if name in bound:
                bound[name] = processor(bound[name])
        return run_sql(connection, sql, bound, results)

    def _compile(self, dialect: Any) -> _Compiled | None:
        if dialect.name == "sqlite":
            compiled = self.statement.compile(dialect=_SQLITE_NAMED)
            if compiled.literal_execute_params or compiled.post_compile_params:
                return None
            results: tuple[Callable[[Any], Any] | None, ...] | None = tuple(
                column[3].dialect_impl(dialect).result_processor(dialect, None)
                for column in compiled._result_columns
            )
            if results is not None and not any(results):
                results = None
        else:
            compiled = self.statement.compile(dialect=dialect)
            if compiled.positiontup or dialect.paramstyle != "pyformat":  # pragma: no cover
                raise TypeError("Precompiled needs named parameters")
            results = None
        processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        return (str(compiled), compiled.construct_params(_check=False), processors, results)


def inserting(table: Table, names: Sequence[str]) -> Precompiled:
    """The ``INSERT`` of one row of ``table`` given as a dict of ``names``, precompiled."""
    return Precompiled(
        insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
    )


# A compiled statement: its text, its parameters' defaults, their bind processors by name,
# and its result columns' processors (None: none has one).
_Compiled = tuple[
    str,
    dict[str, Any],
    dict[str, Callable[[Any], Any]],
    tuple[Callable[[Any], Any] | None, ...] | None,
]

# SQLite's dialect writing named parameters (``:name``), which the driver binds from a dict.
_SQLITE_NAMED = sqlite_dialect.dialect(paramstyle="named")


class Rows:
    """A statement's rows, fetched at once: what ``run_sql`` answers in place of SQLAlchemy's
    result (rows are named tuples: by position, or by column name as attributes)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


def run_sql(
    connection: Connection,
    sql: str,
    parameters: Any = None,
    results: Sequence[Callable[[Any], Any] | None] | None = None,
) -> Any:
    """SQL text on ``connection`` (``exec_driver_sql``). Inside a transaction (on PostgreSQL
    also on an autocommit connection), and when nothing listens for statements (a test
    counting them does): on the driver's own cursor, its rows fetched at once (``Rows``), its
    errors raised as SQLAlchemy raises them (the connection invalidated when it broke). That
    skips SQLAlchemy's execution context and result, which cost as much of the interpreter's
    time as the statement itself. ``results``: a processor per result column (None: as the
    driver gives it), on that path."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        if not _direct(connection, sqlite=True):
            return connection.exec_driver_sql(sql, parameters)
        return _run_sqlite(connection, sql, parameters, results)
    if dialect != "postgresql" or not _direct(connection):
        return connection.exec_driver_sql(sql, parameters)
    pooled = connection.connection
    driver: Any = pooled.driver_connection
    # One cursor per driver connection, kept with it: its rows are fetched before it is used
    # again, and a connection serves one thread at a time.
    cursor = pooled.info.get(_CURSOR)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = pooled.info[_CURSOR] = driver.cursor(row_factory=namedtuple_row)
    savepoint = pooled.info.pop(_DEFERRED, None)
    try:
        if savepoint is None:
            cursor.execute(sql, parameters)
        else:
            # The savepoint and the statement in one round trip (psycopg's pipeline mode):
            # should the savepoint fail, the statement is not run and its error is raised.
            with driver.pipeline():
                driver.execute(savepoint)
                cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description is not None else []
        return Rows(rows, cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as error:
        pooled.info.pop(_CURSOR, None)
        cursor.close()
        # Raised as SQLAlchemy raises any statement's error (its private hook, pinned).
        connection._handle_dbapi_exception(error, sql, parameters, cursor, None)


def _run_sqlite(
    connection: Connection,
    sql: str,
    parameters: Any,
    results: Sequence[Callable[[Any], Any] | None] | None,
) -> Rows:
    """``run_sql`` on SQLite's driver: a cursor of its own per statement (they are cheap,
    and a statement may run while another's rows are read)."""
    driver: Any = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(sql, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
    except sqlite3.Error as error:
        cursor.close()
        connection._handle_dbapi_exception(error, sql, parameters, cursor, None)
    rowcount = cursor.rowcount
    cursor.close()
    if rows:
        make = _row_class(tuple(column[0] for column in description))
        if results is None:
            rows = [make(row) for row in rows]
        else:
            rows = [
                make(
                    [
                        value if process is None or value is None else process(value)
                        for value, process in zip(row, results, strict=True)
                    ]
                )
                for row in rows
            ]
    return Rows(rows, rowcount)


@functools.cache
def _row_class(names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A named tuple's constructor from a sequence, for rows of these column names."""
    row: Any = collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]
    make: Callable[[Any], Any] = row._make
    return make


# Where ``run_sql`` keeps a driver connection's cursor (the pool's record of it).
_CURSOR = "patron_cursor"
# Where a savepoint deferred to the connection's next statement waits (``defer_savepoint``).
_DEFERRED = "patron_deferred_savepoint"


def defer_savepoint(connection: Connection, name: str) -> None:
    """``SAVEPOINT name``, sent with the connection's next statement rather than on its own:
    on PostgreSQL, a round trip less for each command of a group commit (and a hot wallet's
    row lock held one round trip less). Every way a statement reaches the driver sends it
    first: SQLAlchemy's execution (a listener), ``run_sql`` (in the same round trip), a bulk
    ``COPY`` (``flush_savepoint``). On SQLite, where a statement costs no round trip, it is
    sent now. Use a name of its own for each savepoint of a transaction: rolling back to a
    savepoint that was never made is then an error, never a return to an older one."""
    if connection.dialect.name != "postgresql":
        run_sql(connection, f"SAVEPOINT {name}")
        return
    connection.connection.info[_DEFERRED] = f"SAVEPOINT {name}"


def settle_savepoint(connection: Connection) -> bool:
    """Forget a deferred savepoint that no statement has sent: True if there was one (its
    command wrote nothing, so there is nothing to roll back to)."""
    if connection.invalidated or connection.closed:
        return False
    return connection.connection.info.pop(_DEFERRED, None) is not None


def flush_savepoint(connection: Connection) -> None:
    """Send a deferred savepoint now (before a statement that goes around ``run_sql``)."""
    if connection.invalidated or connection.closed:
        return
    savepoint = connection.connection.info.pop(_DEFERRED, None)
    if savepoint is not None:
        connection.exec_driver_sql(savepoint)


def _direct(connection: Connection, *, sqlite: bool = False) -> bool:
    """Whether ``run_sql`` may use the driver's cursor on this connection. (On SQLite in a
    transaction, or on a connection that reads without one, ``connect_latest``: elsewhere
    SQLAlchemy would begin one, with Patron's ``BEGIN``.)"""
    if connection.closed or connection.invalidated:
        return False
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return False
    if connection.in_transaction():
        return True
    if sqlite:
        return bool(connection.get_execution_options().get(_LATEST))
    driver: Any = connection.connection.driver_connection
    return bool(driver.autocommit)


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


def is_store_unavailable(error: BaseException) -> bool:
    """The store cannot serve the request now, and the same request may succeed in a moment:
    it is out of reach, locked (SQLite), read-only (a standby before its promotion), shutting
    down, or the connection broke. Answered 503 with Retry-After, never a masked 500."""
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = _sqlstate(error.orig)
        return state in _UNAVAILABLE_STATES or state.startswith("08")
    return False


def is_transaction_conflict(error: BaseException) -> bool:
    """PostgreSQL rolled the transaction back to break a deadlock, or for a serialization
    failure: nothing of it was written, and running it again is the documented answer."""
    original = getattr(error, "orig", None)
    return _sqlstate(original) in {"40P01", "40001"}


def is_unique_violation(error: exc.IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text
