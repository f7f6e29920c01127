"""The Alembic revisions build exactly the tables the code declares, on both stores.

Autogenerate, run against a freshly migrated store, would write an empty revision: a column,
index, constraint or type added to a table without its migration (or the other way) fails here.
Autogenerate does not compare CHECK constraints, so their names are compared apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine, inspect

from patron.core.db import normalise_url
from patron.tables import metadata
from tests.support.databases import own_store


def differences(url: str) -> list[Any]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def migrated_checks(url: str) -> set[tuple[str, str]]:
    engine = create_engine(normalise_url(url))
    try:
        inspector = inspect(engine)
        return {
            (table, str(check["name"]))
            for table in inspector.get_table_names()
            if table != "alembic_version"
            for check in inspector.get_check_constraints(table)
        }
    finally:
        engine.dispose()


def declared_checks() -> set[tuple[str, str]]:
    return {
        (table.name, str(constraint.name))
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }


def test_autogenerate_finds_nothing_to_migrate_on_a_freshly_migrated_store(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    with own_store(request, database_url, tmp_path) as url:
        found = differences(url)
        checks = migrated_checks(url)

    assert found == []
    assert sorted(checks ^ declared_checks()) == []


def test_the_tables_updated_by_every_posting_keep_room_on_each_page_on_postgresql(
    postgres_database: str,
) -> None:
    """A wallet's, a day total's and a counter's row are updated in place (no index touched)
    only when their page has room for the new version: those tables are filled to 70 %."""
    engine = create_engine(normalise_url(postgres_database))
    try:
        with engine.connect() as connection:
            options = dict(
                connection.exec_driver_sql(
                    "SELECT relname, reloptions FROM pg_class WHERE relname IN "
                    "('wallets', 'credit_day_totals', 'account_counters', 'credit_entries')"
                ).all()
            )
    finally:
        engine.dispose()

    assert options == {
        "wallets": ["fillfactor=70"],
        "credit_day_totals": ["fillfactor=70"],
        "account_counters": ["fillfactor=70"],
        "credit_entries": None,  # only ever inserted into
    }
