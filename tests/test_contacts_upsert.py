"""upsertContact: match by email or external id, create when none matches, idempotent.

createContact keeps refusing a known email or id (EMAIL_TAKEN / IDENTITY_TAKEN)."""

from __future__ import annotations

from typing import Any

from patron.core.db import Database
from tests.support.client import Api
from tests.support.store import account_rows
from tests.support.tenants import Tenant, make_contact

UPSERT = """
mutation UpsertContact($contact: ContactInput!) {
  upsertContact(contact: $contact) {
    success
    created
    contact { uuid name email phone identities { shopify } wallet { uuid } updatedAt }
    errors
    userErrors { field code }
  }
}"""

CREATE = """
mutation CreateContact($contact: ContactInput!) {
  createContact(contact: $contact) { success errors userErrors { code } }
}"""


def upsert(api: Api, tenant: Tenant, contact: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = api.data(UPSERT, {"contact": contact}, token=tenant.token)[
        "upsertContact"
    ]
    return answer


def test_an_unknown_email_creates_and_the_same_call_again_changes_nothing(
    api: Api, db: Database, tenant: Tenant
) -> None:
    given = {"email": "ann@example.com", "name": "Ann", "identities": {"shopifyId": "777"}}

    first = upsert(api, tenant, given)
    rows = account_rows(db, tenant.uuid)
    again = upsert(api, tenant, given)

    assert first["success"] is True
    assert first["created"] is True
    assert first["contact"]["identities"]["shopify"] == "gid://shopify/Customer/777"
    assert again["success"] is True
    assert again["created"] is False
    assert again["contact"] == first["contact"]  # the same contact, updatedAt kept
    assert account_rows(db, tenant.uuid) == rows  # no write at all, not even an event


def test_a_known_email_updates_only_the_fields_given(
    api: Api, db: Database, tenant: Tenant
) -> None:
    known = make_contact(db, tenant, email="Bob@Example.com", name="Bob", phone="+15550100")

    answer = upsert(api, tenant, {"email": "bob@example.com", "name": "Robert"})

    assert answer["created"] is False
    assert answer["contact"]["uuid"] == known.customer.uuid
    assert answer["contact"]["name"] == "Robert"
    assert answer["contact"]["phone"] == "+15550100"
    assert answer["contact"]["wallet"]["uuid"] == known.wallet_uuid


def test_a_known_identity_matches_and_links_a_new_email(
    api: Api, db: Database, tenant: Tenant
) -> None:
    known = make_contact(db, tenant, email=None)
    upsert(api, tenant, {"email": known.customer.email, "identities": {"shopifyId": "4242"}})

    answer = upsert(
        api,
        tenant,
        {
            "email": "new.address@example.com",
            "identities": {"shopifyId": "gid://shopify/Customer/4242"},
        },
    )

    assert answer["created"] is False
    assert answer["contact"]["uuid"] == known.customer.uuid
    assert answer["contact"]["email"] == "new.address@example.com"


def test_email_and_id_of_two_different_contacts_are_refused(
    api: Api, db: Database, tenant: Tenant
) -> None:
    make_contact(db, tenant, email="one@example.com")
    upsert(api, tenant, {"email": "two@example.com", "identities": {"shopifyId": "99"}})
    rows = account_rows(db, tenant.uuid)

    answer = upsert(api, tenant, {"email": "one@example.com", "identities": {"shopifyId": "99"}})

    assert answer["success"] is False
    assert answer["userErrors"] == [{"field": "email", "code": "MATCH_CONFLICT"}]
    assert account_rows(db, tenant.uuid) == rows


def test_nothing_to_match_by_is_refused(api: Api, db: Database, tenant: Tenant) -> None:
    rows = account_rows(db, tenant.uuid)

    answer = upsert(api, tenant, {"name": "No Key"})

    assert answer["success"] is False
    assert answer["userErrors"] == [{"field": "email", "code": "INVALID"}]
    assert account_rows(db, tenant.uuid) == rows


def test_create_contact_still_refuses_a_known_email_or_id(
    api: Api, db: Database, tenant: Tenant
) -> None:
    upsert(api, tenant, {"email": "kept@example.com", "identities": {"shopifyId": "31"}})

    by_email = api.data(CREATE, {"contact": {"email": "kept@example.com"}}, token=tenant.token)
    by_id = api.data(
        CREATE,
        {"contact": {"email": "other@example.com", "identities": {"shopifyId": "31"}}},
        token=tenant.token,
    )

    assert by_email["createContact"]["userErrors"] == [{"code": "EMAIL_TAKEN"}]
    assert by_id["createContact"]["userErrors"] == [{"code": "IDENTITY_TAKEN"}]
