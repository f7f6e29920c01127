"""``patron serve`` and ``patron migrate``: the only commands that create or change a store."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from patron.accounts import service as accounts
from patron.cli import metrics
from patron.cli.common import DatabaseOption, emit, refuse
from patron.core import logs
from patron.core import migrate as migrations
from patron.core.db import Database

if TYPE_CHECKING:
    from patron.core.settings import Settings


def migrate(database: DatabaseOption = None) -> None:
    """Bring the store's schema up to date (creates the SQLite file if needed)."""
    from patron.core.settings import load_settings

    settings = load_settings(database_url=database)
    url = settings.database_url
    before = migrations.store_revision(url)
    migrations.upgrade(url, prepared_statements=settings.database_prepared_statements)
    emit(
        {
            "store": migrations.shown(url),
            "from_revision": before.current,
            "revision": before.head,
            "migrated": before.current != before.head,
        }
    )


_CONSOLE_HINT = (
    "Admin console at {base}/admin - create the first staff user (it prints a one-time "
    "password):\n\n    patron staff create --account {account} --email you@example.com "
    "--role admin\n"
)


def _announce_account(settings: Settings) -> None:
    """Development: a store without an account gets one named ``default``, its token printed.

    Production creates nothing by itself and prints no secret: an operator runs
    ``patron account create``, whose output goes where they choose, not to the server's log.
    """
    db = Database(
        settings.database_url,
        pool_size=1,
        prepared_statements=settings.database_prepared_statements,
    )
    try:
        for advice in db.advice():
            typer.echo(f"Warning: {advice}", err=True)
        if settings.is_production:
            if accounts.count_accounts(db) == 0:
                typer.echo(
                    "No account yet: create one with  patron account create --name NAME  "
                    "(it prints the admin token once)"
                )
            return
        created = accounts.ensure_default_account(db)
    finally:
        db.dispose()
    if created is None:
        typer.echo("Get a token with: patron token create --account <uuid>  (patron account list)")
        typer.echo(
            _CONSOLE_HINT.format(account="<uuid>", base=f"http://{settings.host}:{settings.port}")
        )
        return
    account, issued = created
    base = f"http://{settings.host}:{settings.port}"
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
    typer.echo(_CONSOLE_HINT.format(account=account.uuid, base=base))


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening before anything is announced or created.

    It is opened with SO_REUSEPORT, so that each worker process can listen on a socket of its
    own on the same port (``_worker_sockets``); a first bind without it makes sure that no
    other server holds the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family=family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = port or probe.getsockname()[1]
        return _bound(family, host, port)
    except OSError as error:
        reason = error.strerror or str(error)
        hint = " (another server is using it; choose another with --port)"
        refuse(
            "ADDRESS_UNAVAILABLE",
            f"cannot listen on {host}:{port}: {reason.lower()}"
            + (hint if error.errno == errno.EADDRINUSE else ""),
        )


def _bound(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family=family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _worker_sockets(first: socket.socket, count: int) -> list[socket.socket]:
    """``first`` and ``count - 1`` more sockets on its address, one per worker process."""
    host, port = first.getsockname()[:2]
    return [first, *(_bound(first.family, host, port) for _ in range(count - 1))]


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Migrate the store, then serve the API (GraphiQL at /graphql outside production)."""
    from patron.core.settings import load_settings

    settings = load_settings(database_url=database, host=host, port=port, workers=workers)
    sock = _listen(settings.host, settings.port)
    try:
        migrations.reachable(settings.database_url)
        migrations.upgrade(
            settings.database_url, prepared_statements=settings.database_prepared_statements
        )
        _announce_account(settings)
    except BaseException:
        sock.close()
        raise
    # Worker processes read their settings from the environment.
    os.environ["PATRON_DATABASE_URL"] = settings.database_url
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        if settings.metrics_port is not None:
            if settings.workers > 1:
                stack.enter_context(metrics.multiprocess_directory())
            stack.callback(
                metrics.serve_metrics(
                    settings.metrics_host,
                    settings.metrics_port,
                    store_url=settings.database_url,
                )
            )
        _run(settings, sock)


def _run(settings: Settings, sock: socket.socket) -> None:
    import uvicorn

    graphiql = (
        "GraphiQL at /graphql"
        if settings.graphiql_enabled
        else "GraphiQL off (PATRON_GRAPHIQL=true turns it on)"
    )
    shown_metrics = (
        f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        if settings.metrics_port is not None
        else "metrics off (PATRON_METRICS_PORT turns them on)"
    )
    typer.echo(
        f"Patron serving on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s), {settings.environment}) - {graphiql}; {shown_metrics}"
    )
    config = uvicorn.Config(
        "patron.api.app:served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        log_config=logs.logging_config(settings.log_format_used),
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    if settings.workers > 1:
        from patron.cli.workers import BalancedWorkers

        BalancedWorkers(config, _worker_sockets(sock, settings.workers)).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)
