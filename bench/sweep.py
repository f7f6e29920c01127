"""The expiry sweep over N lots, timed in this process (it is ``patron worker``'s job, not a
request): lots written in bulk, then ``patron.jobs.expiry.sweep`` with a later ``now``.

The lots go straight into the tables, in the shape ``postings._add`` leaves an ADD with
``expires_at``: the ADD entry (reason MANUAL, the wallet's next position, the running LOCAL
balance), its lot (remaining = amount), and the wallet's balance, entry count and open lots
moved by as much. No outbox events are written for them (the service would write one per
ADD; the sweep never reads them). The lots spread over the seeded wallets, round robin, and
expire a day from now; the sweep runs two days from now, so every one of them is due.
PostgreSQL loads them with COPY, SQLite with executemany, in one transaction.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import func, insert, select, text, update

from bench.cpu import CpuWindow
from bench.stores import Store
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.jobs import expiry
from patron.wallets import day_totals
from patron.wallets.lot_tables import credit_lots
from patron.wallets.tables import credit_entries, wallets

LOT_AMOUNT = 100  # LOCAL points in each lot (minor units)
GOAL_LOTS = 1_000_000
GOAL_SECONDS = 60.0
_CHUNK = 10_000

_ENTRY_COLUMNS = (
    "account_id",
    "uuid",
    "wallet_uuid",
    "seq",
    "action",
    "credit_type",
    "amount",
    "balance_after",
    "reason",
    "note",
    "expires_at",
    "created_at",
)
_LOT_COLUMNS = (
    "account_id",
    "uuid",
    "wallet_uuid",
    "credit_type",
    "entry_uuid",
    "amount",
    "remaining",
    "expires_at",
    "created_at",
)


# The lots' entries counted into their day's totals, as the ledger counts what it writes.
_COUNTED = (
    "INSERT INTO credit_day_totals "
    "(account_id, day, credit_type, action, reason, bucket, total, entries) "
    "VALUES (:account, :day, 'LOCAL', 'ADD', 'MANUAL', 0, :total, :entries) "
    "ON CONFLICT (account_id, day, credit_type, action, reason, bucket) DO UPDATE SET "
    "total = credit_day_totals.total + excluded.total, "
    "entries = credit_day_totals.entries + excluded.entries"
)


def _counted(account_id: str, count: int, created: Any) -> dict[str, Any]:
    return {
        "account": account_id,
        "day": day_totals.day_of(created),
        "total": count * LOT_AMOUNT,
        "entries": count,
    }


@dataclass
class SweepResult:
    lots: int
    wallets: int
    load_seconds: float
    seconds: float
    rate: float  # lots per second
    projected_seconds: float  # for GOAL_LOTS at this rate (measured when lots == GOAL_LOTS)
    lots_expired: int
    codes_expired: int
    wallets_skipped: int
    check: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def extrapolated(self) -> bool:
        return self.lots != GOAL_LOTS


def _rows(
    account_id: str, state: list[Any], count: int, created: Any, expires: Any
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(entry, lot) rows: lot n goes to wallet n % W as its (n // W + 1)-th new entry."""
    width = len(state)
    for n in range(count):
        wallet = state[n % width]
        k = n // width + 1
        entry_uuid = str(uuid.uuid4())
        entry = (
            account_id,
            entry_uuid,
            wallet.uuid,
            wallet.entry_count + k,
            "ADD",
            "LOCAL",
            LOT_AMOUNT,
            wallet.local_balance + k * LOT_AMOUNT,
            "MANUAL",
            "bench lot",
            expires,
            created,
        )
        lot = (
            account_id,
            str(uuid.uuid4()),
            wallet.uuid,
            "LOCAL",
            entry_uuid,
            LOT_AMOUNT,
            LOT_AMOUNT,
            expires,
            created,
        )
        yield entry, lot


def _per_wallet(count: int, width: int) -> list[int]:
    return [count // width + (1 if j < count % width else 0) for j in range(width)]


def _chunks(rows: Iterable[tuple[Any, Any]], size: int) -> Iterator[list[tuple[Any, Any]]]:
    chunk: list[tuple[Any, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _wallet_state(db: Database, account_id: str) -> list[Any]:
    with db.engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    wallets.c.uuid,
                    wallets.c.local_balance,
                    wallets.c.entry_count,
                    wallets.c.open_lots,
                )
                .where(wallets.c.account_id == account_id)
                .order_by(wallets.c.uuid)
            )
        )


def load_lots(db: Database, store: Store, account_id: str, count: int) -> tuple[list[Any], Any]:
    """Write ``count`` lots; the wallets as they were before, and the moment to sweep at."""
    state = _wallet_state(db, account_id)
    if not state:
        raise RuntimeError("no wallets to put lots on")
    created = utcnow()
    expires = created + timedelta(days=1)
    added = _per_wallet(count, len(state))
    moves = [
        (LOT_AMOUNT * many, many, many, created, account_id, wallet.uuid)
        for wallet, many in zip(state, added, strict=True)
        if many
    ]
    rows = _rows(account_id, state, count, created, expires)
    if store.kind == "postgresql":
        with psycopg.connect(store.libpq_url) as connection:
            for chunk in _chunks(rows, 100_000):
                with connection.cursor().copy(
                    f"COPY credit_entries ({', '.join(_ENTRY_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for entry, _ in chunk:
                        copy.write_row(entry)
                with connection.cursor().copy(
                    f"COPY credit_lots ({', '.join(_LOT_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for _, lot in chunk:
                        copy.write_row(lot)
            connection.execute(
                re.sub(r":(\w+)", r"%(\1)s", _COUNTED), _counted(account_id, count, created)
            )
            connection.cursor().executemany(
                "UPDATE wallets SET local_balance = local_balance + %s, "
                "entry_count = entry_count + %s, open_lots = open_lots + %s, updated_at = %s "
                "WHERE account_id = %s AND uuid = %s",
                moves,
            )
            connection.commit()
        with psycopg.connect(store.libpq_url, autocommit=True) as connection:
            connection.execute("ANALYZE credit_lots")
            connection.execute("ANALYZE credit_entries")
            connection.execute("ANALYZE wallets")
    else:
        with db.engine.begin() as connection:
            for chunk in _chunks(rows, _CHUNK):
                connection.execute(
                    insert(credit_entries),
                    [dict(zip(_ENTRY_COLUMNS, entry, strict=True)) for entry, _ in chunk],
                )
                connection.execute(
                    insert(credit_lots),
                    [dict(zip(_LOT_COLUMNS, lot, strict=True)) for _, lot in chunk],
                )
            counted = _counted(account_id, count, created)
            connection.execute(text(_COUNTED), {**counted, "day": counted["day"].isoformat()})
            for amount, entries, lots, moment, account, wallet in moves:
                connection.execute(
                    update(wallets)
                    .where(wallets.c.account_id == account, wallets.c.uuid == wallet)
                    .values(
                        local_balance=wallets.c.local_balance + amount,
                        entry_count=wallets.c.entry_count + entries,
                        open_lots=wallets.c.open_lots + lots,
                        updated_at=moment,
                    )
                )
    return state, expires + timedelta(days=1)


def _after(db: Database, account_id: str, before: list[Any], now: Any) -> dict[str, Any]:
    """Every lot swept, and each wallet back to its balance and open lots from before."""
    with db.engine.connect() as connection:
        due = connection.execute(
            select(func.count())
            .select_from(credit_lots)
            .where(
                credit_lots.c.account_id == account_id,
                credit_lots.c.remaining > 0,
                credit_lots.c.expires_at <= now,
            )
        ).scalar_one()
    after = {row.uuid: row for row in _wallet_state(db, account_id)}
    changed = sum(
        1
        for row in before
        if after[row.uuid].local_balance != row.local_balance
        or after[row.uuid].open_lots != row.open_lots
    )
    return {"due_lots_left": int(due), "wallets_not_restored": changed}


def run_sweep(
    db: Database,
    store: Store,
    account_id: str,
    count: int,
    backends: Callable[[], list[int]] | None,
    say: Callable[[str], None],
) -> SweepResult:
    started = time.monotonic()
    before, now = load_lots(db, store, account_id, count)
    load_seconds = time.monotonic() - started
    say(f"  sweep   {count:,} lots written on {len(before):,} wallets in {load_seconds:.1f} s")
    with CpuWindow(None, backends) as window:
        report = expiry.sweep(db, now=now)
    seconds = report.seconds
    rate = report.lots_expired / seconds if seconds > 0 else 0.0
    check = _after(db, account_id, before, now)
    check["ok"] = (
        report.lots_expired == count
        and check["due_lots_left"] == 0
        and check["wallets_not_restored"] == 0
    )
    result = SweepResult(
        lots=count,
        wallets=len(before),
        load_seconds=round(load_seconds, 2),
        seconds=round(seconds, 2),
        rate=rate,
        projected_seconds=GOAL_LOTS / rate if rate > 0 else float("inf"),
        lots_expired=report.lots_expired,
        codes_expired=report.codes_expired,
        wallets_skipped=report.wallets_skipped,
        check=check,
        cpu=window.use.as_dict(),
    )
    say(
        f"  sweep   {report.lots_expired:,} of {count:,} lots expired in {seconds:.1f} s "
        f"({rate:,.0f} lots/s; 1,000,000 lots: {result.projected_seconds:,.0f} s"
        + (", extrapolated" if result.extrapolated else "")
        + f"), {report.wallets_skipped} wallets skipped: "
        + ("ok" if check["ok"] else f"FAILED {check}")
    )
    return result
