"""What every command shares: the --database option and JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer

from patron.core.db import Database
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


def open_database(given: str | None) -> Database:
    return Database(database_url(given), pool_size=2)


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


def fail(error: DomainError) -> None:
    typer.echo(json.dumps({"error": {"code": error.code, "message": error.message}}), err=True)
    sys.exit(1)
