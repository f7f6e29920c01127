"""The ``patron`` command."""

from __future__ import annotations

import typer

from patron.cli import accounts, connections, ledger, outbox, serve, worker

app = typer.Typer(
    help="Patron: customers, store credit and loyalty points over GraphQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("migrate")(serve.migrate)
app.command("worker")(worker.worker)
app.command("expire")(worker.expire)
app.add_typer(accounts.account_app, name="account")
app.add_typer(accounts.token_app, name="token")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(outbox.outbox_app, name="outbox")
app.add_typer(connections.shopify_app, name="shopify")
app.add_typer(connections.klaviyo_app, name="klaviyo")


@app.command("schema")
def print_schema() -> None:
    """Print the native GraphQL schema (SDL)."""
    from patron.api.app import printed_schema

    typer.echo(printed_schema(), nl=False)


def main() -> None:
    app()
