"""A LoyaltyDish client (seed 002) written against its published API moves unchanged.

Purchase history filtered by duration (``completedAt_Gte`` / ``completedAt_Lte``, graphene's
names), the root ``node(id:)`` for every relay id the API hands out, and ``pointsEarned`` as
points earned (``pointsBalance`` what is left to spend). Typed variables with the vendor's
type names (``ID!``, ``DateTime``)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from patron.core.db import Database
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from tests.support.client import Api
from tests.support.holds import make_code
from tests.support.loyaltydish import LoyaltyDish, sign_up
from tests.support.orders import make_store, record
from tests.support.tenants import Tenant, fund, make_contact

PURCHASE_HISTORY = """
query ($id: ID!, $storeId: ID, $from: DateTime, $to: DateTime) {
  purchaseHistory: orders(consumer_Id: $id, store_Id: $storeId, completedAt_Gte: $from,
                          completedAt_Lte: $to) {
    totalCount
    edges { node { id orderId completedAt total } }
  }
}"""

NODE = """
query ($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on IUserNode { pk email pointsEarned pointsBalance }
    ... on OrderNode { orderId total store { id name } }
    ... on RedemptionNode { code amount creditType }
    ... on StoreNode { name externalId }
  }
}"""


@pytest.fixture
def ld(api: Api) -> LoyaltyDish:
    return LoyaltyDish(api)


def user_id(number: int) -> str:
    return base64.b64encode(f"IUserNode:{number}".encode()).decode()


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, 0, tzinfo=UTC)


def test_purchase_history_filtered_by_duration(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = make_contact(db, tenant)
    for day in (1, 10, 20):
        record(
            db,
            tenant,
            f"{day}.00",
            customer=consumer.customer.uuid,
            external_id=f"D{day}",
            completed_at=at(day),
        )
    record(db, tenant, "5.00", customer=consumer.customer.uuid, external_id="P", status="PENDING")
    wanted = user_id(consumer.customer.number)

    def order_ids(**window: str) -> tuple[int, list[str]]:
        data = ld.data(PURCHASE_HISTORY, {"id": wanted, **window}, token=tenant.token)
        found = data["purchaseHistory"]
        return found["totalCount"], [edge["node"]["orderId"] for edge in found["edges"]]

    assert order_ids() == (4, ["P", "D20", "D10", "D1"])
    assert order_ids(**{"from": "2026-03-10T12:00:00+00:00"}) == (2, ["D20", "D10"])
    assert order_ids(to="2026-03-10T12:00:00Z") == (2, ["D10", "D1"])
    assert order_ids(**{"from": "2026-03-02T00:00:00", "to": "2026-03-19T00:00:00"}) == (
        1,
        ["D10"],
    )
    assert order_ids(**{"from": "2026-04-01T00:00:00Z"}) == (0, [])


def test_a_malformed_date_is_a_clear_error(db: Database, ld: LoyaltyDish, tenant: Tenant) -> None:
    consumer = make_contact(db, tenant)

    body = ld.body(
        PURCHASE_HISTORY,
        {"id": user_id(consumer.customer.number), "from": "last tuesday"},
        token=tenant.token,
    )

    assert body["data"] is None
    assert "$from" in body["errors"][0]["message"]


def test_node_finds_every_kind_of_id_the_api_hands_out(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = make_contact(db, tenant, email="node@example.com")
    fund(db, tenant, consumer.wallet_uuid, 40, "LOCAL")
    store = make_store(db, tenant, name="Harbour", external_id="S-1")
    record(db, tenant, "12.50", customer=consumer.customer.uuid, store=store.uuid, external_id="N1")
    make_code(db, tenant, consumer.wallet_uuid, 10, "LOCAL")
    listed = ld.data(
        """query ($id: ID!) { consumer(id: $id) { id redemptions { edges { node { id } } } }
           orders(consumer_Id: $id) { edges { node { id store { id } } } } }""",
        {"id": user_id(consumer.customer.number)},
        token=tenant.token,
    )
    order = listed["orders"]["edges"][0]["node"]
    code_id = listed["consumer"]["redemptions"]["edges"][0]["node"]["id"]

    def node(id: str) -> dict[str, object] | None:
        found: dict[str, object] | None = ld.data(NODE, {"id": id}, token=tenant.token)["node"]
        return found

    assert node(listed["consumer"]["id"]) == {
        "__typename": "IUserNode",
        "id": listed["consumer"]["id"],
        "pk": consumer.customer.number,
        "email": "node@example.com",
        "pointsEarned": 40,
        "pointsBalance": 30,
    }
    assert node(order["id"]) == {
        "__typename": "OrderNode",
        "id": order["id"],
        "orderId": "N1",
        "total": "12.50",
        "store": {"id": order["store"]["id"], "name": "Harbour"},
    }
    found_code = node(code_id)
    assert found_code is not None
    assert found_code["__typename"] == "RedemptionNode"
    assert found_code["creditType"] == "LOCAL"
    assert node(order["store"]["id"]) == {
        "__typename": "StoreNode",
        "id": order["store"]["id"],
        "name": "Harbour",
        "externalId": "S-1",
    }
    nothing = base64.b64encode(b"OrderNode:00000000-0000-4000-8000-000000000000").decode()
    assert node(nothing) is None


def test_node_refuses_an_id_of_no_kind_it_knows(ld: LoyaltyDish, tenant: Tenant) -> None:
    body = ld.body(NODE, {"id": base64.b64encode(b"Wallet:1").decode()}, token=tenant.token)

    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["field"] == "id"


def test_a_consumer_token_finds_its_own_nodes_only(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    me = sign_up(db, tenant)
    other = make_contact(db, tenant)
    record(db, tenant, "3.00", customer=me.uuid, external_id="MINE")
    record(db, tenant, "4.00", customer=other.customer.uuid, external_id="THEIRS")
    ids = {}
    for number, key in ((me.number, "mine"), (other.customer.number, "theirs")):
        data = ld.data(
            "query ($id: ID!) { orders(consumer_Id: $id) { edges { node { id } } } }",
            {"id": user_id(number)},
            token=tenant.token,
        )
        ids[key] = data["orders"]["edges"][0]["node"]["id"]

    mine = ld.data(NODE, {"id": ids["mine"]}, token=me.token)["node"]
    theirs = ld.data(NODE, {"id": ids["theirs"]}, token=me.token)["node"]
    other_user = ld.data(NODE, {"id": user_id(other.customer.number)}, token=me.token)["node"]

    assert mine is not None
    assert mine["orderId"] == "MINE"
    assert theirs is None
    assert other_user is None


def test_points_earned_counts_what_was_earned_and_balance_what_is_left(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = make_contact(db, tenant)
    granted = fund(db, tenant, consumer.wallet_uuid, 100, "LOCAL")
    fund(db, tenant, consumer.wallet_uuid, 50, "LOCAL")
    wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=consumer.wallet_uuid,
            action="SPEND",
            credit_type="LOCAL",
            amount=Decimal(60),
        ),
    )
    wallets.reverse_entry(db, tenant.principal, granted.uuid, amount=Decimal(20))
    make_code(db, tenant, consumer.wallet_uuid, 5, "LOCAL")

    query = """query ($id: ID!) { consumer(id: $id) { pointsEarned pointsBalance } }"""
    data = ld.data(query, {"id": user_id(consumer.customer.number)}, token=tenant.token)

    # Earned: 100 + 50 - 20 taken back; spending does not lower it. Left: 130 - 60 - 5 held.
    assert data["consumer"] == {"pointsEarned": 130, "pointsBalance": 65}
    page = ld.data(
        "{ consumers { edges { node { pk pointsEarned pointsBalance } } } }", token=tenant.token
    )
    assert page["consumers"]["edges"] == [
        {"node": {"pk": consumer.customer.number, "pointsEarned": 130, "pointsBalance": 65}}
    ]
