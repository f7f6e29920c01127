"""The Alembic revisions build exactly the tables the code declares, on both stores.

Autogenerate, run against a freshly migrated store, would write an empty revision: a column,
index, constraint or type added to a table without its migration (or the other way) fails here.
Autogenerate does not compare CHECK constraints, so their names are compared apart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine, inspect
from sqlalchemy.exc import IntegrityError

from patron.core import migrate
from patron.core.db import Database, normalise_url
from patron.tables import metadata
from patron.wallets.tables import credit_entries
from tests.support.databases import own_store
from tests.support.tenants import Tenant, make_contact


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


def test_no_check_of_a_table_written_by_the_row_builds_a_table_of_its_own_on_sqlite(
    tmp_path: Path,
) -> None:
    """SQLite evaluates a CHECK ``x IN (three or more values)`` by building a temporary table
    for every row written (two an entry cost an import a seventh of its work): the ledger's
    and the contacts' tables check their values by equalities instead."""
    url = f"sqlite:///{tmp_path / 'checks.db'}"
    migrate.upgrade(url)
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            for table in ("credit_entries", "wallets", "customers", "identities", "outbox_events"):
                names = [
                    row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({table})")
                ]
                values = ", ".join("NULL" for _ in names)
                program = connection.exec_driver_sql(
                    f"EXPLAIN INSERT INTO {table} ({', '.join(names)}) VALUES ({values})"
                ).all()
                assert "OpenEphemeral" not in {row[1] for row in program}, table
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("column", "value"), [("action", "ADDED"), ("reason", "GIFT"), ("action", "add")]
)
def test_the_ledger_still_refuses_an_action_or_reason_it_does_not_know(
    db: Database, tenant: Tenant, column: str, value: str
) -> None:
    wallet_uuid = make_contact(db, tenant).wallet_uuid
    row = {
        "account_id": tenant.uuid,
        "uuid": str(uuid.uuid4()),
        "wallet_uuid": wallet_uuid,
        "seq": 1,
        "action": "ADD",
        "credit_type": "GLOBAL",
        "amount": 1,
        "balance_after": 1,
        "reason": "MANUAL",
        "created_at": datetime(2026, 12, 7, tzinfo=UTC),
    }
    with (
        pytest.raises(IntegrityError, match=f"ck_credit_entries_{column}"),
        db.write() as connection,
    ):
        connection.execute(credit_entries.insert().values(**{**row, column: value}))
