"""What every command shares: the --database option and JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn

import typer

from patron.core import migrate
from patron.core.db import BULK_PAGE_CACHE_MB, Database
from patron.core.errors import DomainError
from patron.core.settings import load_settings

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Store URL (sqlite:///./patron.db or postgresql://...); "
        "default: PATRON_DATABASE_URL or sqlite:///./patron.db.",
    ),
]


def database_url(given: str | None) -> str:
    return load_settings(database_url=given).database_url


def open_database(given: str | None, *, bulk: bool = False, connections: int = 2) -> Database:
    """The store, once it is known to exist at this Patron's schema revision.

    Only ``patron migrate`` and ``patron serve`` create or change a schema; any other command on
    a missing, unmigrated or unreachable store says what to run and exits 1, creating nothing.
    ``bulk``: for a command that writes by the thousand rows (an import), with the page cache
    that takes (``BULK_PAGE_CACHE_MB``). ``connections``: how many it keeps open for reuse
    (an import: ``importer.CONNECTIONS``).
    """
    settings = load_settings(database_url=given)
    url = settings.database_url
    try:
        migrate.require_current(url)
    except migrate.StoreProblem as problem:
        refuse(problem.code, problem.message)
    db = Database(
        url,
        pool_size=connections,
        prepared_statements=settings.database_prepared_statements,
        page_cache_mb=BULK_PAGE_CACHE_MB if bulk else None,
    )
    _opened.append(db)
    return db


# The stores the running command opened: closed when it ends (``close_databases``, called by
# the ``patron`` app as each command finishes), not when the process does, so that a command
# run in-process (a test, a script calling the app) leaves no idle connection behind.
_opened: list[Database] = []


def close_databases() -> None:
    """Close the connections of every store this command opened."""
    while _opened:
        _opened.pop().dispose()


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in asdict(value).items()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def emit(value: Any) -> None:
    typer.echo(json.dumps(_plain(value), indent=2))


def refuse(code: str, message: str) -> NoReturn:
    """One line of JSON on standard error, exit 1."""
    typer.echo(json.dumps({"error": {"code": code, "message": message}}), err=True)
    sys.exit(1)


def fail(error: DomainError) -> NoReturn:
    refuse(error.code, error.message)
