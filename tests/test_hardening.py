"""What a hostile or careless client found, each pinned on both stores.

Each test is the reproduction of one finding; the mechanisms behind them (text checked at
the edge, bounded parsing, the error guard around serialisation) have their own tests.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from patron.core.db import Database
from patron.customers.tables import customers as customers_table
from patron.orders.tables import orders as orders_table
from patron.wallets.verify import verify_ledger
from tests.support.client import Api
from tests.support.orders import record, snapshot
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
    created = make_contact(db, tenant)  # no credit entries: deleted, not erased
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


# --- text no store can keep: refused at the edge, naming the field -------------------------

NUL = "\x00"
ADD_CREDIT = """mutation Add($e: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $e) { success errors creditEntry { uuid } }
}"""
CONVERT = """mutation Convert($c: ConvertCreditInput!) {
  convertCredit(credit: $c) { success errors }
}"""
CREATE_REDEMPTION = """mutation Create($r: CreateRedemptionInput!) {
  createRedemption(redemption: $r) { success errors }
}"""
CREATE_WEBHOOK = """mutation Hook($w: WebhookInput!) {
  createWebhook(webhook: $w) { success errors secret }
}"""
SEARCH = """query Search($s: String) {
  account { contactsConnection(search: $s, first: 5) { edges { cursor } } }
}"""
ORDERS_OF_STORE = """query Orders($s: String) { account { orders(storeUuid: $s) { uuid } } }"""
LF_PATH = "/compat/lightfunnels/api/v2"
LF_CUSTOMERS = """query Customers($q: String!, $after: String) {
  customers(query: $q, first: 5, after: $after) { edges { cursor } }
}"""


def _refused_text(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert error["message"] == f"{field} may not contain a NUL character (\\u0000)"


def _nul_requests(wallet_uuid: str) -> list[tuple[str, str, dict[str, Any], str]]:
    entry = {"walletUuid": wallet_uuid, "action": "ADD", "creditType": "GLOBAL", "amount": 1}
    return [
        ("/graphql", SEARCH, {"s": f"ann{NUL}"}, "variables.s"),
        ("/graphql", ORDERS_OF_STORE, {"s": NUL}, "variables.s"),
        ("/graphql", ADD_CREDIT, {"e": {**entry, "note": f"a{NUL}b"}}, "variables.e.note"),
        (
            "/graphql",
            CONVERT,
            {
                "c": {
                    "walletUuid": wallet_uuid,
                    "amount": 1,
                    "from": "GLOBAL",
                    "to": "LOCAL",
                    "conversionRate": 1,
                    "note": NUL,
                }
            },
            "variables.c.note",
        ),
        (
            "/graphql",
            CREATE_REDEMPTION,
            {
                "r": {
                    "walletUuid": wallet_uuid,
                    "creditType": "GLOBAL",
                    "rewardValue": 1,
                    "note": NUL,
                }
            },
            "variables.r.note",
        ),
        (
            "/graphql",
            CREATE_WEBHOOK,
            {"w": {"url": f"https://example.com/{NUL}", "events": ["CONTACT_CREATED"]}},
            "variables.w.url",
        ),
        (LF_PATH, LF_CUSTOMERS, {"q": f"ann{NUL}"}, "variables.q"),
        (LF_PATH, LF_CUSTOMERS, {"q": "", "after": f"{NUL}"}, "variables.after"),
    ]


def test_a_nul_in_any_variable_is_refused_naming_it_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    fund(db, tenant, created.wallet_uuid, "5.00")
    before = snapshot(db, tenant.uuid)

    for path, query, variables, field in _nul_requests(created.wallet_uuid):
        response = api.post(path, {"query": query, "variables": variables}, token=tenant.token)
        _refused_text(response, field)

    assert snapshot(db, tenant.uuid) == before


def test_a_nul_in_a_string_literal_of_the_document_is_a_validation_error(
    api: Api, tenant: Tenant
) -> None:
    query = '{ account { contactsConnection(search: "a\\u0000b") { edges { cursor } } } }'

    body = api.graphql(query, token=tenant.token)

    [error] = body["errors"]
    assert error["message"] == "search may not contain a NUL character (\\u0000)"
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_nul_in_a_commerce_call_is_an_invalid_value(
    api: Api, db: Database, tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer
    before = snapshot(db, tenant.uuid)
    person = {"customer": customer.number, "name": "Ann", "note": f"x{NUL}"}

    response = api.post(
        "/compat/commerce/api/v6/commerce.contacts.create",
        {"contact": person},
        token=tenant.token,
    )

    assert response.status_code == 200
    assert response.json() == {
        "status": "error",
        "error": {
            "field": "contact.note",
            "type": "InvalidValue",
            "description": "contact.note may not contain a NUL character (\\u0000)",
        },
    }
    assert snapshot(db, tenant.uuid) == before


# --- numbers: strict syntax, and products that cannot overflow a column ---------------------


def test_decimal_strings_are_ascii_digits_with_one_point(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    before = snapshot(db, tenant.uuid)
    entry = {"walletUuid": created.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}

    for written in ("1_0", "１", "1.2.3", "0x10", "+-1", "1e999999999"):
        payload = api.data(ADD_CREDIT, {"e": {**entry, "amount": written}}, token=tenant.token)
        assert payload["addCreditEntry"]["success"] is False, written
        assert "amount" in payload["addCreditEntry"]["errors"][0]

    assert snapshot(db, tenant.uuid) == before


SET_RULE = (
    """mutation Rule($r: EarningRuleInput!) { setEarningRule(rule: $r) { success errors } }"""
)
CREATE_STORE = """mutation Store($s: StoreInput!) {
  createStore(store: $s) { success errors store { uuid } }
}"""
RECORD_ORDER = """mutation Record($o: RecordOrderInput!) {
  recordOrder(order: $o) { success errors userErrors { field code message } order { uuid } }
}"""


def test_an_order_whose_points_would_overflow_is_a_business_error(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    rule = api.data(SET_RULE, {"r": {"pointsPerCurrencyUnit": "1000000"}}, token=tenant.token)
    assert rule["setEarningRule"]["success"] is True
    store = api.data(
        CREATE_STORE, {"s": {"name": "Big", "pointsMultiplier": "1000"}}, token=tenant.token
    )["createStore"]["store"]
    before = snapshot(db, tenant.uuid)
    order = {
        "externalId": "huge",
        "total": "10000000000000",
        "currency": "USD",
        "contactUuid": created.customer.uuid,
        "storeUuid": store["uuid"],
    }

    answer = api.data(RECORD_ORDER, {"o": order}, token=tenant.token)["recordOrder"]

    assert answer["success"] is False
    assert answer["order"] is None
    [error] = answer["userErrors"]
    assert (error["field"], error["code"]) == ("total", "AMOUNT_TOO_LARGE")
    assert snapshot(db, tenant.uuid) == before


# --- stored JSON: bounded where it is accepted, so every list can write it back -------------

CREATE_CONTACT = """mutation Create($c: ContactInput!) {
  createContact(contact: $c) { success errors contact { uuid } }
}"""
CONTACTS_WITH_EXTRA = """{ account { contacts(limit: 50) { uuid extraInfo } } }"""


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


def _nested_text(depth: int) -> str:
    """JSON text nested ``depth`` deep: deeper than Python's json or orjson would write."""
    opening = "".join('{"a":' if level % 2 else "[" for level in reversed(range(depth)))
    closing = "".join("}" if level % 2 else "]" for level in range(depth))
    return f'{opening}"deep"{closing}'


def _post_raw(api: Api, tenant: Tenant, query: str, variables_text: str) -> Any:
    raw = f'{{"query": {json.dumps(query)}, "variables": {variables_text}}}'
    response = api.http.post(
        "/graphql",
        content=raw.encode(),
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_json_inputs_nested_too_deep_are_refused_and_lists_still_answer(
    api: Api, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    before = snapshot(db, tenant.uuid)

    for depth in (17, 300, 990):
        deep = _nested_text(depth)
        contact = f'{{"c": {{"email": "deep{depth}@example.com", "extraInfo": {{"x": {deep}}}}}}}'
        answer = _post_raw(api, tenant, CREATE_CONTACT, contact)["createContact"]
        assert answer["success"] is False, depth
        assert answer["errors"] == ["extraInfo is nested deeper than 16 levels"]
        order = (
            f'{{"o": {{"externalId": "deep-{depth}", "total": "1.00", "currency": "USD", '
            f'"contactUuid": "{created.customer.uuid}", "lines": [{{"x": {deep}}}]}}}}'
        )
        answer = _post_raw(api, tenant, RECORD_ORDER, order)["recordOrder"]
        assert answer["success"] is False, depth
        assert answer["userErrors"][0]["message"] == "lines is nested deeper than 16 levels"

    assert snapshot(db, tenant.uuid) == before
    listed = api.data(CONTACTS_WITH_EXTRA, token=tenant.token)["account"]["contacts"]
    assert [contact["uuid"] for contact in listed] == [created.customer.uuid]


def test_json_within_the_bounds_is_kept_as_given(api: Api, tenant: Tenant) -> None:
    extra = {"x": _nested(14)}
    answer = api.data(
        CREATE_CONTACT, {"c": {"email": "ok@example.com", "extraInfo": extra}}, token=tenant.token
    )["createContact"]
    assert answer["success"] is True

    listed = api.data(CONTACTS_WITH_EXTRA, token=tenant.token)["account"]["contacts"]

    assert listed[0]["extraInfo"] == extra


def test_what_fails_while_an_answer_is_written_is_a_masked_json_error(
    api: Api, db: Database, tenant: Tenant
) -> None:
    # A document stored before the bounds existed (written here past the service).
    created = make_contact(db, tenant)
    with db.write() as connection:
        connection.execute(
            customers_table.update()
            .where(customers_table.c.uuid == created.customer.uuid)
            .values(extra_info={"x": _nested(300)})
        )

    response = api.post("/graphql", {"query": CONTACTS_WITH_EXTRA}, token=tenant.token)

    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": f"Internal server error (request id {request_id})",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    with db.write() as connection:
        connection.execute(
            customers_table.delete().where(customers_table.c.uuid == created.customer.uuid)
        )


# --- bounded work per request ----------------------------------------------------------------


def test_a_search_holds_at_most_ten_words_on_every_surface(api: Api, tenant: Tenant) -> None:
    eleven = " ".join("abcdefghijk")
    huge = "a " * 450_000

    for words in (eleven, huge):
        native = api.post(
            "/graphql", {"query": SEARCH, "variables": {"s": words}}, token=tenant.token
        )
        assert native.status_code == 200
        [error] = native.json()["errors"]
        assert error["extensions"]["field"] == "search"
        lightfunnels = api.post(
            LF_PATH, {"query": LF_CUSTOMERS, "variables": {"q": words}}, token=tenant.token
        )
        assert lightfunnels.status_code == 200
        [error] = lightfunnels.json()["errors"]
        assert error["extensions"]["field"] == "query"

    ten = api.post(
        "/graphql",
        {"query": SEARCH, "variables": {"s": " ".join("abcdefghij")}},
        token=tenant.token,
    )
    assert ten.json() == {"data": {"account": {"contactsConnection": {"edges": []}}}}


# --- secrets never reach a log ---------------------------------------------------------------


def test_a_failed_statement_does_not_carry_its_parameters(db: Database, tenant: Tenant) -> None:
    secret = "whsec_" + "s3cr3t" * 6
    failed = None
    try:
        with db.write() as connection:
            connection.execute(customers_table.insert().values(account_id=tenant.uuid, uuid=secret))
    except Exception as error:
        failed = error
    assert failed is not None
    assert secret not in str(failed)
    assert secret not in repr(failed)
