"""The two stores of a run: a fresh SQLite file and a fresh PostgreSQL database.

PostgreSQL is found the way the test suite finds it (PATRON_BENCH_DATABASE_URL, then
127.0.0.1:5432 as user postgres, then a throwaway cluster from the local binaries, which is
the test suite's own ``ThrowawayCluster``). Either way the benchmark works in a database of
its own, ``patron_bench_<random>``, dropped when the run ends, however it ends.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ENV_URL = "PATRON_BENCH_DATABASE_URL"
_SETTINGS = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections")


@dataclass
class Store:
    kind: str  # "sqlite" or "postgresql"
    url: str  # as Patron takes it (--database)
    origin: str  # where it came from, for the report
    settings: dict[str, str] = field(default_factory=dict)
    sqlite_path: Path | None = None

    @property
    def libpq_url(self) -> str:
        return libpq(self.url)

    @property
    def database_name(self) -> str | None:
        return make_url(self.url).database if self.kind == "postgresql" else None


def libpq(url: str) -> str:
    """psycopg wants ``postgresql://``; Patron also takes ``postgresql+psycopg://``."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(libpq(url), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _scalar(connection: psycopg.Connection[Any], query: LiteralString, *args: object) -> object:
    row = connection.execute(query, args).fetchone()
    return row[0] if row else None


@contextmanager
def sqlite_store(workdir: Path) -> Iterator[Store]:
    directory = Path(tempfile.mkdtemp(prefix="sqlite-", dir=workdir))
    path = directory / "patron.db"
    try:
        yield Store(
            kind="sqlite",
            url=f"sqlite:///{path}",
            origin=f"a fresh file in a temporary directory (SQLite {sqlite3.sqlite_version})",
            settings={"sqlite_version": sqlite3.sqlite_version},
            sqlite_path=path,
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _postgres_server() -> Iterator[tuple[str, str]]:
    """(maintenance URL, description) of a server we may create databases on."""
    given = os.environ.get(ENV_URL)
    if given:
        if not _answers(given):
            raise RuntimeError(f"{ENV_URL} does not answer: {make_url(given)!r}")
        yield given, f"{ENV_URL} ({make_url(given).host})"
        return
    if _answers(LOCAL_SERVER):
        yield LOCAL_SERVER, "the server at 127.0.0.1:5432 (shared, not started by the bench)"
        return
    from tests.support.postgres import ThrowawayCluster

    cluster = ThrowawayCluster()
    try:
        url = cluster.start()
        for _ in range(100):
            if _answers(url):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the throwaway PostgreSQL cluster does not answer")
        yield url, f"a throwaway cluster on port {cluster.port} (initdb defaults, fsync on)"
    finally:
        cluster.stop()


@contextmanager
def postgres_store() -> Iterator[Store]:
    with _postgres_server() as (server_url, origin):
        name = f"patron_bench_{secrets.token_hex(4)}"
        with psycopg.connect(libpq(server_url), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        try:
            with psycopg.connect(libpq(url)) as connection:
                settings = {
                    setting: str(_scalar(connection, "SELECT current_setting(%s)", setting))
                    for setting in _SETTINGS
                }
            yield Store(
                kind="postgresql",
                url=url,
                origin=f"database {name} on {origin}",
                settings=settings,
            )
        finally:
            _drop_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    """Drop the run's database. A server that is itself going away (a throwaway cluster
    also got the Ctrl-C) takes the database with it: that must not hide the interrupt."""
    try:
        with psycopg.connect(libpq(server_url), autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except psycopg.Error as error:
        print(f"could not drop the benchmark database {name}: {error}".strip(), file=sys.stderr)


@contextmanager
def open_store(kind: str, workdir: Path) -> Iterator[Store]:
    manager = sqlite_store(workdir) if kind == "sqlite" else postgres_store()
    with manager as store:
        yield store


@contextmanager
def backend_pids(url: str) -> Iterator[Callable[[], list[int]] | None]:
    """The PostgreSQL backends serving ``url``'s database, when they run on this machine
    (None: SQLite, or a server elsewhere)."""
    host = make_url(url).host
    if not url.startswith("postgresql") or host not in (None, "", "127.0.0.1", "localhost", "::1"):
        yield None
        return
    with psycopg.connect(libpq(url), autocommit=True) as monitor:

        def pids() -> list[int]:
            rows = monitor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            return [int(row[0]) for row in rows]

        yield pids
