"""The bare database bound of a SPEND: Patron's guarded UPDATE, its entry INSERT and the
upsert of the day's totals, one transaction each, from a plain driver loop with no HTTP,
GraphQL or ORM in the way.

The statements are the ones Patron's ledger issues (``wallets.repository``): the guard
``global_balance - global_held >= amount`` sits in the UPDATE, whose RETURNING gives the
entry its position and running balance, so the entries written here keep the ledger valid
and ``patron ledger verify`` checks them with the rest. A separate account holds them.
PostgreSQL: N threads, each with its own connection; measured as separate statements (the
issue's definition, the reference for the goal) and as the one-statement CTE Patron sends
there. SQLite: ``BEGIN IMMEDIATE`` with the server's pragmas (WAL, synchronous=FULL); one
connection, since SQLite has one writer at a time and more connections only add lock waits.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

_UPDATE = (
    "UPDATE wallets SET global_balance = global_balance - {a}, "
    "entry_count = entry_count + 1, updated_at = {now} "
    "WHERE account_id = {account} AND uuid = {wallet} AND global_balance - global_held >= {a} "
    "RETURNING global_balance, entry_count"
)
_COLUMNS = (
    "account_id, uuid, wallet_uuid, seq, action, credit_type, amount, balance_after, reason, "
    "created_at"
)
_INSERT = (
    f"INSERT INTO credit_entries ({_COLUMNS}) "
    "VALUES ({account}, {uuid}, {wallet}, {seq}, 'SPEND', 'GLOBAL', {a}, {balance}, 'MANUAL', "
    "{now})"
)
# The entry counted into its day's totals (wallets/day_totals.py); {bucket}: PostgreSQL's
# transaction id modulo 16, SQLite's 0.
_TOTALS = (
    "INSERT INTO credit_day_totals "
    "(account_id, day, credit_type, action, reason, bucket, total, entries) "
    "{source} "
    "ON CONFLICT (account_id, day, credit_type, action, reason, bucket) DO UPDATE SET "
    "total = credit_day_totals.total + excluded.total, "
    "entries = credit_day_totals.entries + excluded.entries"
)
_COUNT = _TOTALS.format(
    source="VALUES ({account}, {day}, 'GLOBAL', 'SPEND', 'MANUAL', {bucket}, {a}, 1)"
)
# PostgreSQL only: all in one statement, as Patron sends them there (a data-modifying CTE).
_ONE_STATEMENT = (
    f"WITH moved AS ({_UPDATE}), "
    "counted AS ("
    + _TOTALS.format(
        source="SELECT {account}, {day}, 'GLOBAL', 'SPEND', 'MANUAL', {bucket}, {a}, 1 FROM moved"
    )
    + " RETURNING entries) "
    f"INSERT INTO credit_entries ({_COLUMNS}) "
    "SELECT {account}, {uuid}, {wallet}, entry_count, 'SPEND', 'GLOBAL', {a}, global_balance, "
    "'MANUAL', {now} FROM moved RETURNING seq"
)
_NAMES = ("a", "now", "account", "wallet", "uuid", "seq", "balance", "day")
_PG_BUCKET = "CAST(txid_current() %% 16 AS SMALLINT)"  # %% for the driver's placeholders
_PG = {name: f"%({name})s" for name in _NAMES} | {"bucket": _PG_BUCKET}
_SQLITE = {name: f":{name}" for name in _NAMES} | {"bucket": "0"}
PG_UPDATE = _UPDATE.format(**_PG)
PG_INSERT = _INSERT.format(**_PG)
PG_COUNT = _COUNT.format(**_PG)
PG_ONE_STATEMENT = _ONE_STATEMENT.format(**_PG)
SQLITE_UPDATE = _UPDATE.format(**_SQLITE)
SQLITE_INSERT = _INSERT.format(**_SQLITE)
SQLITE_COUNT = _COUNT.format(**_SQLITE)

_MAX_ERRORS = 1000
AMOUNT_MINOR = 1  # 0.01 of a two-decimal currency, what the HTTP benchmark spends


@dataclass
class BoundResult:
    target: str  # "random wallets" or "one hot wallet"
    statements: str  # "UPDATE + INSERT" or "one CTE"
    connections: int
    seconds: float
    committed: int
    refused: int
    errors: int
    rate: float
    p50_ms: float
    p99_ms: float
    first_error: str | None = None
    cpu: dict[str, Any] = field(default_factory=dict)


# (wallet, now) -> (spends committed, spends refused) by one transaction
Transaction = Callable[[str, datetime], tuple[int, int]]
Opener = Callable[[], tuple[Transaction, Callable[[], None]]]  # -> (transaction, close)


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class _Run:
    """``connections`` loops for warmup + seconds, started together once all are connected;
    what started after the warm-up and committed before the end counts."""

    def __init__(self, connections: int, warmup: float, seconds: float) -> None:
        self.warmup = warmup
        self.seconds = seconds
        self.latencies: list[float] = []
        self.refused = 0
        self.errors = 0
        self.first_error: str | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.warm_end = self.deadline = 0.0
        self.ready = threading.Barrier(connections + 1, action=self._start_clock)

    def _start_clock(self) -> None:  # runs once, when every connection is open
        now = time.perf_counter()
        self.warm_end = now + self.warmup
        self.deadline = now + self.warmup + self.seconds

    def error(self, problem: BaseException) -> None:
        with self.lock:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(problem).__name__}: {problem}"

    def loop(self, open_transaction: Opener, wallets: Sequence[str]) -> None:
        try:
            transaction, close = open_transaction()
        except Exception as problem:
            self.error(problem)
            self.ready.abort()
            return
        try:
            self.ready.wait()
            self._spin(transaction, wallets)
        except threading.BrokenBarrierError:
            pass
        finally:
            close()

    def _spin(self, transaction: Transaction, wallets: Sequence[str]) -> None:
        chooser = random.Random()
        mine: list[float] = []
        refused = 0
        while self.errors < _MAX_ERRORS and not self.stop.is_set():
            started = time.perf_counter()
            if started >= self.deadline:
                break
            wallet = wallets[0] if len(wallets) == 1 else chooser.choice(wallets)
            try:
                committed, refusals = transaction(wallet, datetime.now(UTC))
            except Exception as problem:  # counted and shown: a bound must not hide one
                self.error(problem)
                time.sleep(0.01)
                continue
            finished = time.perf_counter()
            if started >= self.warm_end and finished <= self.deadline:
                mine.extend([finished - started] * committed)
                refused += refusals
        with self.lock:
            self.latencies.extend(mine)
            self.refused += refused


def _drive(
    open_transaction: Opener,
    wallets: Sequence[str],
    connections: int,
    warmup: float,
    seconds: float,
    target: str,
    statements: str = "UPDATE + INSERT",
) -> BoundResult:
    run = _Run(connections, warmup, seconds)
    workers = [
        threading.Thread(target=run.loop, args=(open_transaction, wallets), name=f"bound-{n}")
        for n in range(connections)
    ]
    for worker in workers:
        worker.start()
    try:
        run.ready.wait()
    except threading.BrokenBarrierError:
        for worker in workers:
            worker.join()
        raise RuntimeError(f"the bound could not start: {run.first_error}") from None
    try:
        for worker in workers:
            worker.join()
    except BaseException:  # Ctrl-C: stop the loops before leaving
        run.stop.set()
        for worker in workers:
            worker.join()
        raise
    return BoundResult(
        target=target,
        statements=statements,
        connections=connections,
        seconds=seconds,
        committed=len(run.latencies),
        refused=run.refused,
        errors=run.errors,
        rate=len(run.latencies) / seconds,
        p50_ms=1000 * _percentile(run.latencies, 0.50),
        p99_ms=1000 * _percentile(run.latencies, 0.99),
        first_error=run.first_error,
    )


def postgresql_bound(
    url: str,
    account_id: str,
    wallets: Sequence[str],
    *,
    connections: int,
    warmup: float,
    seconds: float,
    target: str,
    one_statement: bool = False,
    batch: int = 1,
) -> BoundResult:
    """``batch`` > 1: that many spends per transaction (on wallets chosen like the first),
    each its UPDATE + INSERT, one COMMIT: the bound of group commit."""

    def open_transaction() -> tuple[Transaction, Callable[[], None]]:
        connection = psycopg.connect(url)
        cursor = connection.cursor()
        chooser = random.Random()

        def spend(wallet: str, now: datetime) -> bool:
            values: dict[str, Any] = {
                "a": AMOUNT_MINOR,
                "now": now,
                "day": now.date(),
                "account": account_id,
                "wallet": wallet,
                "uuid": str(uuid.uuid4()),
            }
            if one_statement:
                cursor.execute(PG_ONE_STATEMENT, values)
                return cursor.fetchone() is not None
            cursor.execute(PG_UPDATE, values)
            row = cursor.fetchone()
            if row is None:
                return False
            values.update(balance=row[0], seq=row[1])
            cursor.execute(PG_INSERT, values)
            cursor.execute(PG_COUNT, values)
            return True

        def transaction(wallet: str, now: datetime) -> tuple[int, int]:
            try:
                if batch == 1:
                    if not spend(wallet, now):
                        connection.rollback()
                        return 0, 1
                    connection.commit()
                    return 1, 0
                # In wallet order, as two batches locking the same wallets in opposite
                # orders would deadlock (Patron's group commit retries such a command alone).
                chosen = sorted(
                    wallet if n == 0 or len(wallets) == 1 else chooser.choice(wallets)
                    for n in range(batch)
                )
                done = sum(spend(each, now) for each in chosen)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            return done, batch - done

        return transaction, connection.close

    statements = "one CTE" if one_statement else "UPDATE + INSERT"
    if batch > 1:
        statements += f", {batch} per transaction"
    return _drive(open_transaction, wallets, connections, warmup, seconds, target, statements)


def _sqlite_timestamp(now: datetime) -> str:
    """How SQLAlchemy stores a DateTime on SQLite (naive UTC text)."""
    return now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def sqlite_bound(
    path: Path,
    account_id: str,
    wallets: Sequence[str],
    *,
    connections: int,
    warmup: float,
    seconds: float,
    target: str,
    batch: int = 1,
) -> BoundResult:
    def open_transaction() -> tuple[Transaction, Callable[[], None]]:
        chooser = random.Random()
        connection = sqlite3.connect(
            path, isolation_level=None, timeout=30, check_same_thread=False
        )
        for pragma in (
            "PRAGMA busy_timeout = 30000",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
        ):
            connection.execute(pragma)

        def spend(wallet: str, now: datetime) -> bool:
            values: dict[str, Any] = {
                "a": AMOUNT_MINOR,
                "now": _sqlite_timestamp(now),
                "day": now.date().isoformat(),
                "account": account_id,
                "wallet": wallet,
                "uuid": str(uuid.uuid4()),
            }
            row = connection.execute(SQLITE_UPDATE, values).fetchone()
            if row is None:
                return False
            values.update(balance=row[0], seq=row[1])
            connection.execute(SQLITE_INSERT, values)
            connection.execute(SQLITE_COUNT, values)
            return True

        def transaction(wallet: str, now: datetime) -> tuple[int, int]:
            connection.execute("BEGIN IMMEDIATE")
            try:
                done = sum(
                    spend(wallet if n == 0 or len(wallets) == 1 else chooser.choice(wallets), now)
                    for n in range(batch)
                )
                if done == 0:
                    connection.execute("ROLLBACK")
                    return 0, batch
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            return done, batch - done

        return transaction, connection.close

    statements = "UPDATE + INSERT" + (f", {batch} per transaction" if batch > 1 else "")
    return _drive(open_transaction, wallets, connections, warmup, seconds, target, statements)
