"""Erasure keeps the books: the person is gone from every surface for good, the ledger stays.

On both stores, over the real ASGI app: an erased contact cannot be read on the native API (by
uuid, email, Shopify id, list, search, node, count), Lightfunnels, LoyaltyDish or the commerce
RPC, fast path or not; cannot be written to; every personal field of its rows is blank; and
``patron ledger verify`` and the account's liability are what they were. deleteContact keeps
its meaning for a contact without entries and erases one with entries.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from patron.contact_persons.tables import contact_persons
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.throttle import email_subject
from patron.customers import service as customers
from patron.customers.consumers.tables import (
    consumer_login_failures,
    consumer_profiles,
    consumer_refresh_tokens,
)
from patron.customers.repository import PERSONAL_COLUMNS
from patron.customers.tables import customers as customers_table
from patron.customers.tables import identities
from patron.jobs.expiry import sweep
from patron.privacy import service as privacy
from patron.redemptions.tables import redemptions as redemptions_table
from patron.wallets.tables import credit_entries
from patron.wallets.tables import wallets as wallets_table
from patron.wallets.verify import verify_ledger
from tests.support.client import Api
from tests.support.databases import own_database
from tests.support.erasure import EMAIL, SHOPIFY_GID, Person, make_person, wallets_of
from tests.support.fast_reads import both
from tests.support.ledger import entry_rows
from tests.support.loyaltydish import MERCHANT_PATH
from tests.support.store import account_rows, outbox
from tests.support.tenants import Tenant, make_contact, new_tenant

ERASE = """mutation Erase($uuid: String!) {
  eraseContact(uuid: $uuid) {
    success contactUuid walletUuid errors userErrors { field code message }
  }
}"""
DELETE = """mutation Delete($uuid: String!) {
  deleteContact(uuid: $uuid) { success errors userErrors { field code message } }
}"""
LIGHTFUNNELS = "/compat/lightfunnels/api/v2"
COMMERCE = "/compat/commerce/api/v6/commerce.contacts."


def _global_id(kind: str, value: object) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def liability(db: Database, tenant: Tenant) -> tuple[int, int]:
    """What the account owes: every wallet's GLOBAL and LOCAL ledger balance, summed."""
    with db.read() as connection:
        row = connection.execute(
            select(
                func.sum(wallets_table.c.global_balance), func.sum(wallets_table.c.local_balance)
            ).where(wallets_table.c.account_id == tenant.uuid)
        ).one()
    return int(row[0]), int(row[1])


def erase(api: Api, tenant: Tenant, person: Person) -> dict[str, Any]:
    answer: dict[str, Any] = api.data(ERASE, {"uuid": person.uuid}, token=tenant.token)
    return answer["eraseContact"]


@pytest.fixture
def person(db: Database, tenant: Tenant) -> Person:
    return make_person(db, tenant)


def test_erasing_answers_success_and_keeps_the_books_exactly(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    entries_before = entry_rows(db, tenant.uuid, person.wallet_uuid)
    owed = liability(db, tenant)

    answer = erase(api, tenant, person)

    assert answer == {
        "success": True,
        "contactUuid": person.uuid,
        "walletUuid": person.wallet_uuid,
        "errors": [],
        "userErrors": [],
    }
    report = verify_ledger(db)
    assert report.ok, report.problems
    assert liability(db, tenant) == owed
    after = entry_rows(db, tenant.uuid, person.wallet_uuid)
    note = credit_entries.c.keys().index("note")
    # Every entry stays, amounts and running balances untouched; only the free text goes.
    assert [row[:note] + row[note + 1 :] for row in after] == [
        row[:note] + row[note + 1 :] for row in entries_before
    ]
    assert {row[note] for row in after} == {None}


def test_erasure_blanks_every_personal_field_for_good(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    failed = api.graphql(
        'mutation($e: String!) { obtainToken(email: $e, password: "wrong-one-1") { success } }',
        {"e": EMAIL},
        token=None,
        path=f"/compat/loyaltydish/{tenant.uuid}/graphql",
    )
    assert failed["data"]["obtainToken"]["success"] is False

    erase(api, tenant, person)

    with db.read() as connection:
        row = connection.execute(
            select(customers_table).where(customers_table.c.uuid == person.uuid)
        ).one()
        counts = {
            table.name: connection.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.account_id == tenant.uuid, table.c.customer_uuid == person.uuid)
            ).scalar_one()
            for table in (identities, consumer_profiles, consumer_refresh_tokens, contact_persons)
        }
        failures = connection.execute(
            select(func.count())
            .select_from(consumer_login_failures)
            .where(consumer_login_failures.c.subject == email_subject(EMAIL))
        ).scalar_one()
        code_notes = connection.execute(
            select(redemptions_table.c.note, redemptions_table.c.status).where(
                redemptions_table.c.wallet_uuid == person.wallet_uuid
            )
        ).all()
    values = row._mapping
    assert {name: values[name] for name in PERSONAL_COLUMNS} == dict.fromkeys(PERSONAL_COLUMNS)
    assert values["erased_at"] is not None
    assert values["number"] == person.number
    assert values["connected_services"] == []
    assert counts == {
        "identities": 0,
        "consumer_profiles": 0,
        "consumer_refresh_tokens": 0,
        "contact_persons": 0,
    }
    assert failures == 0
    assert [tuple(code) for code in code_notes] == [(None, "CANCELLED")]
    # Nothing of the person is left in any row of the account, audit trail and outbox included.
    text = repr(account_rows(db, tenant.uuid))
    for personal in (EMAIL, "Jane", "Roe", "Springfield", "+14155550100", "LOY-JANE", "8800001"):
        assert personal not in text


NATIVE_READS = [
    ("query($u: String) { account { contacts(uuid: $u) { uuid } } }", "uuid"),
    ("query($e: String) { account { contacts(email: $e) { uuid } } }", "email"),
    ("query($s: String) { account { contacts(shopifyId: $s) { uuid } } }", "shopify"),
    ("{ account { contacts { uuid email } } }", None),
    ("{ account { contacts { uuid wallet { uuid creditEntries { uuid } } } } }", None),
    ('{ account { contactsConnection(search: "Jane") { edges { node { uuid } } } } }', None),
    ("{ account { contactsConnection { edges { node { uuid } } } } }", None),
]


def test_an_erased_contact_is_unreadable_on_the_native_api(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    erase(api, tenant, person)
    variables = {"u": person.uuid, "e": EMAIL, "s": SHOPIFY_GID}

    for query, _by in NATIVE_READS:
        body = api.data(query, variables, token=tenant.token)
        assert person.uuid not in repr(body), query
        assert person.wallet_uuid not in repr(body), query
    assert api.data("{ account { contactsCount } }", token=tenant.token) == {
        "account": {"contactsCount": 1}
    }
    nodes = api.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [_global_id("Contact", person.uuid), _global_id("Wallet", person.wallet_uuid)]},
        token=tenant.token,
    )
    assert nodes == {"nodes": [None, None]}
    kept = api.data("{ account { contacts { uuid } } }", token=tenant.token)
    assert kept == {"account": {"contacts": [{"uuid": person.kept_uuid}]}}


def test_an_erased_contact_is_unreadable_on_every_dialect(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    erase(api, tenant, person)

    lightfunnels = api.data(
        '{ customers(query: "", first: 50) { edges { node { _id email } } } }',
        token=tenant.token,
        path=LIGHTFUNNELS,
    )
    assert lightfunnels == {
        "customers": {"edges": [{"node": {"_id": person.number + 1, "email": "kept@example.com"}}]}
    }
    node = api.data(
        "query($id: ID!) { node(id: $id) { ... on Customer { _id } } }",
        {"id": _global_id("Customer", person.number)},
        token=tenant.token,
        path=LIGHTFUNNELS,
    )
    assert node == {"node": None}
    loyaltydish = api.data(
        "query($id: ID!) { consumers(first: 100) { edges { node { pk } } } "
        "consumer(id: $id) { pk } }",
        {"id": _global_id("IUserNode", person.number)},
        token=tenant.token,
        path=MERCHANT_PATH,
    )
    assert loyaltydish == {
        "consumers": {"edges": [{"node": {"pk": person.number + 1}}]},
        "consumer": None,
    }
    found = api.post(
        COMMERCE + "find", {"conditions": {"customer": person.number}}, token=tenant.token
    ).json()
    assert found["status"] == "error" or found == {"status": "ok", "contacts": []}
    created = api.post(
        COMMERCE + "create",
        {"contact": {"customer": person.number, "name": "Someone"}},
        token=tenant.token,
    ).json()
    assert created["status"] == "error"
    assert created["error"]["type"] == "NotFound"


def test_an_erased_consumer_can_no_longer_log_in_or_refresh(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    erase(api, tenant, person)

    body = api.graphql(
        "mutation($e: String!, $p: String!) { obtainToken(email: $e, password: $p) "
        "{ success token } }",
        {"e": EMAIL, "p": "Correct-Horse-Battery-9"},
        token=None,
        path=f"/compat/loyaltydish/{tenant.uuid}/graphql",
    )
    assert body["data"]["obtainToken"]["success"] is False
    assert body["data"]["obtainToken"]["token"] is None


WRITES = [
    (
        "addCreditEntry",
        "mutation($w: String!) { addCreditEntry(creditEntry: {walletUuid: $w, action: ADD, "
        'creditType: GLOBAL, amount: "1.00"}) { success userErrors { code } } }',
    ),
    (
        "addCreditEntry",
        "mutation($w: String!) { addCreditEntry(creditEntry: {walletUuid: $w, action: SPEND, "
        'creditType: GLOBAL, amount: "1.00"}) { success userErrors { code } } }',
    ),
    (
        "createRedemption",
        "mutation($w: String!) { createRedemption(redemption: {walletUuid: $w, creditType: GLOBAL, "
        'rewardValue: "1.00"}) { success userErrors { code } } }',
    ),
    (
        "updateContact",
        'mutation($u: String!) { updateContact(uuid: $u, contact: {name: "Back", '
        'identities: {shopifyId: "999"}}) { success userErrors { code } } }',
    ),
    (
        "recordOrder",
        'mutation($u: String!) { recordOrder(order: {externalId: "AFTER-1", total: "5.00", '
        'currency: "USD", contactUuid: $u, status: COMPLETED}) { success userErrors { code } } }',
    ),
    (
        "eraseContact",
        "mutation($u: String!) { eraseContact(uuid: $u) { success userErrors { code } } }",
    ),
    (
        "deleteContact",
        "mutation($u: String!) { deleteContact(uuid: $u) { success userErrors { code } } }",
    ),
]


@pytest.mark.parametrize(("name", "query"), WRITES)
def test_an_erased_contact_cannot_be_written_to(
    api: Api, db: Database, tenant: Tenant, person: Person, name: str, query: str
) -> None:
    erase(api, tenant, person)
    before = account_rows(db, tenant.uuid)
    variables = {"w": person.wallet_uuid, "u": person.uuid}
    used = {key: value for key, value in variables.items() if f"${key}" in query}

    answer = api.data(query, used, token=tenant.token)[name]

    assert answer == {"success": False, "userErrors": [{"code": "NOT_FOUND"}]}
    assert account_rows(db, tenant.uuid) == before


def test_erasure_queues_the_webhook_event_and_the_connected_vendors_calls(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    from patron.accounts import service as accounts

    accounts.update_account_settings(
        db, tenant.uuid, {"shopify": {"shop": "s.myshopify.com", "access_token": "t"}}
    )

    erase(api, tenant, person)

    queued = outbox(db, tenant.uuid)
    assert (
        "contact.erased",
        {
            "contact_uuid": person.uuid,
            "number": person.number,
            "wallet_uuid": person.wallet_uuid,
        },
    ) in queued
    assert (
        "shopify.customer_erasure",
        {
            "contact_uuid": person.uuid,
            "customer_id": SHOPIFY_GID,
        },
    ) in queued
    # Klaviyo is not connected: nothing is queued for it.
    assert not [kind for kind, _ in queued if kind.startswith("klaviyo.")]


def test_delete_contact_without_entries_deletes_it_as_the_seed_documents(
    api: Api, db: Database, tenant: Tenant
) -> None:
    fresh = make_contact(db, tenant, email="fresh@example.com")

    answer = api.data(DELETE, {"uuid": fresh.customer.uuid}, token=tenant.token)["deleteContact"]

    assert answer == {"success": True, "errors": [], "userErrors": []}
    assert wallets_of(db, tenant, fresh.customer.uuid) == []
    with db.read() as connection:
        gone = connection.execute(
            select(func.count())
            .select_from(customers_table)
            .where(customers_table.c.uuid == fresh.customer.uuid)
        ).scalar_one()
    assert gone == 0
    assert [kind for kind, _ in outbox(db, tenant.uuid)][-1] == "contact.deleted"


def test_delete_contact_with_entries_erases_it_and_a_write_token_is_told_why(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    writer = tenant.with_scope(db, "write")
    before = account_rows(db, tenant.uuid)

    refused = api.data(DELETE, {"uuid": person.uuid}, token=writer.token)["deleteContact"]

    message = (
        f"contact '{person.uuid}' has credit entries, so deleting it erases the person and keeps "
        "the books, which needs the 'admin' scope; this token has 'write'"
    )
    assert refused == {
        "success": False,
        "errors": [message],
        "userErrors": [{"field": None, "code": "FORBIDDEN", "message": message}],
    }
    assert account_rows(db, tenant.uuid) == before
    owed = liability(db, tenant)

    deleted = api.data(DELETE, {"uuid": person.uuid}, token=tenant.token)["deleteContact"]

    assert deleted == {"success": True, "errors": [], "userErrors": []}
    assert liability(db, tenant) == owed
    assert verify_ledger(db).ok
    assert "contact.erased" in [kind for kind, _ in outbox(db, tenant.uuid)]
    found = api.data(
        "query($u: String) { account { contacts(uuid: $u) { uuid } } }",
        {"u": person.uuid},
        token=tenant.token,
    )
    assert found == {"account": {"contacts": []}}


def test_the_service_refuses_to_delete_a_contact_with_entries(
    db: Database, tenant: Tenant, person: Person
) -> None:
    before = account_rows(db, tenant.uuid)

    with pytest.raises(customers.HasLedgerHistory, match="erase it instead"):
        customers.delete_customer(db, tenant.principal, person.uuid)

    assert account_rows(db, tenant.uuid) == before


def test_erasing_takes_the_admin_scope_and_another_account_finds_nothing(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant, person: Person
) -> None:
    writer = tenant.with_scope(db, "write")
    before = account_rows(db, tenant.uuid)

    refused = api.data(ERASE, {"uuid": person.uuid}, token=writer.token)["eraseContact"]
    foreign = api.data(ERASE, {"uuid": person.uuid}, token=other_tenant.token)["eraseContact"]

    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    assert foreign["userErrors"] == [
        {"field": "uuid", "code": "NOT_FOUND", "message": f"no contact with uuid '{person.uuid}'"}
    ]
    assert account_rows(db, tenant.uuid) == before


def test_the_sweep_still_expires_the_lots_of_an_erased_wallet(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    # A store of its own: a sweep covers every account.
    with own_database(request, database_url, tmp_path) as (_, store):
        tenant = new_tenant(store)
        person = make_person(store, tenant)
        privacy.erase_contact(store, tenant.principal, person.uuid)

        sweep(store, now=utcnow() + timedelta(days=31))

        last = entry_rows(store, tenant.uuid, person.wallet_uuid)[-1]
        assert (last.reason, last.action, last.amount, last.actor) == (
            "EXPIRY",
            "REMOVE",
            300,
            "system:expiry",
        )
        assert verify_ledger(store).ok


FAST_READS = [
    "query($u: String) { account { contactsCount contacts(uuid: $u) { uuid email } } }",
    "query($e: String) { account { contacts(email: $e) { uuid wallet { uuid } } } }",
    "{ account { contacts { uuid name email identities { shopify } wallet { uuid "
    "globalCreditBalance creditEntries { uuid amount } } } } }",
]


@pytest.mark.parametrize("query", FAST_READS)
def test_the_fast_read_path_leaves_an_erased_contact_out_as_the_executor_does(
    db: Database, tenant: Tenant, person: Person, query: str
) -> None:
    privacy.erase_contact(db, tenant.principal, person.uuid)

    answers = both(db, tenant, query, {"u": person.uuid, "e": EMAIL})

    assert answers.fast == answers.normal
    assert answers.outcome == "answered"
    assert answers.known == answers.normal
    assert person.uuid.encode() not in answers.fast
    assert person.wallet_uuid.encode() not in answers.fast


def test_an_erased_contacts_orders_and_codes_take_no_more_credit_moves(
    api: Api, db: Database, tenant: Tenant, person: Person
) -> None:
    [order] = api.data("{ account { orders { uuid } } }", token=tenant.token)["account"]["orders"]
    erase(api, tenant, person)
    before = account_rows(db, tenant.uuid)

    refund = api.data(
        'mutation($o: String!) { refundOrder(refund: {orderUuid: $o, externalId: "R1"}) '
        "{ success userErrors { code } } }",
        {"o": order["uuid"]},
        token=tenant.token,
    )
    redeem = api.data(
        "mutation($c: String!) { redeemRedemption(code: $c) { success userErrors { code } } }",
        {"c": person.code},
        token=tenant.token,
    )

    assert refund == {"refundOrder": {"success": False, "userErrors": [{"code": "NOT_FOUND"}]}}
    assert redeem == {
        "redeemRedemption": {"success": False, "userErrors": [{"code": "CODE_CANCELLED"}]}
    }
    assert account_rows(db, tenant.uuid) == before
