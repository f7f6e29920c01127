"""What a hostile or careless client found, each pinned on both stores.

Each test is the reproduction of one finding; the mechanisms behind them (text checked at
the edge, bounded parsing, the error guard around serialisation) have their own tests.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from patron.core.db import Database
from patron.orders.tables import orders as orders_table
from patron.wallets.verify import verify_ledger
from tests.support.client import Api
from tests.support.orders import record
from tests.support.tenants import Tenant, fund, make_contact

DELETE_CONTACT = """mutation DeleteContact($uuid: String!) {
  deleteContact(uuid: $uuid) { success errors }
}"""

CONTACT_ORDERS = """query Orders {
  account { orders(limit: 10) { externalId contactUuid total status } }
}"""


def test_a_contact_with_orders_is_deleted_and_its_orders_are_kept(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    fund(db, tenant, created.wallet_uuid, "5.00")
    record(db, tenant, "10.00", customer=created.customer.uuid, external_id="O-1")
    record(db, tenant, "3.00", customer=created.customer.uuid, external_id="O-2", status="PENDING")

    data = api.data(DELETE_CONTACT, {"uuid": created.customer.uuid}, token=tenant.token)

    assert data == {"deleteContact": {"success": True, "errors": []}}
    orders: Any = api.data(CONTACT_ORDERS, token=tenant.token)["account"]["orders"]
    assert sorted((o["externalId"], o["contactUuid"], o["status"]) for o in orders) == [
        ("O-1", None, "COMPLETED"),
        ("O-2", None, "PENDING"),
    ]
    with db.read() as connection:
        kept = connection.execute(
            select(orders_table.c.account_id).where(orders_table.c.account_id == tenant.uuid)
        ).all()
    assert len(kept) == 2
    assert verify_ledger(db).ok
