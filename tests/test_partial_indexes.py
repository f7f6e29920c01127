"""The indexes of credit entries by order, redemption and reversed entry hold only the entries
that have one, and the lookups by those values still go through them, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from patron.core.db import Database
from patron.wallets import repository
from tests.support.tenants import fund, make_contact, new_tenant

PARTIAL = {
    "ix_credit_entries_account_id_reverses_uuid": "reverses_uuid",
    "ix_credit_entries_account_id_order_uuid": "order_uuid",
    "ix_credit_entries_account_id_redemption_uuid": "redemption_uuid",
}


def _definitions(db: Database) -> dict[str, str]:
    with db.read() as connection:
        if db.is_sqlite:
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            )
        else:
            rows = connection.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes")
        return {str(name): str(sql) for name, sql in rows}


def test_the_indexes_hold_only_entries_that_have_the_value(db: Database) -> None:
    definitions = _definitions(db)
    for name, column in PARTIAL.items():
        assert f"{column} IS NOT NULL" in definitions[name].replace("(", "").replace(")", "")
    # Nothing looks customers up by their birthday month; identities by customer use the
    # unique (account, customer, service).
    assert "ix_customers_account_id_birthday_month" not in definitions
    assert "ix_identities_account_id_customer_uuid" not in definitions


def _plan(db: Database, call: Any) -> tuple[Any, str]:
    """Call CALL(connection) and return its result and the plan of the statement it sent."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    with db.read() as connection:
        event.listen(connection, "before_cursor_execute", capture)
        try:
            result = call(connection)
        finally:
            event.remove(connection, "before_cursor_execute", capture)
        ((statement, parameters),) = sent
        if db.is_sqlite:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return result, " ".join(str(row[-1]) for row in rows)
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return result, " ".join(str(row[0]) for row in rows)


@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (repository.reversed_amount, "ix_credit_entries_account_id_reverses_uuid"),
        (repository.order_credit_spends, "ix_credit_entries_account_id_order_uuid"),
    ],
)
def test_a_lookup_by_value_uses_its_partial_index(db: Database, lookup: Any, index: str) -> None:
    tenant = new_tenant(db)
    created = make_contact(db, tenant)
    assert created.wallet_uuid is not None
    entry = fund(db, tenant, created.wallet_uuid, "5.00")
    found, plan = _plan(db, lambda c: lookup(c, tenant.principal.account_id, entry.uuid))
    assert found in (0, [])
    assert index in plan, plan
