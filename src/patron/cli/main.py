"""The ``patron`` command."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence

import typer
from sqlalchemy.exc import SQLAlchemyError

from patron.cli import (
    accounts,
    backups,
    connections,
    ledger,
    moving,
    outbox,
    privacy,
    serve,
    staff,
    worker,
)
from patron.cli.common import close_databases

app = typer.Typer(
    help="Patron: customers, store credit and loyalty points over GraphQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _each_command(context: typer.Context) -> None:
    context.call_on_close(close_databases)


app.command("serve")(serve.serve)
app.command("migrate")(serve.migrate)
app.command("worker")(worker.worker)
app.command("expire")(worker.expire)
app.command("backup")(backups.backup)
app.command("restore")(backups.restore)
app.add_typer(accounts.account_app, name="account")
app.add_typer(accounts.token_app, name="token")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(outbox.outbox_app, name="outbox")
app.add_typer(connections.shopify_app, name="shopify")
app.add_typer(connections.klaviyo_app, name="klaviyo")
app.add_typer(privacy.contact_app, name="contact")
app.add_typer(privacy.audit_app, name="audit")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(moving.import_app, name="import")
app.add_typer(moving.export_app, name="export")


@app.command("schema")
def print_schema() -> None:
    """Print the native GraphQL schema (SDL)."""
    from patron.api.app import printed_schema

    typer.echo(printed_schema(), nl=False)


def _say(code: str, message: str) -> None:
    print(json.dumps({"error": {"code": code, "message": message}}), file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    """The command line as a function: its exit code, and never a traceback for a user.

    Settings that cannot be used are one line each and exit 2; a store that fails is one line
    and exits 1; anything else unexpected is one line too (``PATRON_TRACEBACK=1`` prints where).
    """
    from patron.core.migrate import StoreProblem, one_line
    from patron.core.settings import SettingsError

    try:
        app(args=list(sys.argv[1:] if argv is None else argv), prog_name="patron")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except SettingsError as error:
        for problem in error.problems:
            print(f"patron: {problem}", file=sys.stderr)
        return 2
    except StoreProblem as problem:
        _say(problem.code, problem.message)
    except SQLAlchemyError as error:
        _say("STORE_ERROR", f"the store failed: {one_line(error)}")
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if os.environ.get("PATRON_TRACEBACK"):
            traceback.print_exc()
        _say("INTERNAL", f"unexpected {type(error).__name__}: {one_line(error)}")
    return 1


def main() -> None:
    sys.exit(run())
