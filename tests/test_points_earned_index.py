"""The points a page of consumers has earned are summed from its wallets' points entries
only, found through their partial index; store-credit entries are never read for it."""

from __future__ import annotations

import json

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.wallets import page_repository
from tests.support.tenants import fund, new_tenant


def test_points_earned_reads_the_points_entries_through_their_own_index(db: Database) -> None:
    tenant = new_tenant(db)
    created = customers.create_customer(
        db, tenant.principal, NewCustomer(profile={"email": "points@example.com"})
    )
    wallet_uuid = created.wallet_uuid
    assert wallet_uuid is not None
    for _ in range(5):
        fund(db, tenant, wallet_uuid, "1.00")  # store credit: not points
    fund(db, tenant, wallet_uuid, 7, credit_type="LOCAL")
    fund(db, tenant, wallet_uuid, 5, credit_type="LOCAL")
    customer_uuid = created.customer.uuid
    if not db.is_sqlite:
        # The plan as a server with autovacuum sees the table: its statistics current, not
        # those of whatever the tests before this one left behind.
        with db.write() as connection:
            connection.exec_driver_sql("ANALYZE credit_entries")

    with db.read() as connection:
        earned = page_repository.points_earned(
            connection, tenant.principal.account_id, [customer_uuid]
        )
        statement = page_repository._POINTS_EARNED[connection.dialect.name]
        compiled = statement.compile(dialect=connection.dialect)
        sql = str(compiled)
        values = compiled.construct_params(
            {
                "account_id": tenant.principal.account_id,
                "uuids": json.dumps([customer_uuid]) if db.is_sqlite else [customer_uuid],
            }
        )
        if db.is_sqlite:
            parameters = tuple(values[name] for name in compiled.positiontup or ())
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
            )
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, values))

    assert earned == {customer_uuid: 12}
    assert "ix_credit_entries_account_id_wallet_uuid_local" in plan
