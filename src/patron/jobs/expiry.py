"""The expiry sweep: lots past their date and redemption codes past theirs, in short batches.

Each batch is its own transaction. On PostgreSQL a wallet that another transaction is
spending from is skipped (``SKIP LOCKED``) and picked up by the next pass, so the sweep
never makes a customer's checkout wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from patron.accounts import service as accounts
from patron.core import metrics
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.redemptions import service as redemptions
from patron.wallets.expiry import expire_due_batch, has_due_lots


@dataclass
class SweepReport:
    accounts: int = 0
    lots_expired: int = 0
    codes_expired: int = 0
    wallets_skipped: int = 0
    seconds: float = 0.0


def sweep(
    db: Database, *, now: datetime | None = None, batch_size: int = 500, max_passes: int = 1_000_000
) -> SweepReport:
    """Expire everything due at ``now`` (default: the current time) in every account."""
    try:
        report = _sweep(db, now=now, batch_size=batch_size, max_passes=max_passes)
    except Exception:
        metrics.sweep_failed()
        raise
    metrics.sweep_finished(report.lots_expired, report.codes_expired)
    return report


def _sweep(db: Database, *, now: datetime | None, batch_size: int, max_passes: int) -> SweepReport:
    started = time.monotonic()
    moment = now or utcnow()
    report = SweepReport()
    for account in accounts.list_accounts(db):
        report.accounts += 1
        principal = accounts.system_principal(account, job="expiry")
        # Codes first: a released hold gives credit back to its lots, which may be due too.
        while True:
            with db.write() as connection:
                expired = redemptions.expire_codes(connection, principal, moment, batch_size)
            report.codes_expired += expired
            if expired < batch_size:
                break
        for _ in range(max_passes):
            with db.write() as connection:
                batch = expire_due_batch(connection, principal, moment, batch_size)
            report.lots_expired += batch.lots
            if batch.wallets == 0:
                with db.read() as connection:
                    if not has_due_lots(connection, principal, moment):
                        break
                report.wallets_skipped += 1
                time.sleep(0.05)  # every due wallet was busy: let the spenders finish
    report.seconds = time.monotonic() - started
    return report
