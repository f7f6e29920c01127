"""Alembic, driven from Patron: ``patron migrate``, the start of ``patron serve``, and the
check every other command makes before it touches a store."""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, exc, pool
from sqlalchemy.engine import make_url

from patron.core.db import normalise_url, postgresql_connect_args

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"
_CONNECT_TIMEOUT_SECONDS = 5
# The page of a SQLite store ``patron migrate`` creates: 16 KB, where SQLite's default is 4.
# A commit writes each page it changed to the WAL and a checkpoint copies it into the file,
# two system calls a page either way: an import's batch of 1,000 contacts changes about
# 4.6 MB, 1,180 pages of 4 KB, and its commit took half its time. A store created before
# keeps the page it has.
SQLITE_PAGE_BYTES = 16_384


def size_new_sqlite_pages(engine: Engine) -> None:
    """A SQLite store created through ``engine`` gets ``SQLITE_PAGE_BYTES`` pages (SQLite
    takes the setting only before the file's first table)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA page_size = {SQLITE_PAGE_BYTES}")


class StoreProblem(Exception):
    """The store cannot be used as it is; ``message`` says what to run or fix, on one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class StoreRevision:
    exists: bool
    current: str | None  # None: never migrated
    head: str


def alembic_config(database_url: str, *, prepared_statements: bool = True) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    config.attributes["prepared_statements"] = prepared_statements
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s",
    )
    return config


def shown(database_url: str) -> str:
    """The URL as it may be printed: never its password."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        pass
    try:  # several hosts, libpq's way (h1:5432,h2:5433): shown as given, password hidden
        make_url(normalise_url(database_url))
    except (exc.ArgumentError, ValueError):
        return "<a malformed URL>"
    return re.sub(r"^([^:/]+://[^:@/]*):[^@/]*@", r"\1:***@", database_url)


def one_line(error: BaseException) -> str:
    """A driver's error as one line, without SQLAlchemy's links and statements."""
    text = str(getattr(error, "orig", None) or error)
    text = text.split("\n[SQL:", maxsplit=1)[0].split("\n(Background on this error", maxsplit=1)[0]
    return re.sub(r"\s+", " ", text).strip()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    return heads[0] if len(heads) == 1 else ",".join(sorted(heads))


def _known_revision(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except (RevisionError, CommandError):
        return False


def _sqlite_revision(path: str) -> str | None:
    """Read-only: a missing file is never created, and an existing one is never changed."""
    try:
        # sqlite3's own context manager ends a transaction, not the connection: closing() does.
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise StoreProblem(
            "STORE_UNREACHABLE", f"cannot open the store at {path}: {error}"
        ) from None
    except sqlite3.DatabaseError as error:
        raise StoreProblem(
            "STORE_UNREACHABLE", f"{path} is not a Patron store (SQLite says: {error})"
        ) from None
    return str(row[0]) if row else None


def _server_revision(database_url: str) -> str | None:
    engine = create_engine(
        normalise_url(database_url),
        poolclass=pool.NullPool,
        connect_args={
            **postgresql_connect_args(database_url),
            "connect_timeout": _CONNECT_TIMEOUT_SECONDS,
        },
    )
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except exc.SQLAlchemyError as error:
        raise StoreProblem(
            "STORE_UNREACHABLE", f"cannot reach the store {shown(database_url)}: {one_line(error)}"
        ) from None
    finally:
        engine.dispose()


def sqlite_path(database_url: str) -> str | None:
    """The file of a SQLite store URL; None for another store or an in-memory one."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return None
    return url.database


def store_revision(database_url: str) -> StoreRevision:
    """Where the store's schema is, compared with this Patron's; creates and changes nothing."""
    try:
        url = make_url(normalise_url(database_url))
    except (exc.ArgumentError, ValueError) as error:
        raise StoreProblem("STORE_URL_INVALID", f"the store URL is malformed: {error}") from None
    head = head_revision()
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database_url)
        if path is None or not Path(path).is_file():
            return StoreRevision(exists=False, current=None, head=head)
        return StoreRevision(exists=True, current=_sqlite_revision(path), head=head)
    return StoreRevision(exists=True, current=_server_revision(database_url), head=head)


def require_migrated(database_url: str) -> StoreRevision:
    """Refuse a store that is missing or was never migrated; any revision passes."""
    state = store_revision(database_url)
    run = f"run `patron migrate --database {shown(database_url)}` first"
    if not state.exists:
        raise StoreProblem(
            "STORE_MISSING", f"there is no Patron store at {shown(database_url)}: {run}"
        )
    if state.current is None:
        raise StoreProblem(
            "STORE_NOT_MIGRATED", f"the store {shown(database_url)} is not migrated: {run}"
        )
    return state


def require_current(database_url: str) -> None:
    """Refuse a store that is missing, never migrated, behind or ahead of this Patron."""
    state = require_migrated(database_url)
    assert state.current is not None
    run = f"run `patron migrate --database {shown(database_url)}` first"
    if state.current != state.head:
        if not _known_revision(state.current):
            raise StoreProblem(
                "STORE_TOO_NEW",
                f"the store {shown(database_url)} is at revision {state.current}, which this "
                "version of Patron does not know: upgrade Patron",
            )
        raise StoreProblem(
            "STORE_NOT_MIGRATED",
            f"the store {shown(database_url)} is at revision {state.current}, this Patron "
            f"needs {state.head}: {run}",
        )


def reachable(database_url: str) -> None:
    """Before migrating: a store URL that is malformed, or a server that does not answer."""
    store_revision(database_url)


def upgrade(database_url: str, revision: str = "head", *, prepared_statements: bool = True) -> None:
    command.upgrade(alembic_config(database_url, prepared_statements=prepared_statements), revision)


@functools.cache
def package_head() -> str:
    """This Patron's head revision, read from its migrations once per process."""
    return head_revision()


def readiness(engine: Engine) -> tuple[bool, str]:
    """Whether the store answers and is at this Patron's revision, and if not, why (one line,
    naming no URL)."""
    head = package_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            connection.rollback()
    except exc.SQLAlchemyError:
        return False, "the store does not answer"
    if current != head:
        return False, f"the store is at revision {current or 'none'}, this Patron needs {head}"
    return True, head


def known_revision(revision: str) -> bool:
    """Whether this Patron's migrations know ``revision`` (a store it can upgrade or use)."""
    return _known_revision(revision)
