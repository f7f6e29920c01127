"""Recompute every balance from its entries: the ledger's own audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, func, select

from patron.core.db import Database
from patron.wallets import day_totals
from patron.wallets.tables import credit_day_totals, credit_entries, wallets


@dataclass
class LedgerReport:
    wallets: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_MAX_REPORTED = 100
# (account, day, credit type, action, reason): (total, entries)
DayTotals = dict[tuple[str, date, str, str, str], tuple[int, int]]


def verify_ledger(db: Database) -> LedgerReport:
    """Check invariant 2 of the ledger for every wallet, on one consistent snapshot.

    balance = sum(ADD) - sum(SPEND) - sum(REMOVE) per credit type, each entry's
    balance_after is the running balance, positions run 1..n with no gap, and held
    credit never exceeds the balance. And the days' totals the console reads
    (``day_totals``) are exactly the entries' sums per day, credit type, action and reason.
    """
    report = LedgerReport()

    def problem(text: str) -> None:
        if len(report.problems) < _MAX_REPORTED:
            report.problems.append(text)
        elif len(report.problems) == _MAX_REPORTED:
            report.problems.append("... more problems not shown")

    with db.engine.connect() as connection:
        if not db.is_sqlite:
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            balances = {
                (row.account_id, row.uuid): row for row in connection.execute(select(wallets))
            }
            report.wallets = len(balances)
            running: dict[tuple[str, str, str], int] = {}
            last_seq: dict[tuple[str, str], int] = {}
            rows = connection.execution_options(yield_per=5000).execute(
                select(
                    credit_entries.c.account_id,
                    credit_entries.c.wallet_uuid,
                    credit_entries.c.seq,
                    credit_entries.c.uuid,
                    credit_entries.c.action,
                    credit_entries.c.credit_type,
                    credit_entries.c.amount,
                    credit_entries.c.balance_after,
                    credit_entries.c.reason,
                    credit_entries.c.created_at,
                ).order_by(
                    credit_entries.c.account_id, credit_entries.c.wallet_uuid, credit_entries.c.seq
                )
            )
            counted: DayTotals = {}
            for row in rows:
                report.entries += 1
                day_key = (
                    row.account_id,
                    day_totals.day_of(row.created_at),
                    row.credit_type,
                    row.action,
                    row.reason,
                )
                total, count = counted.get(day_key, (0, 0))
                counted[day_key] = (total + row.amount, count + 1)
                wallet_key = (row.account_id, row.wallet_uuid)
                expected_seq = last_seq.get(wallet_key, 0) + 1
                if row.seq != expected_seq:
                    problem(
                        f"wallet {row.wallet_uuid}: entry {row.uuid} is at position "
                        f"{row.seq}, expected {expected_seq}"
                    )
                last_seq[wallet_key] = row.seq
                key = (row.account_id, row.wallet_uuid, row.credit_type)
                sign = 1 if row.action == "ADD" else -1
                balance = running.get(key, 0) + sign * row.amount
                running[key] = balance
                if balance != row.balance_after:
                    problem(
                        f"wallet {row.wallet_uuid}: entry {row.uuid} says balance_after "
                        f"{row.balance_after}, the running {row.credit_type} balance is {balance}"
                    )
                if balance < 0:
                    problem(
                        f"wallet {row.wallet_uuid}: {row.credit_type} balance below zero "
                        f"at entry {row.uuid}"
                    )
            kept = _kept_day_totals(connection)
    _compare_day_totals(counted, kept, problem)
    for (account_id, wallet_uuid), wallet in balances.items():
        for credit_type, stored, held in (
            ("GLOBAL", wallet.global_balance, wallet.global_held),
            ("LOCAL", wallet.local_balance, wallet.local_held),
        ):
            computed = running.get((account_id, wallet_uuid, credit_type), 0)
            if computed != stored:
                problem(
                    f"wallet {wallet_uuid}: stored {credit_type} balance {stored}, "
                    f"entries sum to {computed}"
                )
            if not 0 <= held <= stored:
                problem(f"wallet {wallet_uuid}: {credit_type} held {held} outside 0..{stored}")
        count = last_seq.get((account_id, wallet_uuid), 0)
        if wallet.entry_count != count:
            problem(f"wallet {wallet_uuid}: entry_count {wallet.entry_count}, found {count}")
    return report


def _kept_day_totals(
    connection: Connection,
) -> dict[tuple[str, date, str, str, str], tuple[int, int]]:
    """The days' totals as kept, their buckets summed."""
    t = credit_day_totals.c
    key = (t.account_id, t.day, t.credit_type, t.action, t.reason)
    rows = connection.execute(select(*key, func.sum(t.total), func.sum(t.entries)).group_by(*key))
    return {
        (row[0], _as_date(row[1]), row[2], row[3], row[4]): (int(row[5]), int(row[6]))
        for row in rows
    }


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _compare_day_totals(
    counted: DayTotals, kept: DayTotals, problem: Callable[[str], None]
) -> None:
    for key in sorted(set(counted) | set(kept)):
        if counted.get(key, (0, 0)) == kept.get(key, (0, 0)):
            continue
        account_id, day, credit_type, action, reason = key
        total, count = kept.get(key, (0, 0))
        entries_total, entries_count = counted.get(key, (0, 0))
        problem(
            f"account {account_id}: {day} {credit_type} {action} {reason}: the day's totals "
            f"say {total} in {count} entries, the entries sum to {entries_total} in "
            f"{entries_count}"
        )
