"""Seed 001, verbatim: every query and mutation of "Managing Credit" on POST /graphql.

The query texts below are copied from the seed; only "wallet-uuid-here" in the variables is
replaced with a real wallet's uuid.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from patron.core.db import Database
from tests.support.client import Api
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

# The seed's text, verbatim: its first line stays longer than our line limit.
GET_CONTACT_CREDIT_ENTRIES = """query GetContactCreditEntries($uuid: String, $limit: Int, $offset: Int) {
account {
contacts(uuid: $uuid) {
uuid
email
wallet {
uuid
globalCreditBalance
localCreditBalance
creditEntries(limit: $limit, offset: $offset) {
uuid
action
creditType
amount
createdAt
}
}
}
}
}"""  # noqa: E501

GET_ALL_CREDIT_ENTRIES = """query GetAllCreditEntries($contactLimit: Int, $entryLimit: Int) {
account {
contacts(limit: $contactLimit) {
uuid
email
wallet {
globalCreditBalance
localCreditBalance
creditEntries(limit: $entryLimit) {
uuid
action
creditType
amount
createdAt
}
}
}
}
}"""

GET_CREDIT_BALANCES = """query GetCreditBalances {
account {
contacts {
uuid
email
wallet {
globalCreditBalance
localCreditBalance
shopifyCreditBalance
}
}
}
}"""

ADD_CREDIT_ENTRY = """mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) {
addCreditEntry(creditEntry: $creditEntry) {
success
creditEntry {
uuid
action
creditType
amount
}
errors
}
}"""

CONVERT_CREDIT = """mutation ConvertCredit($credit: ConvertCreditInput!) {
convertCredit(credit: $credit) {
success
creditEntry {
uuid
action
creditType
amount
}
errors
}
}"""


def _entry_variables(
    action: str, credit_type: str, amount: Any, wallet_uuid: str
) -> dict[str, Any]:
    return {
        "creditEntry": {
            "action": action,
            "creditType": credit_type,
            "amount": amount,
            "walletUuid": wallet_uuid,
        }
    }


def _balances(api: Api, tenant: Tenant, contact_uuid: str) -> tuple[Decimal, Decimal]:
    data = api.data(GET_CONTACT_CREDIT_ENTRIES, {"uuid": contact_uuid}, token=tenant.token)
    wallet = data["account"]["contacts"][0]["wallet"]
    return wallet["globalCreditBalance"], wallet["localCreditBalance"]


def test_add_global_credit_with_the_seeds_variables(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)

    response = api.post(
        "/graphql",
        {
            "query": ADD_CREDIT_ENTRY,
            "variables": _entry_variables("ADD", "GLOBAL", 25.00, contact.wallet_uuid),
        },
        token=tenant.token,
    )

    assert response.status_code == 200
    assert '"amount":25.00' in response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert "errors" not in body
    result = body["data"]["addCreditEntry"]
    assert result["success"] is True
    assert result["errors"] == []
    assert result["creditEntry"]["action"] == "ADD"
    assert result["creditEntry"]["creditType"] == "GLOBAL"
    assert result["creditEntry"]["amount"] == Decimal("25.00")
    assert len(result["creditEntry"]["uuid"]) == 36
    assert _balances(api, tenant, contact.customer.uuid) == (Decimal("25.00"), Decimal(0))


def test_add_local_credit_points_with_the_seeds_variables(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)

    data = api.data(
        ADD_CREDIT_ENTRY,
        _entry_variables("ADD", "LOCAL", 500, contact.wallet_uuid),
        token=tenant.token,
    )

    result = data["addCreditEntry"]
    assert result["success"] is True
    assert result["errors"] == []
    assert result["creditEntry"]["action"] == "ADD"
    assert result["creditEntry"]["creditType"] == "LOCAL"
    assert result["creditEntry"]["amount"] == 500
    assert _balances(api, tenant, contact.customer.uuid) == (Decimal("0.00"), Decimal(500))


def test_remove_global_credit_with_the_seeds_variables(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "25.00")

    data = api.data(
        ADD_CREDIT_ENTRY,
        _entry_variables("REMOVE", "GLOBAL", 10.00, contact.wallet_uuid),
        token=tenant.token,
    )

    result = data["addCreditEntry"]
    assert result["success"] is True
    assert result["errors"] == []
    assert result["creditEntry"]["action"] == "REMOVE"
    assert result["creditEntry"]["creditType"] == "GLOBAL"
    assert result["creditEntry"]["amount"] == Decimal("10.00")
    assert _balances(api, tenant, contact.customer.uuid) == (Decimal("15.00"), Decimal(0))


def test_spend_credit(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "25.00")
    fund(db, tenant, contact.wallet_uuid, 500, "LOCAL")

    spent_money = api.data(
        ADD_CREDIT_ENTRY,
        _entry_variables("SPEND", "GLOBAL", 7.25, contact.wallet_uuid),
        token=tenant.token,
    )["addCreditEntry"]
    spent_points = api.data(
        ADD_CREDIT_ENTRY,
        _entry_variables("SPEND", "LOCAL", 120, contact.wallet_uuid),
        token=tenant.token,
    )["addCreditEntry"]

    assert spent_money["success"] is True
    assert spent_money["errors"] == []
    assert spent_money["creditEntry"]["action"] == "SPEND"
    assert spent_money["creditEntry"]["amount"] == Decimal("7.25")
    assert spent_points["creditEntry"]["action"] == "SPEND"
    assert spent_points["creditEntry"]["creditType"] == "LOCAL"
    assert spent_points["creditEntry"]["amount"] == 120
    assert _balances(api, tenant, contact.customer.uuid) == (Decimal("17.75"), Decimal(380))


def test_convert_credit_with_the_seeds_variables(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, 500, "LOCAL")
    variables = {
        "credit": {
            "walletUuid": contact.wallet_uuid,
            "amount": 100,
            "conversionRate": 0.01,
            "from": "LOCAL",
            "to": "GLOBAL",
        }
    }

    response = api.post(
        "/graphql", {"query": CONVERT_CREDIT, "variables": variables}, token=tenant.token
    )

    assert response.status_code == 200
    assert '"amount":1.00' in response.text
    result = response.json()["data"]["convertCredit"]
    assert result["success"] is True
    assert result["errors"] == []
    assert result["creditEntry"]["action"] == "ADD"
    assert result["creditEntry"]["creditType"] == "GLOBAL"
    assert _balances(api, tenant, contact.customer.uuid) == (Decimal("1.00"), Decimal(400))
    entries = api.data(
        GET_CONTACT_CREDIT_ENTRIES, {"uuid": contact.customer.uuid}, token=tenant.token
    )["account"]["contacts"][0]["wallet"]["creditEntries"]
    assert entries[0]["uuid"] == result["creditEntry"]["uuid"]
    assert [(e["action"], e["creditType"], e["amount"]) for e in entries] == [
        ("ADD", "GLOBAL", Decimal("1.00")),
        ("REMOVE", "LOCAL", 100),
        ("ADD", "LOCAL", 500),
    ]


def test_get_contact_credit_entries_pages_newest_first(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant, email="reader@example.com")
    made = [fund(db, tenant, contact.wallet_uuid, f"{n}.00") for n in (1, 2, 3, 4)]

    data = api.data(
        GET_CONTACT_CREDIT_ENTRIES,
        {"uuid": contact.customer.uuid, "limit": 2, "offset": 1},
        token=tenant.token,
    )

    contacts = data["account"]["contacts"]
    assert [(c["uuid"], c["email"]) for c in contacts] == [
        (contact.customer.uuid, "reader@example.com")
    ]
    wallet = contacts[0]["wallet"]
    assert wallet["uuid"] == contact.wallet_uuid
    assert wallet["globalCreditBalance"] == Decimal("10.00")
    assert wallet["localCreditBalance"] == 0
    assert [
        (e["uuid"], e["action"], e["creditType"], e["amount"]) for e in wallet["creditEntries"]
    ] == [
        (made[2].uuid, "ADD", "GLOBAL", Decimal("3.00")),
        (made[1].uuid, "ADD", "GLOBAL", Decimal("2.00")),
    ]
    for entry, made_entry in zip(wallet["creditEntries"], [made[2], made[1]], strict=True):
        assert datetime.fromisoformat(entry["createdAt"]) == made_entry.created_at


def test_get_all_credit_entries(api: Api, db: Database) -> None:
    tenant = new_tenant(db)
    older = make_contact(db, tenant, email="older@example.com")
    newer = make_contact(db, tenant, email="newer@example.com")
    fund(db, tenant, older.wallet_uuid, "5.50")
    fund(db, tenant, older.wallet_uuid, 30, "LOCAL")
    fund(db, tenant, older.wallet_uuid, "1.25")
    fund(db, tenant, newer.wallet_uuid, 7, "LOCAL")

    data = api.data(
        GET_ALL_CREDIT_ENTRIES, {"contactLimit": 10, "entryLimit": 2}, token=tenant.token
    )

    contacts = data["account"]["contacts"]
    assert [c["email"] for c in contacts] == ["newer@example.com", "older@example.com"]
    assert [c["uuid"] for c in contacts] == [newer.customer.uuid, older.customer.uuid]
    assert contacts[0]["wallet"]["globalCreditBalance"] == Decimal("0.00")
    assert contacts[0]["wallet"]["localCreditBalance"] == 7
    assert [
        (e["action"], e["creditType"], e["amount"]) for e in contacts[0]["wallet"]["creditEntries"]
    ] == [("ADD", "LOCAL", 7)]
    assert contacts[1]["wallet"]["globalCreditBalance"] == Decimal("6.75")
    assert contacts[1]["wallet"]["localCreditBalance"] == 30
    assert [(e["creditType"], e["amount"]) for e in contacts[1]["wallet"]["creditEntries"]] == [
        ("GLOBAL", Decimal("1.25")),
        ("LOCAL", 30),
    ]

    limited = api.data(
        GET_ALL_CREDIT_ENTRIES, {"contactLimit": 1, "entryLimit": 0}, token=tenant.token
    )
    assert [c["uuid"] for c in limited["account"]["contacts"]] == [newer.customer.uuid]
    assert limited["account"]["contacts"][0]["wallet"]["creditEntries"] == []


def test_get_credit_balances(api: Api, db: Database) -> None:
    tenant = new_tenant(db)
    contact = make_contact(db, tenant, email="balances@example.com")
    fund(db, tenant, contact.wallet_uuid, "12.30")
    fund(db, tenant, contact.wallet_uuid, 40, "LOCAL")

    response = api.post("/graphql", {"query": GET_CREDIT_BALANCES}, token=tenant.token)

    assert response.status_code == 200
    assert '"globalCreditBalance":12.30' in response.text
    data = api.data(GET_CREDIT_BALANCES, token=tenant.token)
    assert data == {
        "account": {
            "contacts": [
                {
                    "uuid": contact.customer.uuid,
                    "email": "balances@example.com",
                    "wallet": {
                        "globalCreditBalance": Decimal("12.30"),
                        "localCreditBalance": 40,
                        "shopifyCreditBalance": 0,
                    },
                }
            ]
        }
    }


def _statements_for(
    api: Api, server: ThreadServer, tenant: Tenant, variables: dict[str, Any]
) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        # Neither the token's lookup nor SQLite's explicit BEGIN that comes with it: a read
        # makes it at most once a second (the principal cache), so whether it falls in this
        # request depends on the machine's speed.
        if "api_tokens" not in args[2] and args[2].strip().upper() != "BEGIN":
            statements.append(args[2])

    api.data(GET_ALL_CREDIT_ENTRIES, variables, token=tenant.token)  # token check settles
    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        api.data(GET_ALL_CREDIT_ENTRIES, variables, token=tenant.token)
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)
    return len(statements)


def test_get_all_credit_entries_issues_a_constant_number_of_statements(
    api: Api, db: Database, server: ThreadServer
) -> None:
    tenant = new_tenant(db)
    for _ in range(2):
        contact = make_contact(db, tenant)
        fund(db, tenant, contact.wallet_uuid, "1.00")
        fund(db, tenant, contact.wallet_uuid, 3, "LOCAL")
    variables = {"contactLimit": 100, "entryLimit": 5}
    with_two = _statements_for(api, server, tenant, variables)

    for _ in range(18):
        contact = make_contact(db, tenant)
        fund(db, tenant, contact.wallet_uuid, "1.00")
        fund(db, tenant, contact.wallet_uuid, 3, "LOCAL")
    with_twenty = _statements_for(api, server, tenant, variables)

    assert with_twenty == with_two
    assert with_two <= 6
    data = api.data(GET_ALL_CREDIT_ENTRIES, variables, token=tenant.token)
    assert len(data["account"]["contacts"]) == 20
    assert all(len(c["wallet"]["creditEntries"]) == 2 for c in data["account"]["contacts"])
