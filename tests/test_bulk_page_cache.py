"""A bulk import's store connection has the page cache a batch needs (``BULK_PAGE_CACHE_MB``):
past SQLite's default of 2 MB, a batch's changed pages were written to the WAL before its
commit, again when the batch changed them again, and read back once dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from patron.accounts import service as accounts
from patron.cli import common
from patron.cli.main import app
from patron.core import db as db_module
from patron.core import migrate
from patron.core.db import BULK_PAGE_CACHE_MB, Database


def _cache_size(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(text("PRAGMA cache_size")).scalar_one())


def test_a_store_opened_for_bulk_work_has_the_larger_page_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate.upgrade(url)
    plain, bulk = Database(url), Database(url, page_cache_mb=BULK_PAGE_CACHE_MB)
    try:
        assert _cache_size(plain) == -2000  # SQLite's own default: 2,000 KiB
        assert _cache_size(bulk) == -1024 * BULK_PAGE_CACHE_MB
    finally:
        plain.dispose()
        bulk.dispose()


def test_either_store_takes_the_option(database_url: str) -> None:
    database = Database(database_url, pool_size=1, page_cache_mb=BULK_PAGE_CACHE_MB)
    try:
        with database.read() as connection:
            if database.is_sqlite:
                size = connection.execute(text("PRAGMA cache_size")).scalar_one()
                assert size == -1024 * BULK_PAGE_CACHE_MB
            else:  # PostgreSQL's buffers are the server's: the option is ignored
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("command", "bulk"),
    [
        (["import", "contacts", "{file}"], True),
        (["export", "contacts", "--out", "{out}"], False),
    ],
)
def test_the_import_command_opens_its_store_for_bulk_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], bulk: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    setup = Database(url)
    created, _ = accounts.create_account(setup, name="cache")
    setup.dispose()
    file = tmp_path / "in.csv"
    file.write_text("email,global_balance\na@example.com,1.00\n")
    opened: list[Any] = []

    class Recording(db_module.Database):
        def __init__(self, url: str, **options: Any) -> None:
            opened.append(options.get("page_cache_mb"))
            super().__init__(url, **options)

    monkeypatch.setattr(common, "Database", Recording)
    arguments = [part.format(file=file, out=tmp_path / "out.csv") for part in command]
    result = CliRunner().invoke(app, [*arguments, "--account", created.uuid, "--database", url])

    assert result.exit_code == 0, result.output
    assert opened == [BULK_PAGE_CACHE_MB if bulk else None]
