"""``patron serve`` and ``patron migrate``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from patron.accounts import service as accounts
from patron.cli.common import DatabaseOption, database_url
from patron.core import migrate as migrations
from patron.core.db import Database


def migrate(database: DatabaseOption = None) -> None:
    """Bring the store's schema up to date (creates the SQLite file if needed)."""
    url = database_url(database)
    migrations.upgrade(url)
    typer.echo(f"migrated {url.split('@')[-1]}")


def _announce_default_account(url: str, host: str, port: int) -> None:
    db = Database(url, pool_size=1)
    try:
        created = accounts.ensure_default_account(db)
    finally:
        db.dispose()
    if created is None:
        typer.echo("Get a token with: patron token create --account <uuid>  (patron account list)")
        return
    account, issued = created
    base = f"http://{host}:{port}"
    typer.echo(
        f"""
Created the account 'default' ({account.uuid}). Its admin token, shown only this once:

    {issued.token}

Try it:

    curl -s {base}/graphql -H 'Authorization: Bearer {issued.token}' \\
      -H 'Content-Type: application/json' \\
      -d '{{"query": "{{ account {{ name contacts {{ uuid email }} }} }}"}}'
"""
    )


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Migrate the store, then serve the API (GraphiQL at /graphql)."""
    import uvicorn

    from patron.core.settings import load_settings

    settings = load_settings(database_url=database, host=host, port=port, workers=workers)
    migrations.upgrade(settings.database_url)
    _announce_default_account(settings.database_url, settings.host, settings.port)
    # Worker processes read their settings from the environment.
    os.environ["PATRON_DATABASE_URL"] = settings.database_url
    typer.echo(
        f"Patron serving on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s)) - GraphiQL at /graphql"
    )
    uvicorn.run(
        "patron.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
