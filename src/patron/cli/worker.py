"""``patron worker`` and ``patron expire``."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

import typer

from patron.cli.common import DatabaseOption, emit, open_database
from patron.core.settings import load_settings
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
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds to wait when the outbox has nothing due.")
    ] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="One sweep, deliver what is due, then exit.")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Run background jobs until stopped: deliver the outbox, and sweep expiry every --interval."""
    from patron.integrations import wiring

    settings = load_settings(database_url=database)
    db = open_database(database)
    if not once:
        typer.echo(
            f"patron worker: delivering the outbox, sweeping expiry every {interval:g}s "
            "(Ctrl-C to stop)"
        )
    with wiring.dispatcher(settings, db) as dispatcher:
        if once:
            sweep(db)
            emit({"delivered_or_settled": dispatcher.drain()})
            return
        next_sweep = 0.0
        try:
            while True:
                if time.monotonic() >= next_sweep:
                    report = sweep(db)
                    if report.lots_expired or report.codes_expired:
                        emit(asdict(report))
                    next_sweep = time.monotonic() + interval
                if not dispatcher.run_once():
                    time.sleep(poll)
        except KeyboardInterrupt:
            typer.echo("patron worker: stopped")
