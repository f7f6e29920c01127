"""``patron ledger verify``."""

from __future__ import annotations

import sys

import typer

from patron.cli.common import DatabaseOption, emit, open_database
from patron.wallets.verify import verify_ledger

ledger_app = typer.Typer(help="The credit ledger.", no_args_is_help=True)


@ledger_app.command("verify")
def verify(database: DatabaseOption = None) -> None:
    """Recompute every balance from its entries; exit 1 on any mismatch."""
    report = verify_ledger(open_database(database))
    emit(
        {
            "ok": report.ok,
            "wallets": report.wallets,
            "entries": report.entries,
            "problems": report.problems,
        }
    )
    if not report.ok:
        sys.exit(1)
