"""Known mutations run from their plan and answer byte for byte what the full pipeline answers.

A mutation changes the store, so the two paths cannot answer the same request twice. They are
compared where a second request must get the first one's answer: an idempotency key (the
entry, or the contact, written by the first), an order's external id, and refusals (no write
at all). The first request of a document goes through the full pipeline, which teaches the
fast schema the document; the next one of the same text runs from its plan.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from patron.accounts import service as accounts
from patron.api.compat.lightfunnels.schema import build_schema as build_lightfunnels_schema
from patron.api.compat.loyaltydish.context import Caller, LoyaltydishContext
from patron.api.compat.loyaltydish.ids import USER, encode
from patron.api.compat.loyaltydish.schema import build_schema as build_loyaltydish_schema
from patron.api.endpoint import run_document
from patron.api.graphql import contacts as contact_api
from patron.api.graphql.context import Context
from patron.api.graphql.fastpath.writes import FastWriteCounts
from patron.api.graphql.schema import PatronSchema, build_schema
from patron.core.db import Database
from patron.core.settings import Settings
from patron.wallets.tables import credit_entries
from tests.support.client import Api
from tests.support.holds import make_code
from tests.support.tenants import Tenant, fund, make_contact, new_tenant
from tests.test_compat_lightfunnels import UPDATE_CUSTOMER as LF_UPDATE_CUSTOMER
from tests.test_compat_lightfunnels import global_id as lf_global_id
from tests.test_contacts_seed000 import CREATE_CONTACT, CREATE_CONTACT_VARIABLES
from tests.test_ledger_seed001 import ADD_CREDIT_ENTRY, CONVERT_CREDIT
from tests.test_orders_api import RECORD_ORDER

NORMAL = build_schema(Settings(fast_writes=False, fast_reads=False))
FAST = build_schema(Settings())

ENTRY_FIELDS = (
    "__typename id uuid action creditType amount amountMinor balanceAfter reason note "
    "idempotencyKey conversionUuid createdAt subAction updatedAt connectedServiceType "
    "actor { kind id name value }"
)
EVERY_ENTRY_FIELD = f"""mutation Add($creditEntry: AddCreditEntryInput!) {{
  addCreditEntry(creditEntry: $creditEntry) {{
    __typename success errors userErrors {{ field code message }}
    creditEntry {{ {ENTRY_FIELDS} }}
    again: creditEntry {{ amount }}
  }}
}}"""
EVERY_CONTACT_FIELD = """mutation Create($contact: ContactInput!) {
  made: createContact(contact: $contact) {
    success errors
    contact {
      id uuid number name firstName lastName email phone birthday gender city country
      extraInfo acceptsMarketing verified archived connectedServices createdAt updatedAt
      identities { shopify klaviyo lightspeed salesforce }
      wallet { id uuid globalCreditBalance localCreditBalance globalCreditHeld createdAt
        creditEntries(limit: 2) { uuid amount } }
    }
  }
}"""
REDEEM = """mutation Redeem($code: String!) {
  redeemRedemption(code: $code) {
    success errors userErrors { code }
    redemptionCode { code status }
    creditEntry { uuid amount }
  }
}"""


def counts() -> FastWriteCounts:
    assert FAST.fast_writes is not None
    return FastWriteCounts(**vars(FAST.fast_writes.counts))


def body(
    schema: PatronSchema, db: Database, tenant: Tenant, query: str, variables: dict[str, Any]
) -> bytes:
    context = Context(db=db, principal=tenant.principal, request_id="differential")
    return orjson.dumps(run_document(schema, schema.fast_writes, context, query, variables, None))


def lean(db: Database, tenant: Tenant, query: str, variables: dict[str, Any]) -> bytes:
    """The fast schema's answer, which must come from the plan (the document is known)."""
    assert FAST.fast_writes is not None
    assert FAST.fast_writes.known(query, None)
    before = counts()
    answer = body(FAST, db, tenant, query, variables)
    assert counts().answered == before.answered + 1, answer
    return answer


def teach(db: Database, tenant: Tenant, query: str, variables: dict[str, Any]) -> bytes:
    """A request of a document the fast schema has not seen: the full pipeline answers."""
    assert FAST.fast_writes is not None
    assert not FAST.fast_writes.known(query, None)
    return body(FAST, db, tenant, query, variables)


def unique(query: str) -> str:
    """The document under a text of its own (plans are per text): each test learns it anew."""
    return f"{query}\n# {secrets.token_hex(4)}"


def entry_count(db: Database, tenant: Tenant) -> int:
    with db.read() as connection:
        found = connection.execute(
            select(func.count())
            .select_from(credit_entries)
            .where(credit_entries.c.account_id == tenant.uuid)
        ).scalar_one()
    return int(found)


def entry(wallet_uuid: str, action: str, amount: Any, **more: Any) -> dict[str, Any]:
    return {
        "creditEntry": {
            "walletUuid": wallet_uuid,
            "action": action,
            "creditType": "GLOBAL",
            "amount": amount,
            **more,
        }
    }


@pytest.mark.parametrize("document", [ADD_CREDIT_ENTRY, EVERY_ENTRY_FIELD])
def test_an_entry_answers_the_same_bytes(db: Database, document: str) -> None:
    tenant = new_tenant(db, currency="KWD", points_precision=2)
    wallet = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet, "10.125")
    query = unique(document)
    refused = entry(wallet, "SPEND", "1000")
    taught = teach(db, tenant, query, refused)
    assert b"insufficient GLOBAL credit" in taught
    assert lean(db, tenant, query, refused) == taught == body(NORMAL, db, tenant, query, refused)

    for action, amount in (("ADD", "2.5"), ("SPEND", "0.001"), ("REMOVE", 1)):
        keyed = entry(wallet, action, amount, idempotencyKey=f"k-{action}", note="é\u2603")
        first = body(NORMAL, db, tenant, query, keyed)
        assert b'"success":true' in first
        assert lean(db, tenant, query, keyed) == first


def test_refusals_answer_the_same_bytes_and_write_nothing(db: Database) -> None:
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    fund(db, tenant, wallet, "3")
    query = unique(EVERY_ENTRY_FIELD)
    teach(db, tenant, query, entry(wallet, "SPEND", "9"))
    before = entry_count(db, tenant)
    for variables in (
        entry(wallet, "SPEND", "-1"),
        entry(wallet, "ADD", "0"),
        entry(wallet, "ADD", "one"),
        entry(wallet, "ADD", "0.001"),  # more places than the currency has
        entry("not-a-uuid", "ADD", "1"),
        entry("00000000-0000-4000-8000-000000000000", "ADD", "1"),
        entry(wallet, "ADD", "1", idempotencyKey=""),
        entry(wallet, "ADD", "1", note="x" * 10_000),
    ):
        assert lean(db, tenant, query, variables) == body(NORMAL, db, tenant, query, variables)
    assert entry_count(db, tenant) == before


def test_variables_that_do_not_coerce_go_to_the_full_pipeline(db: Database) -> None:
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    query = unique(ADD_CREDIT_ENTRY)
    teach(db, tenant, query, entry(wallet, "ADD", "1"))
    before, written = counts(), entry_count(db, tenant)
    for variables in (
        entry(wallet, "GIVE", "1"),
        entry(wallet, "ADD", None),
        {"creditEntry": {"walletUuid": wallet}},
        {"creditEntry": "ADD"},
        {},
    ):
        fast = body(FAST, db, tenant, query, variables)
        assert fast == body(NORMAL, db, tenant, query, variables)
        assert b"GRAPHQL_VALIDATION_FAILED" in fast
    assert counts().fell_back == before.fell_back + 5
    assert counts().answered == before.answered
    assert entry_count(db, tenant) == written


def test_a_new_contact_answers_the_same_bytes(db: Database) -> None:
    tenant = new_tenant(db)
    for document in (CREATE_CONTACT, EVERY_CONTACT_FIELD):
        query = unique(document)
        taken = {"contact": {"email": "taken@example.com"}}
        if document is CREATE_CONTACT:
            make_contact(db, tenant, email="taken@example.com")
        taught = teach(db, tenant, query, taken)
        assert lean(db, tenant, query, taken) == taught == body(NORMAL, db, tenant, query, taken)

        key = str(secrets.randbelow(10**12))
        contact = {
            **CREATE_CONTACT_VARIABLES["contact"],
            "email": f"c{key}@example.com",
            "identities": {"shopifyId": key, "klaviyoId": f"K{key}"},
            "birthday": "1990-02-28",
            "gender": "FEMALE",
            "extraInfo": {"tier": "gold", "n": [1, 2.5, None]},
            "idempotencyKey": f"create-{key}",
        }
        first = body(NORMAL, db, tenant, query, {"contact": contact})
        assert b'"success":true' in first
        assert lean(db, tenant, query, {"contact": contact}) == first


def test_conversions_orders_and_codes_answer_the_same_bytes(db: Database) -> None:
    tenant = new_tenant(db)
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "20")

    query = unique(CONVERT_CREDIT)
    credit = {
        "credit": {
            "walletUuid": contact.wallet_uuid,
            "amount": 2,
            "from": "GLOBAL",
            "to": "LOCAL",
            "conversionRate": 10,
            "idempotencyKey": "convert-1",
        }
    }
    first = teach(db, tenant, query, credit)
    assert b'"success":true' in first
    assert lean(db, tenant, query, credit) == first

    query = unique(RECORD_ORDER)
    order = {
        "order": {
            "externalId": "A-1",
            "total": "12.00",
            "currency": "USD",
            "contactUuid": contact.customer.uuid,
        }
    }
    first = teach(db, tenant, query, order)
    assert b'"success":true' in first
    assert lean(db, tenant, query, order) == first
    wrong = {"order": {**order["order"], "externalId": "A-2", "currency": "EUR"}}
    assert lean(db, tenant, query, wrong) == body(NORMAL, db, tenant, query, wrong)

    query = unique(REDEEM)
    unknown = {"code": "NO-SUCH-CODE"}
    assert teach(db, tenant, query, unknown) == body(NORMAL, db, tenant, query, unknown)
    code = make_code(db, tenant, contact.wallet_uuid, "1").code
    redeemed = lean(db, tenant, query, {"code": code})
    assert b'"success":true' in redeemed
    again = {"code": code}
    assert lean(db, tenant, query, again) == body(NORMAL, db, tenant, query, again)


def test_a_failure_after_the_write_is_answered_as_the_executor_answers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant(db)
    query = unique(EVERY_CONTACT_FIELD)
    teach(db, tenant, query, {"contact": {"email": "first@example.com"}})

    def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug in a nested field")

    monkeypatch.setattr(contact_api.Wallet, "of", broken)
    contact = {"email": "second@example.com", "idempotencyKey": "broken-1"}
    normal = body(NORMAL, db, tenant, query, {"contact": contact})
    assert b"INTERNAL_SERVER_ERROR" in normal
    assert b"a bug" not in normal
    assert lean(db, tenant, query, {"contact": contact}) == normal


@pytest.mark.parametrize(
    "document",
    [
        # two root fields, a fragment, a condition, an alias taken twice, an argument on a
        # nested field: the full pipeline answers every time
        "mutation M($a: ContactInput!, $b: ContactInput!) "
        "{ a: createContact(contact: $a) { success } b: createContact(contact: $b) { success } }",
        "mutation M($a: ContactInput!) { createContact(contact: $a) { ...F } } "
        "fragment F on CreateContactResponse { success }",
        "mutation M($a: ContactInput!, $x: Boolean!) "
        "{ createContact(contact: $a) { success @include(if: $x) } }",
        "mutation M($a: ContactInput!) { createContact(contact: $a) { s: success s: success } }",
        "mutation M($a: ContactInput!) "
        "{ createContact(contact: $a) { ... on CreateContactResponse { success } } }",
    ],
)
def test_documents_outside_the_subset_are_not_planned(db: Database, document: str) -> None:
    tenant = new_tenant(db)
    query = unique(document)
    variables: dict[str, Any] = {
        "a": {"email": f"{secrets.token_hex(4)}@example.com"},
        "b": {"email": f"{secrets.token_hex(4)}@example.com"},
        "x": True,
    }
    first = body(FAST, db, tenant, query, variables)
    assert b'"success":true' in first or b'"s":true' in first or b"creditEntries" in first
    assert FAST.fast_writes is not None
    assert not FAST.fast_writes.known(query, None)


def test_resolvers_read_nothing_of_info_but_the_context() -> None:
    """The plan gives resolvers the request's context alone, as their ``info``."""
    source = Path(contact_api.__file__).parent
    others = {
        f"{path.name}: {match.group(0)}"
        for path in source.rglob("*.py")
        for match in re.finditer(r"\binfo\.(?!context\b)\w+", path.read_text())
    }
    assert others == set()


def test_a_known_mutation_over_http_still_checks_its_token(
    api: Api, db: Database, tenant: Tenant
) -> None:
    wallet = make_contact(db, tenant).wallet_uuid
    query = unique(ADD_CREDIT_ENTRY)
    for _ in range(3):
        data = api.data(query, entry(wallet, "ADD", "1"), token=tenant.token)
        assert data["addCreditEntry"]["success"] is True
    assert tenant.principal.token_id is not None
    accounts.revoke_token(db, tenant.principal.token_id)

    response = api.post(
        "/graphql", {"query": query, "variables": entry(wallet, "ADD", "1")}, token=tenant.token
    )

    assert response.status_code == 401
    assert entry_count(db, tenant) == 3


def test_a_known_mutation_refused_by_scope_answers_a_token_revoked_since_as_revoked(
    api: Api, db: Database, tenant: Tenant
) -> None:
    """A write refused by what a remembered principal may do confirms the principal first:
    a read token revoked a moment ago gets a 401, not an answer about its old scope."""
    wallet = make_contact(db, tenant).wallet_uuid
    reader = accounts.create_token(db, account_uuid=tenant.uuid, scope="read")
    query = unique(ADD_CREDIT_ENTRY)
    for _ in range(3):  # known, and its principal remembered
        data = api.data(query, entry(wallet, "ADD", "1"), token=reader.token)
        assert data["addCreditEntry"]["success"] is False
        assert data["addCreditEntry"]["errors"] == [
            "this token has the 'read' scope; this operation needs 'write'"
        ]
    accounts.revoke_token(db, reader.info.token_id)

    response = api.post(
        "/graphql", {"query": query, "variables": entry(wallet, "ADD", "1")}, token=reader.token
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "the API token has been revoked"
    assert entry_count(db, tenant) == 0


def test_a_known_mutation_after_its_account_changed_runs_on_the_account_as_it_is(
    api: Api, db: Database, tenant: Tenant
) -> None:
    """A write admitted on the principal remembered for its token finds, in its transaction,
    that the account changed: it is run again on the principal looked up afresh."""
    wallet = make_contact(db, tenant).wallet_uuid
    query = unique(ADD_CREDIT_ENTRY)
    for _ in range(3):
        data = api.data(query, entry(wallet, "ADD", "1"), token=tenant.token)
        assert data["addCreditEntry"]["success"] is True
    accounts.update_account_settings(db, tenant.uuid, {"test_marker": "changed"})

    data = api.data(query, entry(wallet, "ADD", "1"), token=tenant.token)

    assert data["addCreditEntry"]["success"] is True
    assert entry_count(db, tenant) == 4


LF_NORMAL = build_lightfunnels_schema(Settings(fast_writes=False, fast_reads=False))
LF_FAST = build_lightfunnels_schema(Settings())
LD_NORMAL = build_loyaltydish_schema(Settings(fast_writes=False, fast_reads=False))
LD_FAST = build_loyaltydish_schema(Settings())


def dialect_body(
    schema: Any, context: Context, query: str, variables: dict[str, Any] | None = None
) -> bytes:
    return orjson.dumps(run_document(schema, schema.fast_writes, context, query, variables, None))


def test_the_dialects_known_mutations_answer_the_same_bytes(db: Database) -> None:
    tenant = new_tenant(db)
    contact = make_contact(db, tenant, email="dialect@example.com", first_name="Di")

    def lightfunnels(schema: Any, query: str, variables: dict[str, Any]) -> bytes:
        context = Context(db=db, principal=tenant.principal, request_id="differential")
        return dialect_body(schema, context, query, variables)

    update = unique(LF_UPDATE_CUSTOMER)
    customer_id = lf_global_id(contact.customer.number)
    changed = {"id": customer_id, "node": {"first_name": "Dee", "notes": "twice"}}
    taught = lightfunnels(LF_FAST, update, changed)
    assert b'"first_name":"Dee"' in taught
    assert LF_FAST.fast_writes is not None
    assert LF_FAST.fast_writes.known(update, None)
    before = LF_FAST.fast_writes.counts.answered
    assert lightfunnels(LF_FAST, update, changed) == taught
    assert lightfunnels(LF_NORMAL, update, changed) == taught
    unknown = {"id": lf_global_id(10**9), "node": {"first_name": "X"}}
    assert lightfunnels(LF_FAST, update, unknown) == lightfunnels(LF_NORMAL, update, unknown)
    assert LF_FAST.fast_writes.counts.answered == before + 2

    def loyaltydish(schema: Any, query: str) -> bytes:
        context = LoyaltydishContext(
            db=db, principal=tenant.principal, request_id="differential", caller=Caller.MERCHANT
        )
        return dialect_body(schema, context, query)

    consumer = encode(USER, contact.customer.number)
    archive = unique(
        f'mutation {{ updateConsumer(id: "{consumer}", city: "Oslo") '
        "{ success errors consumer { id firstname city } } }"
    )
    taught = loyaltydish(LD_FAST, archive)
    assert b'"city":"Oslo"' in taught
    assert LD_FAST.fast_writes is not None
    assert LD_FAST.fast_writes.known(archive, None)
    before = LD_FAST.fast_writes.counts.answered
    assert loyaltydish(LD_FAST, archive) == taught == loyaltydish(LD_NORMAL, archive)
    assert LD_FAST.fast_writes.counts.answered == before + 1
