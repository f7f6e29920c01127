"""``patron worker`` and ``patron expire``."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from patron.cli.common import DatabaseOption, emit, open_database
from patron.core import logs, metrics
from patron.core.migrate import one_line
from patron.core.settings import load_settings
from patron.jobs.expiry import sweep

if TYPE_CHECKING:
    import httpx

    from patron.core.db import Database
    from patron.core.settings import Settings
    from patron.integrations.outbox.dispatcher import Dispatcher
    from patron.integrations.shopify.credit import RefreshReport
    from patron.jobs.expiry import SweepReport

log = logging.getLogger("patron.worker")


def expire(
    once: Annotated[bool, typer.Option("--once", help="One sweep, then exit.")] = True,
    database: DatabaseOption = None,
) -> None:
    """Expire due credit lots and redemption codes now; prints what was expired."""
    emit(asdict(sweep(open_database(database))))


def _deliver_once(dispatcher: Dispatcher) -> int:
    """One batch; a store that is down is waited out, not a reason to stop the worker.

    What was claimed stays leased and is claimed again once the lease runs out.
    """
    try:
        return dispatcher.run_once()
    except SQLAlchemyError as error:
        # One line, no traceback: a store out of reach for a moment (a restart, a failover,
        # its connections all taken) is an operator's fact, not a fault in the worker.
        log.warning("patron worker: the outbox batch failed (%s); trying again", one_line(error))
        return 0


def _sweep_once(db: Database) -> SweepReport | None:
    """One expiry sweep; a store that fails is logged in one line and swept again later."""
    try:
        return sweep(db)
    except SQLAlchemyError as error:
        log.warning("patron worker: the expiry sweep failed (%s); trying again", one_line(error))
        return None


def _refresh_store_credit(
    settings: Settings, db: Database, client: httpx.Client
) -> RefreshReport | None:
    """Shopify store credit of wallets not read for a while; trouble is logged, never fatal."""
    if not settings.shopify_refresh_seconds:
        return None
    from patron.integrations.shopify.credit import refresh_stale

    try:
        report = refresh_stale(
            db,
            client,
            older_than=timedelta(seconds=settings.shopify_refresh_seconds),
            limit=settings.shopify_refresh_batch,
            secret_key=settings.sealing_key,
        )
    except SQLAlchemyError as error:
        log.warning(
            "patron worker: the Shopify store-credit refresh failed (%s); trying again",
            one_line(error),
        )
        return None
    return report


class _Lines:
    """What the worker says as it runs: JSON log lines (``PATRON_LOG_FORMAT=json``), or, in
    text, its messages and reports on standard output as before."""

    def __init__(self, log_format: str) -> None:
        self.json = log_format == "json"

    def say(self, message: str, **fields: object) -> None:
        if self.json:
            log.info(message, extra={"fields": {"job": "worker", **fields}})
        else:
            typer.echo(message)

    def report(self, job: str, message: str, report: dict[str, Any], *, always: bool) -> None:
        if self.json:
            log.info(message, extra={"fields": {"job": job, **report}})
        elif always:
            emit(report)


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
    from patron.integrations.shopify.credit import shopify_client

    settings = load_settings(database_url=database)
    db = open_database(database)
    logs.configure(settings.log_format_used)
    lines = _Lines(settings.log_format_used)
    stop_metrics = None
    if settings.worker_metrics_port is not None and not once:
        from patron.cli.metrics import serve_metrics

        metrics.enable()
        metrics.instrument(db.engine)
        stop_metrics = serve_metrics(settings.metrics_host, settings.worker_metrics_port)
    if not once:
        lines.say(
            f"patron worker: delivering the outbox, sweeping expiry every {interval:g}s "
            "(Ctrl-C to stop)",
            sweep_interval_seconds=interval,
        )
    with (
        wiring.dispatcher(settings, db) as dispatcher,
        shopify_client(settings.webhook_timeout_seconds) as shopify,
    ):
        if once:
            sweep(db)
            refreshed = _refresh_store_credit(settings, db, shopify)
            emit(
                {
                    "delivered_or_settled": dispatcher.drain(),
                    "shopify_store_credit": asdict(refreshed) if refreshed else None,
                }
            )
            return
        next_sweep = 0.0
        try:
            while True:
                if time.monotonic() >= next_sweep:
                    report = _sweep_once(db)
                    if report is not None:
                        lines.report(
                            "expiry",
                            "expiry sweep",
                            asdict(report),
                            always=bool(report.lots_expired or report.codes_expired),
                        )
                    refreshed = _refresh_store_credit(settings, db, shopify)
                    if refreshed and (refreshed.refreshed or refreshed.failed):
                        lines.report(
                            "shopify_store_credit",
                            "shopify store credit refresh",
                            {"shopify_store_credit": asdict(refreshed)},
                            always=True,
                        )
                    next_sweep = time.monotonic() + interval
                started = time.monotonic()
                handled = _deliver_once(dispatcher)
                if handled:
                    seconds = round(time.monotonic() - started, 3)
                    lines.report(
                        "outbox",
                        "outbox batch",
                        {"events": handled, "seconds": seconds},
                        always=False,
                    )
                else:
                    time.sleep(poll)
        except KeyboardInterrupt:
            lines.say("patron worker: stopped")
        finally:
            if stop_metrics is not None:
                stop_metrics()
