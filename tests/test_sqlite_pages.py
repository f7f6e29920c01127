"""A SQLite store ``patron migrate`` creates has 16 KB pages (``SQLITE_PAGE_BYTES``): a
commit writes each page it changed with two system calls, whatever its size, and a bulk
import's batch changed 1,180 pages of 4 KB. A store created before keeps its pages."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from patron.core import migrate
from patron.core.migrate import SQLITE_PAGE_BYTES


def _page_size(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_store_has_the_larger_pages(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    migrate.upgrade(f"sqlite:///{path}")
    assert SQLITE_PAGE_BYTES == 16_384
    assert _page_size(path) == SQLITE_PAGE_BYTES
    assert migrate.store_revision(f"sqlite:///{path}").current is not None


def test_a_store_created_with_other_pages_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("CREATE TABLE before_patron (x INTEGER)")  # the size is now fixed
    migrate.upgrade(f"sqlite:///{path}")
    assert _page_size(path) == 4096
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
