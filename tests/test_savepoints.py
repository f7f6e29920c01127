"""A command's savepoint in a group commit, deferred to its first statement
(``core.db.defer_savepoint``): on PostgreSQL it travels with that statement, whichever way
the statement reaches the driver; on SQLite it is made at once. Either way, rolling back to
it undoes exactly what came after it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from patron.core.db import (
    Database,
    defer_savepoint,
    flush_savepoint,
    run_sql,
    settle_savepoint,
)
from patron.core.errors import InvalidInput
from patron.core.events import outbox_events, record_event, record_events
from patron.core.unit import group_stats, run_command
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.verify import verify_ledger
from tests.support.ledger import entry_rows
from tests.support.tenants import Tenant, fund, make_contact
from tests.test_group_commit_on_loop import spend, together


def _events(db: Database, tenant: Tenant) -> list[str]:
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type)
            .where(outbox_events.c.account_id == tenant.principal.account_id)
            .where(outbox_events.c.event_type.like("test.%"))
            .order_by(outbox_events.c.event_type)
        )
        return [row.event_type for row in rows]


def _through_sqlalchemy(connection: Any, tenant: Tenant, name: str) -> None:
    connection.execute(
        insert(outbox_events).values(
            account_id=tenant.principal.account_id,
            event_id=str(uuid.uuid4()),
            event_type=name,
            payload={},
            status="pending",
            attempts=0,
            created_at=func.now(),
        )
    )


@pytest.mark.parametrize("way", ["run_sql", "sqlalchemy", "copy"])
def test_rolling_back_to_a_deferred_savepoint_undoes_what_came_after_it(
    db: Database, tenant: Tenant, way: str
) -> None:
    account_id = tenant.principal.account_id
    with db.write() as connection:
        record_event(connection, account_id, "test.before", {})
        defer_savepoint(connection, "patron_test_1")
        if way == "run_sql":  # a precompiled statement: on PostgreSQL in one round trip with it
            record_event(connection, account_id, "test.after", {})
        elif way == "sqlalchemy":
            _through_sqlalchemy(connection, tenant, "test.after")
        else:  # many rows: PostgreSQL's COPY, around SQLAlchemy
            record_events(connection, account_id, [("test.after", {}), ("test.after", {})])
        assert not settle_savepoint(connection)  # it was sent
        run_sql(connection, "ROLLBACK TO SAVEPOINT patron_test_1")
        record_event(connection, account_id, "test.kept", {})
    assert _events(db, tenant) == ["test.before", "test.kept"]


def test_a_deferred_savepoint_no_statement_sent_is_forgotten(db: Database, tenant: Tenant) -> None:
    account_id = tenant.principal.account_id
    with db.write() as connection:
        defer_savepoint(connection, "patron_test_1")
        record_event(connection, account_id, "test.first", {})
        defer_savepoint(connection, "patron_test_2")
        # Nothing sent since: on PostgreSQL it was never made, and is forgotten.
        assert settle_savepoint(connection) is (not db.is_sqlite)
        assert not settle_savepoint(connection)
        record_event(connection, account_id, "test.second", {})
    assert _events(db, tenant) == ["test.first", "test.second"]


def test_rolling_back_to_a_savepoint_never_made_is_an_error(db: Database, tenant: Tenant) -> None:
    """Why each command has a savepoint of its own name: a ROLLBACK TO that finds no such
    savepoint fails instead of undoing an earlier command's work."""
    account_id = tenant.principal.account_id

    def goes_back_to_a_missing_savepoint() -> None:
        with db.write() as connection:
            defer_savepoint(connection, "patron_test_1")
            record_event(connection, account_id, "test.first", {})
            run_sql(connection, "ROLLBACK TO SAVEPOINT patron_test_2")

    with pytest.raises(DBAPIError):
        goes_back_to_a_missing_savepoint()
    assert _events(db, tenant) == []


def test_flushing_sends_the_deferred_savepoint_now(db: Database, tenant: Tenant) -> None:
    with db.write() as connection:
        defer_savepoint(connection, "patron_test_1")
        flush_savepoint(connection)
        assert not settle_savepoint(connection)
        run_sql(connection, "ROLLBACK TO SAVEPOINT patron_test_1")  # it exists


def test_a_batch_keeps_the_writes_around_a_command_that_failed_before_any_statement(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Any
) -> None:
    """A command that fails before its first statement never sent its savepoint: nothing of
    it is rolled back to, and the commands before and after it commit."""
    from tests.support.databases import grouped_store
    from tests.support.tenants import new_tenant

    with grouped_store(request, database_url, tmp_path) as store:
        tenant = new_tenant(store)
        wallet_uuid = make_contact(store, tenant).wallet_uuid
        fund(store, tenant, wallet_uuid, "2.00")
        before = group_stats(store).batches

        def refuses_at_once() -> Any:
            def command(_connection: Any) -> Any:
                raise InvalidInput("refused before any statement", field="amount")

            return run_command(store, command)

        results = together(
            [
                lambda: spend(store, tenant, wallet_uuid, "1.00"),
                refuses_at_once,
                # refused by the balance, after its statement
                lambda: spend(store, tenant, wallet_uuid, "5.00"),
                lambda: spend(store, tenant, wallet_uuid, "0.50"),
            ]
        )
        assert group_stats(store).batches == before + 1
        assert isinstance(results[1], InvalidInput)
        assert isinstance(results[2], InsufficientCredit)
        spent = list(entry_rows(store, tenant.principal.account_id, wallet_uuid))
        spends = sorted(row.amount for row in spent if row.action == "SPEND")
        assert spends == [50, 100]
        assert {results[0].uuid, results[3].uuid} == {
            row.uuid for row in spent if row.action == "SPEND"
        }
        assert verify_ledger(store).ok
