"""No N+1: a page of contacts costs the same number of SQL statements whatever its size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from tests.support.client import Api
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, new_tenant

PAGE = """
query Page($limit: Int) {
  account {
    contacts(limit: $limit) {
      uuid
      email
      identities { shopify klaviyo lightspeed }
      wallet { uuid globalCreditBalance localCreditBalance }
    }
  }
}
"""

PAGE_WITH_ENTRIES = """
query Page($limit: Int) {
  account {
    contacts(limit: $limit) {
      uuid
      identities { shopify }
      wallet { uuid globalCreditBalance creditEntries(limit: 5) { uuid amount } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def crowded(db: Database) -> Tenant:
    """An account with 50 contacts, each with identities and a funded wallet."""
    tenant = new_tenant(db, name="Crowded merchant")
    for number in range(50):
        created = customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={"email": f"c{number}@example.com"},
                identities={"SHOPIFY": str(10_000 + number), "KLAVIYO": f"K{number}"},
            ),
        )
        fund(db, tenant, created.wallet_uuid, "2.50")
    return tenant


@contextmanager
def statements(server: ThreadServer) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Neither SQLite's explicit transaction starts nor the token's lookup, which a read
        # makes at most once a second (the principal cache) and so not in every request.
        if statement.strip().upper() != "BEGIN" and "api_tokens" not in statement:
            seen.append(statement)

    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)


def statements_for(api: Api, server: ThreadServer, query: str, limit: int, token: str) -> int:
    with statements(server) as seen:
        data = api.data(query, {"limit": limit}, token=token)
    assert len(data["account"]["contacts"]) == limit
    return len(seen)


def test_a_contacts_page_costs_the_same_statements_for_1_10_and_50_contacts(
    api: Api, server: ThreadServer, crowded: Tenant
) -> None:
    api.data(PAGE, {"limit": 1}, token=crowded.token)  # the token's last_used_at is now fresh

    counts = [statements_for(api, server, PAGE, limit, crowded.token) for limit in (1, 10, 50)]

    # the page with its wallets, and its identities (on PostgreSQL aggregated in the page's
    # statement)
    expected = 2 if server.db.is_sqlite else 1
    assert counts == [expected] * 3


def test_a_page_with_credit_entries_also_costs_a_constant_number_of_statements(
    api: Api, server: ThreadServer, crowded: Tenant
) -> None:
    api.data(PAGE_WITH_ENTRIES, {"limit": 1}, token=crowded.token)

    counts = [
        statements_for(api, server, PAGE_WITH_ENTRIES, limit, crowded.token)
        for limit in (1, 10, 50)
    ]

    # the page with its wallets, its identities (on PostgreSQL in the page's statement), the
    # wallets' entries
    expected = 3 if server.db.is_sqlite else 2
    assert counts == [expected] * 3


def test_the_page_is_complete_and_exact(api: Api, crowded: Tenant) -> None:
    data = api.data(PAGE, {"limit": 50}, token=crowded.token)

    contacts = data["account"]["contacts"]
    assert [contact["email"] for contact in contacts] == [
        f"c{number}@example.com" for number in reversed(range(50))
    ]
    assert contacts[0]["identities"] == {
        "shopify": "gid://shopify/Customer/10049",
        "klaviyo": "K49",
        "lightspeed": None,
    }
    assert {str(contact["wallet"]["globalCreditBalance"]) for contact in contacts} == {"2.50"}
    assert len({contact["wallet"]["uuid"] for contact in contacts}) == 50


CREATE = """
mutation Create($contact: ContactInput!) {
  createContact(contact: $contact) {
    success
    contact {
      uuid email number createdAt
      identities { shopify klaviyo lightspeed }
      wallet { uuid globalCreditBalance localCreditBalance globalCreditHeld createdAt }
    }
  }
}
"""

READ = """
query Read($uuid: String!) {
  account {
    contacts(uuid: $uuid) {
      uuid email number createdAt
      identities { shopify klaviyo lightspeed }
      wallet { uuid globalCreditBalance localCreditBalance globalCreditHeld createdAt }
    }
  }
}
"""


def test_a_created_contact_is_answered_from_what_was_written(
    api: Api, server: ThreadServer, crowded: Tenant
) -> None:
    """createContact's answer reads nothing after its write, and says what a read says."""
    contact = {
        "email": "fresh@example.com",
        "identities": {"shopifyId": "777", "klaviyoId": "K777"},
    }
    with statements(server) as seen:
        created = api.data(CREATE, {"contact": contact}, token=crowded.token)["createContact"]
    assert created["success"] is True
    reads = [
        statement
        for statement in seen
        if statement.lstrip().upper().startswith("SELECT")
        and ("FROM wallets" in statement or "FROM identities" in statement)
        and "external_id =" not in statement  # the uniqueness checks before the write
    ]
    assert reads == []

    again = api.data(READ, {"uuid": created["contact"]["uuid"]}, token=crowded.token)
    assert again["account"]["contacts"] == [created["contact"]]
