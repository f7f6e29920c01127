"""A store of a test's own, of the same kind as the session's, for tests that fill or break one.

The crash, concurrency and state-machine tests write thousands of entries and check the
whole ledger; on a database of their own that check covers exactly what they wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from patron.core import migrate
from patron.core.db import Database


@contextmanager
def own_store(request: pytest.FixtureRequest, database_url: str, directory: Path) -> Iterator[str]:
    """A freshly migrated database on the same engine as ``database_url``; dropped afterwards."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{directory / f'own-{secrets.token_hex(4)}.db'}"
        migrate.upgrade(url)
        yield url
        return
    from tests.support.postgres import PostgresServer

    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"patron_own_{secrets.token_hex(6)}"
    url = server.create_database(name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        server.drop_database(name)


@contextmanager
def own_database(
    request: pytest.FixtureRequest, database_url: str, directory: Path
) -> Iterator[tuple[str, Database]]:
    """``own_store`` with a small pool opened on it (two connections): its url and the
    ``Database``, closed before the store is dropped."""
    with own_store(request, database_url, directory) as url:
        db = Database(url, pool_size=2)
        try:
            yield url, db
        finally:
            db.dispose()


@contextmanager
def grouped_store(
    request: pytest.FixtureRequest, database_url: str, directory: Path
) -> Iterator[Database]:
    """A store of the test's own (``own_store``) opened with group commit: a ledger check at
    the end covers exactly the test's writes."""
    with own_store(request, database_url, directory) as url:
        db = Database(url, pool_size=4, group_commit=64)
        try:
            yield db
        finally:
            db.dispose()
