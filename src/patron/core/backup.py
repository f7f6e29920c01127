"""Online backups of the embedded store, and restoring one.

A backup is SQLite's backup API run in one step: one read transaction, so the copy is the
store as it was when the backup began (every commit before it, none after), taken while
Patron keeps writing (WAL readers do not block writers). The copy is written beside the
target, checked, made durable, then renamed into place: a file at the target is always a
whole backup.

A restore copies the backup into the store through the same API, after Patron's own writers'
queue lets it in, so that a server still running on the store sees the restored store whole
or not at all. PostgreSQL has its own tools (``pg_dump``, base backups with WAL archiving).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from patron.core import migrate
from patron.core.db import SQLITE_BUSY_TIMEOUT_MS, WriterQueue


class BackupProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Copied:
    path: str
    revision: str
    bytes: int
    seconds: float


POSTGRESQL_RECIPE = """\
patron backup copies the embedded SQLite store only; a PostgreSQL store is backed up with
PostgreSQL's own tools:

  # a logical dump (consistent, taken while Patron writes), and its restore
  pg_dump --format=custom --file=patron.dump "postgresql://USER@HOST:5432/patron"
  pg_restore --clean --if-exists --no-owner --dbname=postgresql://USER@HOST/patron patron.dump

  # point-in-time recovery: a base backup plus archived WAL (postgresql.conf:
  # wal_level=replica, archive_mode=on, archive_command='cp %p /archive/%f')
  pg_basebackup --pgdata=/backups/base --wal-method=stream --checkpoint=fast --progress
  # to recover: restore the base backup as the data directory, set
  # restore_command='cp /archive/%f %p' and recovery_target_time='...', touch recovery.signal

See the README, "Operating Patron", "Backups"."""


def _check_copy(connection: sqlite3.Connection, shown: str) -> str:
    """The copy's revision, once SQLite finds it whole and it is a Patron store."""
    try:
        (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupProblem("BACKUP_DAMAGED", f"{shown} is damaged (SQLite says: {verdict})")
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            raise BackupProblem("NOT_A_STORE", f"{shown} is not a Patron store") from None
        raise BackupProblem("NOT_A_STORE", f"{shown} cannot be read: {error}") from None
    except sqlite3.DatabaseError as error:
        raise BackupProblem(
            "NOT_A_STORE", f"{shown} is not a Patron store (SQLite says: {error})"
        ) from None
    if row is None:
        raise BackupProblem("NOT_A_STORE", f"{shown} is not a Patron store (no revision)")
    return str(row[0])


def _durable(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def backup(database_url: str, out: Path) -> Copied:
    """An online, consistent copy of the SQLite store at ``database_url`` into ``out``."""
    path = migrate.sqlite_path(database_url)
    if path is None:
        migrate.reachable(database_url)  # a server that does not answer is said first
        raise BackupProblem("NOT_SQLITE", POSTGRESQL_RECIPE)
    migrate.require_migrated(database_url)
    if out.exists():
        raise BackupProblem("OUT_EXISTS", f"{out} exists; choose another file or remove it")
    if not out.parent.is_dir():
        raise BackupProblem("OUT_UNWRITABLE", f"the folder {out.parent} does not exist")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    source = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one snapshot
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            revision = _check_copy(copy, str(out))
        finally:
            copy.close()
        _durable(partial)
        os.replace(partial, out)
        _durable(out.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return Copied(str(out), revision, out.stat().st_size, round(time.monotonic() - started, 3))


def restore(backup_file: Path, database_url: str, *, force: bool) -> Copied:
    """Copy a backup into the SQLite store at ``database_url``; an existing store only with
    ``force``. The backup must be a whole Patron store at a revision this Patron knows."""
    path = migrate.sqlite_path(database_url)
    if path is None:
        migrate.reachable(database_url)
        raise BackupProblem(
            "NOT_SQLITE",
            "patron restore restores the embedded SQLite store only; restore PostgreSQL with "
            "pg_restore or from a base backup (see the README, Backups)",
        )
    if not backup_file.is_file():
        raise BackupProblem("BACKUP_MISSING", f"there is no file {backup_file}")
    started = time.monotonic()
    source = sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        revision = _check_copy(source, str(backup_file))
        if not migrate.known_revision(revision):
            raise BackupProblem(
                "BACKUP_TOO_NEW",
                f"{backup_file} is at revision {revision}, which this version of Patron does "
                "not know: restore it with a newer Patron",
            )
        target = Path(path)
        if target.exists() and target.stat().st_size > 0 and not force:
            raise BackupProblem(
                "STORE_EXISTS",
                f"a store exists at {migrate.shown(database_url)}; restoring replaces all of "
                "it: stop Patron, keep a backup of it, and add --force",
            )
        with WriterQueue(path):
            destination = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            try:
                source.backup(destination)
            finally:
                destination.close()
    finally:
        source.close()
    return Copied(
        str(target), revision, target.stat().st_size, round(time.monotonic() - started, 3)
    )
