"""A Lightfunnels client (seed 003) written against its Customer type moves unchanged.

Typed variables with Lightfunnels' names (``ID!``, ``InputCustomer!``, ``InputUpdateCustomer!``),
every Customer field the vendor lists selected, and ``deleteCustomer``."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from patron.core.db import Database
from tests.support.client import Api
from tests.support.ledger import entry_rows
from tests.support.orders import record
from tests.support.store import account_rows
from tests.support.tenants import Tenant, fund, make_contact

PATH = "/compat/lightfunnels/api/v2"

CUSTOMER_QUERY = """
query CustomerQuery($id: ID!) {
  node(id: $id) {
    ... on Customer {
      id _id email phone first_name last_name full_name location accepts_marketing notes
      orders { id _id name total refunded currency status created_at(format: "iso") }
      shipping_address { first_name last_name email phone line1 line2 city area state zip country }
      billing_address { line1 city state zip country }
    }
  }
}"""

CREATE = """
mutation mutationName($node: InputCustomer!) {
  createCustomer(node: $node) { id _id email first_name last_name phone accepts_marketing notes }
}"""

DELETE = """
mutation deleteCustomerMutation($id: ID!) {
  deleteCustomer(id: $id)
}"""


def customer_id(number: int) -> str:
    return base64.b64encode(f"Customer:{number}".encode()).decode()


def call(api: Api, tenant: Tenant, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return api.graphql(query, variables, token=tenant.token, path=PATH)


def test_every_customer_field_answers_real_data(api: Api, db: Database, tenant: Tenant) -> None:
    made = make_contact(
        db,
        tenant,
        email="lf@example.com",
        first_name="Lena",
        last_name="Fox",
        phone="+15550123",
        notes="VIP",
        accepts_marketing=True,
        address_line1="1 Main St",
        address_line2="Apt 2",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="US",
    )
    order = record(db, tenant, "42.50", customer=made.customer.uuid, external_id="#1001")

    body = call(api, tenant, CUSTOMER_QUERY, {"id": customer_id(made.customer.number)})

    assert "errors" not in body, body
    node = body["data"]["node"]
    assert node["email"] == "lf@example.com"
    assert node["phone"] == "+15550123"
    assert (node["first_name"], node["last_name"], node["full_name"]) == ("Lena", "Fox", "Lena Fox")
    assert node["location"] == "Springfield, IL, US"
    assert node["accepts_marketing"] is True
    assert node["notes"] == "VIP"
    [listed] = node["orders"]
    assert listed["id"] == base64.b64encode(f"Order:{order.number}".encode()).decode()
    assert listed["_id"] == order.number
    assert listed["name"] == "#1001"
    assert listed["total"] == Decimal("42.50")
    assert listed["refunded"] == 0
    assert listed["currency"] == "USD"
    assert listed["status"] == "COMPLETED"
    assert listed["created_at"].startswith(str(order.created_at.year))
    assert node["shipping_address"] == {
        "first_name": "Lena",
        "last_name": "Fox",
        "email": "lf@example.com",
        "phone": "+15550123",
        "line1": "1 Main St",
        "line2": "Apt 2",
        "city": "Springfield",
        "area": None,
        "state": "IL",
        "zip": "62701",
        "country": "US",
    }
    assert node["billing_address"] == {
        "line1": "1 Main St",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "US",
    }


def test_a_customer_without_address_or_orders(api: Api, tenant: Tenant) -> None:
    created = call(api, tenant, CREATE, {"node": {"email": "bare@example.com", "first_name": "B"}})
    number = created["data"]["createCustomer"]["_id"]

    node = call(api, tenant, CUSTOMER_QUERY, {"id": customer_id(number)})["data"]["node"]

    assert node["orders"] == []
    assert node["shipping_address"] is None
    assert node["billing_address"] is None


def test_delete_customer_without_history_deletes_it(api: Api, db: Database, tenant: Tenant) -> None:
    created = call(api, tenant, CREATE, {"node": {"email": "gone@example.com"}})
    number = created["data"]["createCustomer"]["_id"]

    deleted = call(api, tenant, DELETE, {"id": customer_id(number)})

    assert deleted == {"data": {"deleteCustomer": True}}
    node = call(api, tenant, CUSTOMER_QUERY, {"id": customer_id(number)})
    assert node == {"data": {"node": None}}
    again = call(api, tenant, DELETE, {"id": customer_id(number)})
    assert again["data"] is None
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_delete_customer_with_ledger_history_erases_it_for_an_admin_only(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = make_contact(db, tenant, name="Kept Books")
    fund(db, tenant, made.wallet_uuid, "5.00")
    writer = tenant.with_scope(db, "write")
    rows = account_rows(db, tenant.uuid)
    entries = entry_rows(db, tenant.uuid)

    refused = call(api, writer, DELETE, {"id": customer_id(made.customer.number)})
    unchanged = account_rows(db, tenant.uuid)
    erased = call(api, tenant, DELETE, {"id": customer_id(made.customer.number)})

    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "erases" in error["message"]
    assert unchanged == rows
    assert erased == {"data": {"deleteCustomer": True}}
    node = call(api, tenant, CUSTOMER_QUERY, {"id": customer_id(made.customer.number)})
    assert node == {"data": {"node": None}}
    assert entry_rows(db, tenant.uuid) == entries  # the books stay


def test_delete_customer_of_another_account_is_not_found(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = make_contact(db, tenant)
    rows = account_rows(db, tenant.uuid)

    refused = call(api, other_tenant, DELETE, {"id": customer_id(made.customer.number)})

    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert account_rows(db, tenant.uuid) == rows


def test_delete_customer_needs_a_write_token(api: Api, db: Database, tenant: Tenant) -> None:
    made = make_contact(db, tenant)
    reader = tenant.with_scope(db, "read")
    rows = account_rows(db, tenant.uuid)

    refused = call(api, reader, DELETE, {"id": customer_id(made.customer.number)})

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert account_rows(db, tenant.uuid) == rows
