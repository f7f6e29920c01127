"""``patron worker`` and ``patron expire``."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

import typer

from patron.cli.common import DatabaseOption, emit, open_database
from patron.jobs.expiry import sweep


def expire(
    once: Annotated[bool, typer.Option("--once", help="One sweep, then exit.")] = True,
    database: DatabaseOption = None,
) -> None:
    """Expire due credit lots and redemption codes now; prints what was expired."""
    emit(asdict(sweep(open_database(database))))


def worker(
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between expiry sweeps.")
    ] = 30.0,
    database: DatabaseOption = None,
) -> None:
    """Run background jobs until stopped: the expiry sweep every --interval seconds."""
    db = open_database(database)
    typer.echo(f"patron worker: sweeping expiry every {interval:g}s (Ctrl-C to stop)")
    try:
        while True:
            report = sweep(db)
            if report.lots_expired or report.codes_expired:
                emit(asdict(report))
            time.sleep(interval)
    except KeyboardInterrupt:
        typer.echo("patron worker: stopped")
