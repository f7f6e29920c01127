"""Relay on the native API: every Node found again by its global id (only in its own account),
and contacts and credit entries paged by cursor without repeats or gaps."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from patron.core.db import Database
from tests.support.client import Api
from tests.support.orders import make_promotion, record
from tests.support.tenants import Tenant, fund, make_contact

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Contact { uuid email }
    ... on Wallet { uuid globalCreditBalance }
    ... on CreditEntry { uuid amount }
    ... on RedemptionCode { uuid code }
    ... on Order { uuid total }
    ... on Promotion { uuid name }
  }
}"""
IDS = """
{ account {
    contacts(limit: 1) { id uuid wallet { id uuid creditEntries(limit: 1) { id uuid } } }
    redemptionCodes(limit: 1) { id uuid }
    orders(limit: 1) { id uuid }
    promotions(limit: 1) { id uuid }
} }"""
CREATE_CODE = """
mutation($r: CreateRedemptionInput!) { createRedemption(redemption: $r) { success } }"""
CONTACTS = """
query($first: Int, $after: String, $search: String) {
  account { contactsConnection(first: $first, after: $after, search: $search) {
    edges { cursor node { uuid email wallet { uuid } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }
}"""
ENTRIES = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Wallet { creditEntriesConnection(first: $first, after: $after) {
    edges { cursor node { uuid amount } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  } } }
}"""


def global_id(kind: str, uuid: str) -> str:
    return base64.b64encode(f"{kind}:{uuid}".encode()).decode()


def one_of_each(api: Api, db: Database, tenant: Tenant) -> dict[str, Any]:
    contact = make_contact(db, tenant, email="node@example.com")
    fund(db, tenant, contact.wallet_uuid, "12.50")
    created = api.data(
        CREATE_CODE,
        {"r": {"walletUuid": contact.wallet_uuid, "creditType": "GLOBAL", "rewardValue": 2}},
        token=tenant.token,
    )
    assert created["createRedemption"]["success"] is True
    record(db, tenant, "30.00", customer=contact.customer.uuid)
    make_promotion(db, tenant, name="Double points")
    return api.data(IDS, token=tenant.token)["account"]


def node(api: Api, tenant: Tenant, id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = api.data(NODE, {"id": id}, token=tenant.token)["node"]
    return found


def test_every_node_is_found_again_by_its_global_id(api: Api, db: Database, tenant: Tenant) -> None:
    account = one_of_each(api, db, tenant)
    [contact] = account["contacts"]
    [entry] = contact["wallet"]["creditEntries"]
    objects = {
        "Contact": contact,
        "Wallet": contact["wallet"],
        "CreditEntry": entry,
        "RedemptionCode": account["redemptionCodes"][0],
        "Order": account["orders"][0],
        "Promotion": account["promotions"][0],
    }

    for kind, listed in objects.items():
        assert listed["id"] == global_id(kind, listed["uuid"])
        found = node(api, tenant, listed["id"])
        assert found is not None, kind
        assert found["__typename"] == kind
        assert (found["id"], found["uuid"]) == (listed["id"], listed["uuid"])
    found_contact = node(api, tenant, contact["id"])
    found_wallet = node(api, tenant, contact["wallet"]["id"])
    assert found_contact is not None
    assert found_contact["email"] == "node@example.com"
    assert found_wallet is not None
    assert found_wallet["globalCreditBalance"] == Decimal("10.50")  # 12.50 less the 2 on hold


def test_another_accounts_ids_and_unknown_ids_find_nothing(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    account = one_of_each(api, db, tenant)
    [contact] = account["contacts"]
    theirs = [
        contact["id"],
        contact["wallet"]["id"],
        contact["wallet"]["creditEntries"][0]["id"],
        account["redemptionCodes"][0]["id"],
        account["orders"][0]["id"],
        account["promotions"][0]["id"],
    ]

    assert [node(api, other_tenant, id) for id in theirs] == [None] * 6
    assert node(api, tenant, global_id("Contact", "7b0c0e55-0000-4000-8000-000000000000")) is None
    assert node(api, tenant, global_id("Order", "not-a-uuid")) is None
    listed = api.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
        {"ids": [theirs[4], global_id("Wallet", "nope"), theirs[0]]},
        token=tenant.token,
    )["nodes"]
    assert listed == [
        {"__typename": "Order", "id": theirs[4]},
        None,
        {"__typename": "Contact", "id": theirs[0]},
    ]


@pytest.mark.parametrize(
    "bad",
    ["", "not base64!", base64.b64encode(b"Customer:1").decode(), global_id("Contact", "")],
)
def test_a_malformed_global_id_is_a_clear_error(api: Api, tenant: Tenant, bad: str) -> None:
    body = api.graphql(NODE, {"id": bad}, token=tenant.token)

    assert body["data"] == {"node": None}
    [error] = body["errors"]
    assert error["message"] == f"id '{bad}' is not a Patron global id"
    assert error["extensions"] == {"code": "INVALID", "field": "id"}


def test_too_many_ids_at_once_are_refused(api: Api, tenant: Tenant) -> None:
    ids = [global_id("Contact", "7b0c0e55-0000-4000-8000-000000000000")] * 101
    body = api.graphql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}, token=tenant.token
    )

    assert body["errors"][0]["message"] == "at most 100 ids at once, got 101"


def test_contacts_page_by_cursor_newest_first_without_repeats(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = [make_contact(db, tenant, email=f"page{i}@example.com").customer.uuid for i in range(5)]

    def page(after: str | None) -> dict[str, Any]:
        found: dict[str, Any] = api.data(
            CONTACTS, {"first": 2, "after": after}, token=tenant.token
        )["account"]["contactsConnection"]
        return found

    first = page(None)
    make_contact(db, tenant, email="late@example.com")  # newer: never shows up further on
    second = page(first["pageInfo"]["endCursor"])
    third = page(second["pageInfo"]["endCursor"])

    seen = [edge["node"]["uuid"] for p in (first, second, third) for edge in p["edges"]]
    assert seen == list(reversed(made))
    assert [p["pageInfo"]["hasNextPage"] for p in (first, second, third)] == [True, True, False]
    assert [p["pageInfo"]["hasPreviousPage"] for p in (first, second, third)] == [False, True, True]
    assert third["pageInfo"]["endCursor"] == third["edges"][-1]["cursor"]
    assert all(edge["node"]["wallet"]["uuid"] for edge in first["edges"])


def test_contacts_connection_searches_words(api: Api, db: Database, tenant: Tenant) -> None:
    wanted = make_contact(db, tenant, email="findme@example.com", first_name="Ada").customer.uuid
    make_contact(db, tenant, email="other@example.com")

    found = api.data(CONTACTS, {"search": "FINDME"}, token=tenant.token)["account"][
        "contactsConnection"
    ]

    assert [edge["node"]["uuid"] for edge in found["edges"]] == [wanted]
    assert found["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "message", "field"),
    [
        ({"first": 0}, "first must be between 1 and 250, got 0", "first"),
        ({"first": 251}, "first must be between 1 and 250, got 251", "first"),
        ({"after": "garbage"}, "after 'garbage' is not a cursor of this list", "after"),
        (
            {"after": base64.urlsafe_b64encode(b'["yesterday", 3]').decode()},
            "after does not belong to a list ordered by created_at",
            "after",
        ),
    ],
)
def test_a_bad_page_request_is_a_clear_error(
    api: Api, tenant: Tenant, variables: dict[str, Any], message: str, field: str
) -> None:
    body = api.graphql(CONTACTS, variables, token=tenant.token)

    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (message, {"code": "INVALID", "field": field})
    ]


def test_a_wallets_entries_page_by_cursor(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    for amount in ("1", "2", "3", "4", "5"):
        fund(db, tenant, contact.wallet_uuid, amount)
    wallet_id = global_id("Wallet", contact.wallet_uuid)

    def page(after: str | None) -> dict[str, Any]:
        found: dict[str, Any] = api.data(
            ENTRIES, {"id": wallet_id, "first": 2, "after": after}, token=tenant.token
        )["node"]["creditEntriesConnection"]
        return found

    first = page(None)
    second = page(first["pageInfo"]["endCursor"])
    third = page(second["pageInfo"]["endCursor"])

    amounts = [edge["node"]["amount"] for p in (first, second, third) for edge in p["edges"]]
    assert amounts == [5, 4, 3, 2, 1]
    assert [p["pageInfo"]["hasNextPage"] for p in (first, second, third)] == [True, True, False]
    bad = api.graphql(ENTRIES, {"id": wallet_id, "after": "x"}, token=tenant.token)
    assert bad["errors"][0]["message"] == "after 'x' is not a cursor of this list"
