"""Amounts are exact: refused with a clear error when they are not amounts, written exactly when
they are, and shown without a trace of binary floating point."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from patron.core.db import Database
from patron.core.money import MAX_MINOR_UNITS
from tests.support.client import Api
from tests.support.ledger import ledger_state
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

ADD_CREDIT_ENTRY = """
mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $creditEntry) {
    success
    creditEntry { uuid action creditType amount amountMinor balanceAfter }
    errors
    userErrors { field code message }
  }
}
"""

CONVERT_CREDIT = """
mutation ConvertCredit($credit: ConvertCreditInput!) {
  convertCredit(credit: $credit) {
    success
    creditEntry { uuid action creditType amount amountMinor balanceAfter }
    errors
    userErrors { field code message }
  }
}
"""

BALANCES = """
query Balances($uuid: String) {
  account { contacts(uuid: $uuid) { wallet { globalCreditBalance localCreditBalance } } }
}
"""

# One minor unit above the ceiling, written in each credit type's precision (USD: 2, points: 0).
ABOVE_MAXIMUM_GLOBAL = Decimal(MAX_MINOR_UNITS + 1).scaleb(-2)
MAXIMUM_GLOBAL = Decimal(MAX_MINOR_UNITS).scaleb(-2)


def post_entry(
    api: Api, tenant: Tenant, wallet_uuid: str, action: str, credit_type: str, amount: Any
) -> tuple[str, dict[str, Any]]:
    """The raw text of the answer and its ``addCreditEntry`` payload, numbers as Decimal."""
    variables = {
        "creditEntry": {
            "walletUuid": wallet_uuid,
            "action": action,
            "creditType": credit_type,
            "amount": amount,
        }
    }
    response = api.post(
        "/graphql", {"query": ADD_CREDIT_ENTRY, "variables": variables}, token=tenant.token
    )
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["addCreditEntry"]
    return response.text, payload


def convert(api: Api, tenant: Tenant, credit: dict[str, Any]) -> dict[str, Any]:
    body = api.graphql(CONVERT_CREDIT, {"credit": credit}, token=tenant.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["convertCredit"]
    return payload


def funded_wallet(db: Database, tenant: Tenant) -> str:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "5.00")
    fund(db, tenant, contact.wallet_uuid, 5, "LOCAL")
    return contact.wallet_uuid


def assert_refused(payload: dict[str, Any], *, field: str, code: str, says: str) -> None:
    assert payload["success"] is False
    assert payload["creditEntry"] is None
    assert len(payload["errors"]) == 1
    assert says in payload["errors"][0]
    assert payload["userErrors"] == [
        {"field": field, "code": code, "message": payload["errors"][0]}
    ]


@pytest.mark.parametrize(
    ("action", "credit_type", "amount", "says"),
    [
        ("ADD", "GLOBAL", 0, "amount must be greater than 0, got 0"),
        ("ADD", "GLOBAL", 0.0, "amount must be greater than 0"),
        ("SPEND", "GLOBAL", -5, "amount must be greater than 0, got -5"),
        ("ADD", "LOCAL", -1, "amount must be greater than 0, got -1"),
        ("ADD", "GLOBAL", "NaN", "amount must be a finite number, got 'NaN'"),
        ("SPEND", "LOCAL", "NaN", "amount must be a finite number, got 'NaN'"),
        ("ADD", "GLOBAL", "Infinity", "amount must be a finite number, got 'Infinity'"),
        ("REMOVE", "GLOBAL", "-Infinity", "amount must be a finite number"),
        ("ADD", "GLOBAL", 0.001, "amount 0.001 has more than 2 decimal place(s)"),
        ("SPEND", "GLOBAL", "1.005", "amount 1.005 has more than 2 decimal place(s)"),
        ("ADD", "LOCAL", 1.5, "amount 1.5 has more than 0 decimal place(s)"),
        ("ADD", "GLOBAL", float(ABOVE_MAXIMUM_GLOBAL), "is above the maximum of 10000000000000.00"),
        ("ADD", "LOCAL", MAX_MINOR_UNITS + 1, "is above the maximum of 1000000000000000"),
        ("ADD", "GLOBAL", "1e400", "is above the maximum"),
        ("ADD", "GLOBAL", "1e999999", "amount 1E+999999 is above the maximum"),
        ("SPEND", "LOCAL", "1e-9999999", "amount 1E-9999999 has more than 0 decimal place(s)"),
        ("ADD", "GLOBAL", "twelve", "amount must be a number, got 'twelve'"),
        ("ADD", "GLOBAL", "", "amount must be a number"),
        ("ADD", "GLOBAL", "0x10", "amount must be a number, got '0x10'"),
        ("ADD", "GLOBAL", "1,50", "amount must be a number, got '1,50'"),
    ],
)
def test_a_bad_amount_is_refused_and_writes_nothing(
    api: Api, db: Database, tenant: Tenant, action: str, credit_type: str, amount: Any, says: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)

    _, payload = post_entry(api, tenant, wallet_uuid, action, credit_type, amount)

    assert_refused(payload, field="amount", code="INVALID", says=says)
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize(
    ("variable", "says"),
    [
        ("action", "Value 'GIVE' does not exist in 'CreditEntryType' enum"),
        ("creditType", "Value 'MONEY' does not exist in 'CreditType' enum"),
    ],
)
def test_an_unknown_action_or_credit_type_is_a_clear_error(
    api: Api, db: Database, tenant: Tenant, variable: str, says: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    entry = {"walletUuid": wallet_uuid, "action": "ADD", "creditType": "GLOBAL", "amount": 1}
    entry[variable] = {"action": "GIVE", "creditType": "MONEY"}[variable]

    body = api.graphql(ADD_CREDIT_ENTRY, {"creditEntry": entry}, token=tenant.token)

    assert body["data"] is None
    [error] = body["errors"]
    assert says in error["message"]
    assert f".{variable}" in error["message"]
    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    assert ledger_state(db, tenant.principal.account_id) == before


def test_an_unknown_credit_type_in_a_conversion_is_a_clear_error(
    api: Api, db: Database, tenant: Tenant
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    credit = {
        "walletUuid": wallet_uuid,
        "amount": 1,
        "conversionRate": 1,
        "from": "POINTS",
        "to": "GLOBAL",
    }

    body = api.graphql(CONVERT_CREDIT, {"credit": credit}, token=tenant.token)

    assert body["data"] is None
    [error] = body["errors"]
    assert "Value 'POINTS' does not exist in 'CreditType' enum" in error["message"]
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        (True, "expected a number, got a boolean"),
        (None, "Expected value of non-null type 'Float!' not to be None"),
        ([1], "expected a number"),
        ({"value": 1}, "expected a number"),
    ],
)
def test_an_amount_of_the_wrong_json_type_is_a_clear_error(
    api: Api, db: Database, tenant: Tenant, amount: Any, says: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    entry = {"walletUuid": wallet_uuid, "action": "ADD", "creditType": "GLOBAL", "amount": amount}

    body = api.graphql(ADD_CREDIT_ENTRY, {"creditEntry": entry}, token=tenant.token)

    assert body["data"] is None
    [error] = body["errors"]
    assert says in error["message"]
    assert ".amount" in error["message"]
    assert "Internal server error" not in error["message"]
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_json_number_is_refused_before_anything_runs(
    api: Api, db: Database, tenant: Tenant, token: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    query = json.dumps(ADD_CREDIT_ENTRY)
    raw = (
        f'{{"query": {query}, "variables": {{"creditEntry": {{"walletUuid": "{wallet_uuid}", '
        f'"action": "ADD", "creditType": "GLOBAL", "amount": {token}}}}}}}'
    )

    response = api.http.post(
        "/graphql",
        content=raw.encode(),
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "not valid JSON" in response.json()["errors"][0]["message"]
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize(("literal", "says"), [("NaN", "finite"), ("1e400", "maximum")])
def test_a_non_finite_literal_in_the_query_is_refused(
    api: Api, db: Database, tenant: Tenant, literal: str, says: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    query = (
        "mutation { addCreditEntry(creditEntry: {action: ADD, creditType: GLOBAL, "
        f'amount: {literal}, walletUuid: "{wallet_uuid}"}}) {{ success errors }} }}'
    )

    data = api.data(query, token=tenant.token)

    assert data["addCreditEntry"]["success"] is False
    assert says in data["addCreditEntry"]["errors"][0]
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize("action", ["ADD", "SPEND", "REMOVE"])
def test_an_unknown_wallet_is_not_found(
    api: Api, db: Database, tenant: Tenant, action: str
) -> None:
    funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    missing = str(uuid.uuid4())

    _, payload = post_entry(api, tenant, missing, action, "GLOBAL", 1)

    assert_refused(
        payload, field="walletUuid", code="NOT_FOUND", says=f"no wallet with uuid '{missing}'"
    )
    assert ledger_state(db, tenant.principal.account_id) == before


def test_a_malformed_wallet_uuid_is_not_found(api: Api, db: Database, tenant: Tenant) -> None:
    before = ledger_state(db, tenant.principal.account_id)

    _, payload = post_entry(api, tenant, "not-a-uuid' OR 1=1 --", "ADD", "GLOBAL", 1)

    assert_refused(payload, field="walletUuid", code="NOT_FOUND", says="no wallet with uuid")
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize("action", ["ADD", "SPEND", "REMOVE"])
def test_another_accounts_wallet_is_not_found_and_untouched(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant, action: str
) -> None:
    theirs = funded_wallet(db, other_tenant)
    before_theirs = ledger_state(db, other_tenant.principal.account_id)
    before_ours = ledger_state(db, tenant.principal.account_id)

    _, payload = post_entry(api, tenant, theirs, action, "GLOBAL", 1)
    converted = convert(
        api,
        tenant,
        {"walletUuid": theirs, "amount": 1, "conversionRate": 1, "from": "LOCAL", "to": "GLOBAL"},
    )

    # Exactly what an unknown uuid gets: nothing says that the wallet exists elsewhere.
    assert_refused(
        payload, field="walletUuid", code="NOT_FOUND", says=f"no wallet with uuid '{theirs}'"
    )
    assert_refused(
        converted, field="walletUuid", code="NOT_FOUND", says=f"no wallet with uuid '{theirs}'"
    )
    assert ledger_state(db, other_tenant.principal.account_id) == before_theirs
    assert ledger_state(db, tenant.principal.account_id) == before_ours


def test_point_one_plus_point_two_is_exactly_point_three(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)

    post_entry(api, tenant, contact.wallet_uuid, "ADD", "GLOBAL", 0.1)
    text, payload = post_entry(api, tenant, contact.wallet_uuid, "ADD", "GLOBAL", 0.2)
    balances = api.post(
        "/graphql",
        {"query": BALANCES, "variables": {"uuid": contact.customer.uuid}},
        token=tenant.token,
    )

    assert '"amount":0.20' in text
    assert '"balanceAfter":0.30' in text
    assert '"globalCreditBalance":0.30' in balances.text
    assert "0000000" not in text + balances.text
    assert payload["creditEntry"]["balanceAfter"] == Decimal("0.30")


def test_sums_that_floats_get_wrong_stay_exact(api: Api, db: Database) -> None:
    tenant = new_tenant(db, points_precision=2)
    contact = make_contact(db, tenant)

    for amount in (1.1, 2.2, 0.7, 0.1):
        post_entry(api, tenant, contact.wallet_uuid, "ADD", "GLOBAL", amount)
        post_entry(api, tenant, contact.wallet_uuid, "ADD", "LOCAL", amount)
    text, _ = post_entry(api, tenant, contact.wallet_uuid, "SPEND", "LOCAL", 0.3)
    balances = api.post(
        "/graphql",
        {"query": BALANCES, "variables": {"uuid": contact.customer.uuid}},
        token=tenant.token,
    )

    # In binary floating point: 1.1 + 2.2 + 0.7 + 0.1 == 4.1000000000000005.
    assert '"balanceAfter":3.80' in text
    assert '"globalCreditBalance":4.10' in balances.text
    assert '"localCreditBalance":3.80' in balances.text
    assert "0000000" not in text + balances.text


@pytest.mark.parametrize(
    ("currency", "points_precision", "credit_type", "amount", "raw", "minor"),
    [
        ("USD", 0, "GLOBAL", 12.34, '"amount":12.34', 1234),
        ("USD", 0, "GLOBAL", 7, '"amount":7.00', 700),
        ("USD", 0, "GLOBAL", "12.50", '"amount":12.50', 1250),
        ("USD", 0, "GLOBAL", "1e2", '"amount":100.00', 10000),
        ("USD", 0, "LOCAL", 500, '"amount":500', 500),
        ("JPY", 0, "GLOBAL", 500, '"amount":500', 500),
        ("KWD", 0, "GLOBAL", 1.234, '"amount":1.234', 1234),
        ("USD", 2, "LOCAL", 1.5, '"amount":1.50', 150),
    ],
)
def test_amount_minor_is_the_exact_integer_of_the_smallest_unit(
    api: Api,
    db: Database,
    currency: str,
    points_precision: int,
    credit_type: str,
    amount: Any,
    raw: str,
    minor: int,
) -> None:
    tenant = new_tenant(db, currency=currency, points_precision=points_precision)
    contact = make_contact(db, tenant)

    text, payload = post_entry(api, tenant, contact.wallet_uuid, "ADD", credit_type, amount)

    assert payload["success"] is True, payload
    assert raw in text
    assert payload["creditEntry"]["amountMinor"] == minor
    assert isinstance(payload["creditEntry"]["amountMinor"], int)


@pytest.mark.parametrize(
    ("currency", "points_precision", "credit_type", "amount", "says"),
    [
        ("JPY", 0, "GLOBAL", 5.5, "amount 5.5 has more than 0 decimal place(s)"),
        ("KWD", 0, "GLOBAL", "1.2345", "amount 1.2345 has more than 3 decimal place(s)"),
        ("USD", 2, "LOCAL", 1.555, "amount 1.555 has more than 2 decimal place(s)"),
    ],
)
def test_precision_follows_the_currency_and_the_points_setting(
    api: Api,
    db: Database,
    currency: str,
    points_precision: int,
    credit_type: str,
    amount: Any,
    says: str,
) -> None:
    tenant = new_tenant(db, currency=currency, points_precision=points_precision)
    contact = make_contact(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)

    _, payload = post_entry(api, tenant, contact.wallet_uuid, "ADD", credit_type, amount)

    assert_refused(payload, field="amount", code="INVALID", says=says)
    assert ledger_state(db, tenant.principal.account_id) == before


def test_the_maximum_balance_is_reachable_and_not_passable(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)

    text, filled = post_entry(
        api, tenant, contact.wallet_uuid, "ADD", "GLOBAL", float(MAXIMUM_GLOBAL)
    )
    before = ledger_state(db, tenant.principal.account_id)
    _, over = post_entry(api, tenant, contact.wallet_uuid, "ADD", "GLOBAL", 0.01)

    assert filled["success"] is True
    assert '"balanceAfter":10000000000000.00' in text
    assert filled["creditEntry"]["amountMinor"] == MAX_MINOR_UNITS
    assert_refused(
        over, field="amount", code="INVALID", says="the balance would exceed the maximum"
    )
    assert ledger_state(db, tenant.principal.account_id) == before


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"amount": 0}, "amount", "amount must be greater than 0"),
        ({"amount": -100}, "amount", "amount must be greater than 0"),
        ({"amount": 1.5}, "amount", "amount 1.5 has more than 0 decimal place(s)"),
        ({"amount": "NaN"}, "amount", "amount must be a finite number"),
        ({"amount": "Infinity"}, "amount", "amount must be a finite number"),
        ({"amount": "lots"}, "amount", "amount must be a number"),
        ({"conversionRate": 0}, "conversionRate", "conversionRate must be greater than 0"),
        ({"conversionRate": -0.5}, "conversionRate", "conversionRate must be greater than 0"),
        ({"conversionRate": "NaN"}, "conversionRate", "conversionRate must be a finite number"),
        ({"conversionRate": "Infinity"}, "conversionRate", "finite number"),
        ({"conversionRate": "cheap"}, "conversionRate", "conversionRate must be a number"),
        ({"conversionRate": "0.0000000000001"}, "conversionRate", "more than 12 decimal places"),
        ({"amount": 1, "conversionRate": 0.001}, "amount", "gives less than the smallest GLOBAL"),
        ({"conversionRate": 1e30}, "amount", "gives more than the maximum of 10000000000000.00"),
        ({"conversionRate": "1e400"}, "conversionRate", "conversionRate 1E+400 is above the max"),
        ({"conversionRate": "1e999999999"}, "conversionRate", "is above the maximum"),
        ({"amount": 5, "conversionRate": "2000000000000.01"}, "amount", "more than the maximum"),
        ({"to": "LOCAL"}, "to", "from and to must be different credit types"),
    ],
)
def test_a_bad_conversion_is_refused_and_writes_nothing(
    api: Api, db: Database, tenant: Tenant, change: dict[str, Any], field: str, says: str
) -> None:
    wallet_uuid = funded_wallet(db, tenant)
    before = ledger_state(db, tenant.principal.account_id)
    credit = {
        "walletUuid": wallet_uuid,
        "amount": 5,
        "conversionRate": 0.01,
        "from": "LOCAL",
        "to": "GLOBAL",
        **change,
    }

    payload = convert(api, tenant, credit)

    assert_refused(payload, field=field, code="INVALID", says=says)
    assert ledger_state(db, tenant.principal.account_id) == before
