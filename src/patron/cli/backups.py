"""``patron backup`` and ``patron restore``: the embedded SQLite store, online."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patron.cli.common import DatabaseOption, database_url, emit, refuse
from patron.core import backup as backups
from patron.core import migrate


def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (must not exist).")],
    database: DatabaseOption = None,
) -> None:
    """Copy the SQLite store, consistently, while Patron keeps serving (PostgreSQL: its recipe)."""
    url = database_url(database)
    try:
        copied = backups.backup(url, out)
    except backups.BackupProblem as problem:
        if problem.code == "NOT_SQLITE":
            typer.echo(problem.message)
            refuse(
                "NOT_SQLITE",
                "patron backup does not back up PostgreSQL: use pg_dump or a base backup "
                "with WAL archiving, as printed above",
            )
        refuse(problem.code, problem.message)
    emit(
        {
            "backup": copied.path,
            "revision": copied.revision,
            "bytes": copied.bytes,
            "seconds": copied.seconds,
        }
    )


def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by patron backup.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the store that exists at --database.")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Restore a backup into the SQLite store; an existing store is replaced only with --force."""
    url = database_url(database)
    try:
        copied = backups.restore(backup_file, url, force=force)
    except backups.BackupProblem as problem:
        refuse(problem.code, problem.message)
    head = migrate.head_revision()
    emit(
        {
            "restored": migrate.shown(url),
            "revision": copied.revision,
            "bytes": copied.bytes,
            "seconds": copied.seconds,
            "migrate_needed": copied.revision != head,
        }
    )
