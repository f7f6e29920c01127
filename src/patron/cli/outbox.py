"""``patron outbox list|retry|purge``: what operators do with the integration queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from patron.cli.common import DatabaseOption, emit, open_database
from patron.integrations.outbox import store
from patron.webhooks import service as webhooks

outbox_app = typer.Typer(help="The outbox: events waiting for, or given up by, the worker.")


@outbox_app.command("list")
def list_events(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivering, delivered or dead.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="An account uuid.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    database: DatabaseOption = None,
) -> None:
    """Counts per status, then the newest events (with their last error)."""
    if status is not None and status not in store.STATUSES:
        raise typer.BadParameter(f"one of {', '.join(store.STATUSES)}", param_hint="--status")
    db = open_database(database)
    emit(
        {
            "counts": store.counts(db),
            "events": store.list_events(db, status=status, account_id=account, limit=limit),
        }
    )


@outbox_app.command("retry")
def retry(
    event_ids: Annotated[
        list[str] | None, typer.Argument(help="Event ids; none means every dead event.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="An account uuid.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Put dead events back in the queue with fresh attempts."""
    db = open_database(database)
    keys = store.retry_dead(db, event_ids=event_ids or None, account_id=account)
    webhooks.reopen_failed(db, keys)
    emit({"retried": len(keys)})


@outbox_app.command("purge")
def purge(
    days: Annotated[
        float, typer.Option("--older-than-days", min=0, help="Age of the events to delete.")
    ] = 30.0,
    dead: Annotated[
        bool, typer.Option("--dead", help="Purge dead events instead of delivered ones.")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Delete delivered (or, with --dead, dead) events older than --older-than-days."""
    db = open_database(database)
    status = store.DEAD if dead else store.DELIVERED
    emit({"purged": store.purge(db, status=status, older_than=timedelta(days=days))})
