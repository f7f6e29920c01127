"""Orders, stores, the earning rule and promotions on the native API.

Payloads in the seed's style, exact decimals, batched per-contact fields, and the four-caller
test (no token, another account, a token without the scope, the right token) on each new
field and mutation.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.models import RefundCommand
from patron.wallets.verify import verify_ledger
from tests.support.client import Api
from tests.support.orders import make_promotion, make_store, record, snapshot
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

SET_EARNING_RULE = """mutation SetEarningRule($rule: EarningRuleInput!) {
  setEarningRule(rule: $rule) {
    success pointsPerCurrencyUnit errors userErrors { field code message }
  }
}"""

CREATE_STORE = """mutation CreateStore($store: StoreInput!) {
  createStore(store: $store) {
    success errors userErrors { field code message }
    store { uuid number name externalId pointsMultiplier }
  }
}"""

RECORD_ORDER = """mutation RecordOrder($order: RecordOrderInput!) {
  recordOrder(order: $order) {
    success errors userErrors { field code message }
    order {
      uuid number externalId storeUuid contactUuid total currency paymentType orderType
      status completedAt refunded pointsEarned pointsClawedBack clawbackShortfall
      creditUsed creditReturned lines
    }
  }
}"""

REFUND_ORDER = """mutation RefundOrder($refund: RefundOrderInput!) {
  refundOrder(refund: $refund) {
    success errors userErrors { field code message }
    refund { externalId amount pointsClawedBack clawbackShortfall creditReturned }
    order { uuid refunded pointsClawedBack clawbackShortfall creditReturned }
  }
}"""

CREATE_PROMOTION = """mutation CreatePromotion($promotion: PromotionInput!) {
  createPromotion(promotion: $promotion) {
    success errors userErrors { field code message }
    promotion {
      uuid name description active startsAt endsAt allStores storeUuids audience
      audienceValue reward rewardValue rewardCreditType
    }
  }
}"""

UPDATE_PROMOTION = """mutation UpdatePromotion($uuid: String!, $promotion: UpdatePromotionInput!) {
  updatePromotion(uuid: $uuid, promotion: $promotion) {
    success errors userErrors { field code message }
    promotion { uuid name active audience audienceValue storeUuids allStores }
  }
}"""

ACCOUNT_LISTS = """query {
  account {
    earningRule
    stores { uuid name }
    orders(limit: 10) { uuid externalId total refunds { externalId amount } }
    promotions { uuid name }
  }
}"""

CONTACT_ORDERS = """query ContactOrders($limit: Int, $storeUuid: String) {
  account {
    contacts(limit: $limit) {
      uuid
      ordersCount
      expenses
      orders(limit: 5, storeUuid: $storeUuid) {
        externalId total status refunds { amount pointsClawedBack }
      }
      availablePromotions(storeUuid: $storeUuid) { name }
    }
  }
}"""


def _ok(api: Api, query: str, variables: dict[str, Any], token: str, name: str) -> Any:
    payload = api.data(query, variables, token=token)[name]
    assert payload["success"] is True, payload
    assert payload["errors"] == []
    assert payload["userErrors"] == []
    return payload


def _refused(api: Api, query: str, variables: dict[str, Any], token: str, name: str) -> Any:
    payload = api.data(query, variables, token=token)[name]
    assert payload["success"] is False, payload
    assert payload["errors"], payload
    assert len(payload["errors"]) == len(payload["userErrors"])
    return payload["userErrors"][0]


def test_an_order_earns_points_and_a_refund_gives_back_in_proportion(
    api: Api, db: Database, tenant: Tenant
) -> None:
    rule = _ok(
        api,
        SET_EARNING_RULE,
        {"rule": {"pointsPerCurrencyUnit": "1.5"}},
        tenant.token,
        "setEarningRule",
    )
    store = _ok(
        api,
        CREATE_STORE,
        {"store": {"name": "Flagship", "externalId": "S-1", "pointsMultiplier": 2}},
        tenant.token,
        "createStore",
    )["store"]
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "20.00")

    order = _ok(
        api,
        RECORD_ORDER,
        {
            "order": {
                "externalId": "1001",
                "total": 40.10,
                "currency": "USD",
                "contactUuid": contact.customer.uuid,
                "storeUuid": store["uuid"],
                "paymentType": "Card",
                "orderType": "Dine in",
                "completedAt": "2026-03-01T14:30:00+02:00",
                "lines": [{"sku": "TEA", "quantity": 2}],
                "creditUsed": "10.00",
            }
        },
        tenant.token,
        "recordOrder",
    )["order"]
    refund = _ok(
        api,
        REFUND_ORDER,
        {"refund": {"orderUuid": order["uuid"], "externalId": "R-1", "amount": 10.01}},
        tenant.token,
        "refundOrder",
    )

    assert rule["pointsPerCurrencyUnit"] == Decimal("1.5")
    assert store["number"] == 1
    assert store["pointsMultiplier"] == Decimal(2)
    assert {key: order[key] for key in order if key != "uuid"} == {
        "number": 1,
        "externalId": "1001",
        "storeUuid": store["uuid"],
        "contactUuid": contact.customer.uuid,
        "total": Decimal("40.10"),
        "currency": "USD",
        "paymentType": "Card",
        "orderType": "Dine in",
        "status": "COMPLETED",
        "completedAt": "2026-03-01T12:30:00+00:00",
        "refunded": Decimal("0.00"),
        "pointsEarned": 120,  # 40.10 × 1.5 × 2 = 120.3
        "pointsClawedBack": 0,
        "clawbackShortfall": 0,
        "creditUsed": Decimal("10.00"),
        "creditReturned": Decimal("0.00"),
        "lines": [{"sku": "TEA", "quantity": 2}],
    }
    # 10.01 of 40.10: floor(120 × 1001 / 4010) = 29 points, floor(1000 × 1001 / 4010) = 2.49
    assert refund["refund"] == {
        "externalId": "R-1",
        "amount": Decimal("10.01"),
        "pointsClawedBack": 29,
        "clawbackShortfall": 0,
        "creditReturned": Decimal("2.49"),
    }
    assert refund["order"] == {
        "uuid": order["uuid"],
        "refunded": Decimal("10.01"),
        "pointsClawedBack": 29,
        "clawbackShortfall": 0,
        "creditReturned": Decimal("2.49"),
    }
    assert verify_ledger(db).ok


def test_replays_return_the_first_answer(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    variables = {
        "order": {
            "externalId": "A-9",
            "total": "12.00",
            "currency": "USD",
            "contactUuid": contact.customer.uuid,
        }
    }
    first = _ok(api, RECORD_ORDER, variables, tenant.token, "recordOrder")["order"]
    refund = {"refund": {"orderUuid": first["uuid"], "externalId": "R", "amount": "2"}}
    _ok(api, REFUND_ORDER, refund, tenant.token, "refundOrder")
    before = snapshot(db, tenant.uuid)

    again = _ok(api, RECORD_ORDER, variables, tenant.token, "recordOrder")["order"]
    refund_again = _ok(api, REFUND_ORDER, refund, tenant.token, "refundOrder")

    assert again["uuid"] == first["uuid"]
    assert again["refunded"] == Decimal("2.00")
    assert refund_again["refund"]["amount"] == Decimal("2.00")
    assert snapshot(db, tenant.uuid) == before


@pytest.mark.parametrize(
    ("order", "field", "code"),
    [
        ({"currency": "EUR"}, "currency", "CURRENCY_MISMATCH"),
        ({"total": -5}, "total", "INVALID"),
        ({"total": "1.234"}, "total", "INVALID"),
        ({"total": "1e16"}, "total", "INVALID"),
        ({"creditUsed": 100}, "creditUsed", "INVALID"),
        ({"creditUsed": 5}, "amount", "INSUFFICIENT_CREDIT"),
        ({"contactUuid": "nope"}, "contactUuid", "NOT_FOUND"),
        ({"storeUuid": "nope"}, "storeUuid", "NOT_FOUND"),
        ({"lines": {"not": "a list"}}, "lines", "INVALID"),
        ({"paymentType": "x" * 31}, "paymentType", "INVALID"),
    ],
)
def test_bad_orders_are_user_errors_and_change_nothing(
    api: Api, db: Database, tenant: Tenant, order: dict[str, Any], field: str, code: str
) -> None:
    contact = make_contact(db, tenant)
    given = {"externalId": "B-1", "total": "10", "currency": "USD"}
    given["contactUuid"] = contact.customer.uuid
    before = snapshot(db, tenant.uuid)

    error = _refused(api, RECORD_ORDER, {"order": {**given, **order}}, tenant.token, "recordOrder")

    assert (error["field"], error["code"]) == (field, code)
    assert snapshot(db, tenant.uuid) == before


def test_refunding_more_than_was_paid_is_a_user_error(
    api: Api, db: Database, tenant: Tenant
) -> None:
    order = record(db, tenant, "10.00")
    before = snapshot(db, tenant.uuid)

    error = _refused(
        api,
        REFUND_ORDER,
        {"refund": {"orderUuid": order.uuid, "externalId": "R-1", "amount": "10.01"}},
        tenant.token,
        "refundOrder",
    )

    assert error["code"] == "REFUND_EXCEEDS_PAID"
    assert error["field"] == "amount"
    assert "10.00" in error["message"]
    assert snapshot(db, tenant.uuid) == before


def test_an_unknown_status_is_a_validation_error_not_a_crash(api: Api, tenant: Tenant) -> None:
    body = api.graphql(
        RECORD_ORDER,
        {"order": {"externalId": "E", "total": 1, "currency": "USD", "status": "SHIPPED"}},
        token=tenant.token,
    )

    assert body["data"] is None
    assert "SHIPPED" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_promotion_is_created_and_updated(api: Api, db: Database, tenant: Tenant) -> None:
    store = make_store(db, tenant)
    created = _ok(
        api,
        CREATE_PROMOTION,
        {
            "promotion": {
                "name": "Spring",
                "description": "Ten dollars back",
                "startsAt": "2026-03-01T00:00:00+00:00",
                "endsAt": "2099-06-01T00:00:00+00:00",
                "storeUuids": [store.uuid],
                "audience": "MIN_POINTS",
                "audienceValue": 250,
                "reward": "FIXED_CREDIT",
                "rewardValue": "10.00",
                "rewardCreditType": "GLOBAL",
            }
        },
        tenant.token,
        "createPromotion",
    )["promotion"]
    updated = _ok(
        api,
        UPDATE_PROMOTION,
        {
            "uuid": created["uuid"],
            "promotion": {"active": False, "storeUuids": None, "audience": "BIRTHDAY_MONTH"},
        },
        tenant.token,
        "updatePromotion",
    )["promotion"]
    null_name = _refused(
        api,
        UPDATE_PROMOTION,
        {"uuid": created["uuid"], "promotion": {"name": None}},
        tenant.token,
        "updatePromotion",
    )

    assert {key: created[key] for key in created if key != "uuid"} == {
        "name": "Spring",
        "description": "Ten dollars back",
        "active": True,
        "startsAt": "2026-03-01T00:00:00+00:00",
        "endsAt": "2099-06-01T00:00:00+00:00",
        "allStores": False,
        "storeUuids": [store.uuid],
        "audience": "MIN_POINTS",
        "audienceValue": 250,
        "reward": "FIXED_CREDIT",
        "rewardValue": Decimal("10.00"),
        "rewardCreditType": "GLOBAL",
    }
    assert updated == {
        "uuid": created["uuid"],
        "name": "Spring",
        "active": False,
        "audience": "BIRTHDAY_MONTH",
        "audienceValue": None,
        "storeUuids": [],
        "allStores": True,
    }
    assert (null_name["field"], null_name["code"]) == ("name", "INVALID")


def test_a_promotion_ending_in_the_past_is_refused(api: Api, db: Database, tenant: Tenant) -> None:
    before = snapshot(db, tenant.uuid)

    error = _refused(
        api,
        CREATE_PROMOTION,
        {
            "promotion": {
                "name": "Over",
                "endsAt": "2020-01-01T00:00:00Z",
                "reward": "POINTS_MULTIPLIER",
                "rewardValue": 2,
            }
        },
        tenant.token,
        "createPromotion",
    )

    assert (error["field"], error["code"]) == ("endsAt", "INVALID")
    assert snapshot(db, tenant.uuid) == before


def test_contact_fields_show_orders_expenses_and_promotions(
    api: Api, db: Database, tenant: Tenant
) -> None:
    orders.set_earning_rule(db, tenant.principal, "1")
    store = make_store(db, tenant)
    buyer = make_contact(db, tenant, birthday=date(1990, date.today().month, 1)).customer.uuid
    browser = make_contact(db, tenant).customer.uuid
    first = record(db, tenant, "10.00", customer=buyer, store=store.uuid, external_id="O-1")
    record(db, tenant, "5.50", customer=buyer, external_id="O-2")
    record(db, tenant, "7.00", customer=buyer, status="PENDING", external_id="O-3")
    orders.refund_order(
        db,
        tenant.principal,
        RefundCommand(order_uuid=first.uuid, external_id="R-1", amount="2.50"),
    )
    make_promotion(db, tenant, name="Birthday", audience="BIRTHDAY_MONTH")
    make_promotion(db, tenant, name="Regulars", audience="MIN_ORDERS", audience_value=2)
    make_promotion(db, tenant, name="Elsewhere", store_uuids=[make_store(db, tenant).uuid])

    everywhere = api.data(CONTACT_ORDERS, {"limit": 10}, token=tenant.token)
    at_store = api.data(CONTACT_ORDERS, {"limit": 10, "storeUuid": store.uuid}, token=tenant.token)

    by_uuid = {row["uuid"]: row for row in everywhere["account"]["contacts"]}
    assert by_uuid[buyer]["ordersCount"] == 2
    assert by_uuid[buyer]["expenses"] == Decimal("13.00")
    assert [o["externalId"] for o in by_uuid[buyer]["orders"]] == ["O-3", "O-2", "O-1"]
    assert by_uuid[buyer]["orders"][2]["refunds"] == [
        {"amount": Decimal("2.50"), "pointsClawedBack": 2}
    ]
    assert [p["name"] for p in by_uuid[buyer]["availablePromotions"]] == [
        "Birthday",
        "Regulars",
        "Elsewhere",
    ]
    assert by_uuid[browser] == {
        "uuid": browser,
        "ordersCount": 0,
        "expenses": Decimal("0.00"),
        "orders": [],
        "availablePromotions": [{"name": "Elsewhere"}],
    }
    at_store_buyer = next(c for c in at_store["account"]["contacts"] if c["uuid"] == buyer)
    assert [o["externalId"] for o in at_store_buyer["orders"]] == ["O-1"]
    assert [p["name"] for p in at_store_buyer["availablePromotions"]] == ["Birthday", "Regulars"]


def _statements_for(api: Api, server: ThreadServer, token: str, variables: dict[str, Any]) -> int:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    api.data(CONTACT_ORDERS, variables, token=token)  # the token's last-used time settles
    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        api.data(CONTACT_ORDERS, variables, token=token)
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)
    return len(seen)


def _shopper(db: Database, tenant: Tenant, store: str) -> None:
    customer = make_contact(db, tenant).customer.uuid
    placed = record(db, tenant, "3.00", customer=customer, store=store)
    orders.refund_order(
        db,
        tenant.principal,
        RefundCommand(order_uuid=placed.uuid, external_id="R", amount="1"),
    )


def test_contact_order_fields_issue_a_constant_number_of_statements(
    api: Api, db: Database, server: ThreadServer
) -> None:
    tenant = new_tenant(db)
    store = make_store(db, tenant)
    make_promotion(db, tenant, name="Limited", store_uuids=[store.uuid])
    make_promotion(db, tenant, name="Everyone")
    for _ in range(2):
        _shopper(db, tenant, store.uuid)
    variables = {"limit": 100, "storeUuid": store.uuid}
    with_two = _statements_for(api, server, tenant.token, variables)

    for _ in range(8):
        _shopper(db, tenant, store.uuid)
    with_ten = _statements_for(api, server, tenant.token, variables)

    assert with_ten == with_two
    assert with_two <= 9
    data = api.data(CONTACT_ORDERS, variables, token=tenant.token)
    assert len(data["account"]["contacts"]) == 10
    assert all(len(c["orders"][0]["refunds"]) == 1 for c in data["account"]["contacts"])
    assert all(len(c["availablePromotions"]) == 2 for c in data["account"]["contacts"])


# The four callers


def _mutations(tenant: Tenant, db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    """Each new mutation with variables naming the owner's objects."""
    contact = make_contact(db, tenant).customer.uuid
    store = make_store(db, tenant, name="Owner's").uuid
    order = record(db, tenant, "10.00", customer=contact).uuid
    promotion = make_promotion(db, tenant).uuid
    return [
        ("createStore", CREATE_STORE, {"store": {"name": "Intruder"}}),
        (
            "recordOrder",
            RECORD_ORDER,
            {
                "order": {
                    "externalId": "X",
                    "total": 1,
                    "currency": "USD",
                    "contactUuid": contact,
                    "storeUuid": store,
                }
            },
        ),
        (
            "refundOrder",
            REFUND_ORDER,
            {"refund": {"orderUuid": order, "externalId": "X", "amount": 1}},
        ),
        (
            "createPromotion",
            CREATE_PROMOTION,
            {
                "promotion": {
                    "name": "X",
                    "reward": "POINTS_MULTIPLIER",
                    "rewardValue": 3,
                    "storeUuids": [store],
                }
            },
        ),
        ("updatePromotion", UPDATE_PROMOTION, {"uuid": promotion, "promotion": {"name": "X"}}),
        ("setEarningRule", SET_EARNING_RULE, {"rule": {"pointsPerCurrencyUnit": 9}}),
    ]


def test_without_a_token_every_new_field_and_mutation_is_refused(
    api: Api, db: Database, tenant: Tenant
) -> None:
    mutations = _mutations(tenant, db)
    before = snapshot(db, tenant.uuid)

    for _, query, variables in mutations:
        response = api.post("/graphql", {"query": query, "variables": variables})
        assert response.status_code == 401
    for query in (ACCOUNT_LISTS, CONTACT_ORDERS):
        assert api.post("/graphql", {"query": query}).status_code == 401

    assert snapshot(db, tenant.uuid) == before


def test_another_accounts_token_cannot_see_or_change_the_owners_objects(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    mutations = _mutations(tenant, db)
    make_contact(db, other_tenant)
    before = snapshot(db, tenant.uuid)

    answers = {name: api.data(q, v, token=other_tenant.token)[name] for name, q, v in mutations}
    lists = api.data(ACCOUNT_LISTS, token=other_tenant.token)["account"]
    contacts = api.data(CONTACT_ORDERS, {"limit": 10}, token=other_tenant.token)

    assert snapshot(db, tenant.uuid) == before
    for name in ("refundOrder", "updatePromotion"):
        assert answers[name]["success"] is False
        assert answers[name]["userErrors"][0]["code"] == "NOT_FOUND"
    assert answers["recordOrder"]["userErrors"][0]["field"] == "storeUuid"
    assert answers["createPromotion"]["userErrors"][0]["field"] == "storeUuids"
    # What the other account may do, it does in its own account only.
    assert answers["createStore"]["success"] is True
    assert answers["setEarningRule"]["success"] is True
    assert lists["stores"] == [
        {"uuid": answers["createStore"]["store"]["uuid"], "name": "Intruder"}
    ]
    assert lists["orders"] == []
    assert lists["promotions"] == []
    assert lists["earningRule"] == 9
    (theirs,) = contacts["account"]["contacts"]
    assert (theirs["ordersCount"], theirs["orders"], theirs["availablePromotions"]) == (0, [], [])
    with db.read() as connection:
        assert orders.earning_rule(connection, tenant.principal) is None


def test_a_read_token_reads_but_changes_nothing(api: Api, db: Database, tenant: Tenant) -> None:
    mutations = _mutations(tenant, db)
    reader = tenant.with_scope(db, "read")
    writer = tenant.with_scope(db, "write")
    before = snapshot(db, tenant.uuid)

    for name, query, variables in mutations:
        payload = api.data(query, variables, token=reader.token)[name]
        assert payload["success"] is False
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"
    rule = api.data(SET_EARNING_RULE, mutations[-1][2], token=writer.token)["setEarningRule"]
    lists = api.data(ACCOUNT_LISTS, token=reader.token)["account"]
    contacts = api.data(CONTACT_ORDERS, {"limit": 10}, token=reader.token)["account"]["contacts"]

    assert rule["userErrors"][0]["code"] == "FORBIDDEN"
    assert [(c["ordersCount"], c["expenses"]) for c in contacts] == [(1, Decimal("10.00"))]
    assert [p["name"] for p in contacts[0]["availablePromotions"]] == ["Double points"]
    assert snapshot(db, tenant.uuid) == before
    assert [store["name"] for store in lists["stores"]] == ["Owner's"]
    assert len(lists["orders"]) == 1
    assert len(lists["promotions"]) == 1


def test_the_owners_token_runs_every_new_mutation(api: Api, db: Database, tenant: Tenant) -> None:
    for name, query, variables in _mutations(tenant, db):
        _ok(api, query, variables, tenant.token, name)

    lists = api.data(ACCOUNT_LISTS, token=tenant.token)["account"]

    assert lists["earningRule"] == 9
    assert [store["name"] for store in lists["stores"]] == ["Owner's", "Intruder"]
    assert lists["orders"][0]["externalId"] == "X"
    assert lists["orders"][1]["refunds"] == [{"externalId": "X", "amount": Decimal("1.00")}]
    assert {promotion["name"] for promotion in lists["promotions"]} == {"X"}


def test_list_limits_out_of_range_are_errors(api: Api, tenant: Tenant) -> None:
    body = api.graphql("{ account { orders(limit: 251) { uuid } } }", token=tenant.token)

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": "limit"}
