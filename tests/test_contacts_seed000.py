"""Seed 000 ("Managing Contacts"): every query and mutation it prints runs verbatim.

The operation texts below are copied from the seed character for character, and sent with
the seed's variables; each answer has the documented shape, exact values and no ``errors``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import Connection, func, select

from patron.core.bulk import RowInsert
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import CustomerChanges, NewCustomer
from patron.customers.tables import customers as customers_table
from patron.customers.tables import identities as identities_table
from patron.wallets.tables import credit_entries, wallets
from tests.support.client import Api
from tests.support.store import account_rows, audit, outbox
from tests.support.tenants import Tenant, fund, make_contact

# The uuids Patron hands out: version 7 (time-ordered, RFC 9562).
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

GET_CONTACTS = """query GetContacts($limit: Int, $offset: Int) {
account {
contacts(limit: $limit, offset: $offset) {
uuid
name
email
phone
identities {
shopify
klaviyo
lightspeed
}
wallet {
uuid
globalCreditBalance
localCreditBalance
}
}
}
}"""

GET_CONTACT_BY_EMAIL = """query GetContactByEmail($email: String) {
account {
contacts(email: $email) {
uuid
name
wallet {
uuid
}
}
}
}"""

CREATE_CONTACT = """mutation CreateContact($contact: ContactInput!) {
createContact(contact: $contact) {
success
contact {
uuid
wallet {
uuid
}
}
errors
}
}"""

CREATE_CONTACT_VARIABLES = {
    "contact": {
        "email": "customer@example.com",
        "name": "John Doe",
        "phone": "+1234567890",
        "identities": {"shopifyId": "gid://shopify/Customer/123456789"},
        "connectedServices": ["SHOPIFY"],
    }
}

DELETE_CONTACT = """mutation DeleteContact($uuid: String!) {
deleteContact(uuid: $uuid) {
success
errors
}
}"""


def create_seed_contact(api: Api, tenant: Tenant) -> tuple[str, str]:
    data = api.data(CREATE_CONTACT, CREATE_CONTACT_VARIABLES, token=tenant.token)
    created = data["createContact"]
    return created["contact"]["uuid"], created["contact"]["wallet"]["uuid"]


def test_create_contact_runs_verbatim_and_stores_the_contact(
    api: Api, db: Database, tenant: Tenant
) -> None:
    data = api.data(CREATE_CONTACT, CREATE_CONTACT_VARIABLES, token=tenant.token)

    created = data["createContact"]
    contact_uuid = created["contact"]["uuid"]
    wallet_uuid = created["contact"]["wallet"]["uuid"]
    assert created == {
        "success": True,
        "contact": {"uuid": contact_uuid, "wallet": {"uuid": wallet_uuid}},
        "errors": [],
    }
    assert UUID.match(contact_uuid)
    assert UUID.match(wallet_uuid)
    assert contact_uuid != wallet_uuid
    with db.read() as connection:
        row = connection.execute(
            select(
                customers_table.c.email,
                customers_table.c.name,
                customers_table.c.phone,
                customers_table.c.number,
                customers_table.c.connected_services,
            ).where(
                customers_table.c.account_id == tenant.uuid,
                customers_table.c.uuid == contact_uuid,
            )
        ).one()
        linked = connection.execute(
            select(identities_table.c.service, identities_table.c.external_id).where(
                identities_table.c.account_id == tenant.uuid,
                identities_table.c.customer_uuid == contact_uuid,
            )
        ).all()
        wallet = connection.execute(
            select(
                wallets.c.customer_uuid, wallets.c.global_balance, wallets.c.local_balance
            ).where(wallets.c.account_id == tenant.uuid, wallets.c.uuid == wallet_uuid)
        ).one()
    assert tuple(row) == ("customer@example.com", "John Doe", "+1234567890", 1, ["SHOPIFY"])
    assert [tuple(item) for item in linked] == [("SHOPIFY", "123456789")]
    assert tuple(wallet) == (contact_uuid, 0, 0)


def test_create_contact_queues_contact_created_for_the_shopify_sync(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid, wallet_uuid = create_seed_contact(api, tenant)

    assert outbox(db, tenant.uuid) == [
        (
            "contact.created",
            {
                "contact_uuid": contact_uuid,
                "number": 1,
                "connected_services": ["SHOPIFY"],
                "wallet_uuid": wallet_uuid,
            },
        )
    ]


def test_get_contacts_runs_verbatim_with_and_without_paging_variables(
    api: Api, tenant: Tenant
) -> None:
    contact_uuid, wallet_uuid = create_seed_contact(api, tenant)
    expected = {
        "account": {
            "contacts": [
                {
                    "uuid": contact_uuid,
                    "name": "John Doe",
                    "email": "customer@example.com",
                    "phone": "+1234567890",
                    "identities": {
                        "shopify": "gid://shopify/Customer/123456789",
                        "klaviyo": None,
                        "lightspeed": None,
                    },
                    "wallet": {
                        "uuid": wallet_uuid,
                        "globalCreditBalance": Decimal("0.00"),
                        "localCreditBalance": 0,
                    },
                }
            ]
        }
    }

    paged = api.data(GET_CONTACTS, {"limit": 10, "offset": 0}, token=tenant.token)
    unpaged = api.data(GET_CONTACTS, token=tenant.token)
    past_the_end = api.data(GET_CONTACTS, {"limit": 10, "offset": 1}, token=tenant.token)

    assert paged == expected
    assert unpaged == expected
    assert past_the_end == {"account": {"contacts": []}}


def test_get_contacts_shows_the_exact_wallet_balances(
    api: Api, db: Database, tenant: Tenant
) -> None:
    _, wallet_uuid = create_seed_contact(api, tenant)
    fund(db, tenant, wallet_uuid, "12.30")
    fund(db, tenant, wallet_uuid, 250, credit_type="LOCAL")

    data = api.data(GET_CONTACTS, {"limit": 1, "offset": 0}, token=tenant.token)

    wallet = data["account"]["contacts"][0]["wallet"]
    assert wallet == {
        "uuid": wallet_uuid,
        "globalCreditBalance": Decimal("12.30"),
        "localCreditBalance": 250,
    }
    assert str(wallet["globalCreditBalance"]) == "12.30"


def test_get_contact_by_email_runs_verbatim(api: Api, tenant: Tenant) -> None:
    contact_uuid, wallet_uuid = create_seed_contact(api, tenant)
    make_contact_with_other_email = api.data(
        CREATE_CONTACT,
        {"contact": {"email": "someone.else@example.com", "name": "Jane Roe"}},
        token=tenant.token,
    )
    assert make_contact_with_other_email["createContact"]["success"] is True

    data = api.data(GET_CONTACT_BY_EMAIL, {"email": "customer@example.com"}, token=tenant.token)

    assert data == {
        "account": {
            "contacts": [
                {"uuid": contact_uuid, "name": "John Doe", "wallet": {"uuid": wallet_uuid}}
            ]
        }
    }


def test_get_contact_by_email_of_nobody_is_an_empty_list(api: Api, tenant: Tenant) -> None:
    create_seed_contact(api, tenant)

    data = api.data(GET_CONTACT_BY_EMAIL, {"email": "nobody@example.com"}, token=tenant.token)

    assert data == {"account": {"contacts": []}}


def test_delete_contact_runs_verbatim_and_removes_a_contact_without_entries_and_its_wallet(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid, _wallet_uuid = create_seed_contact(api, tenant)
    kept = make_contact(db, tenant, email="kept@example.com")
    fund(db, tenant, kept.wallet_uuid, "1.00")

    data = api.data(DELETE_CONTACT, {"uuid": contact_uuid}, token=tenant.token)

    assert data == {"deleteContact": {"success": True, "errors": []}}
    with db.read() as connection:
        remaining = connection.execute(
            select(wallets.c.uuid).where(wallets.c.account_id == tenant.uuid)
        ).all()
        linked = connection.execute(
            select(func.count())
            .select_from(identities_table)
            .where(identities_table.c.account_id == tenant.uuid)
        ).scalar_one()
    assert [row.uuid for row in remaining] == [kept.wallet_uuid]
    assert linked == 0


def test_delete_contact_with_entries_runs_verbatim_and_erases_it_keeping_the_books(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid, wallet_uuid = create_seed_contact(api, tenant)
    fund(db, tenant, wallet_uuid, "5.00")
    fund(db, tenant, wallet_uuid, 10, credit_type="LOCAL")
    kept = make_contact(db, tenant, email="kept@example.com")
    fund(db, tenant, kept.wallet_uuid, "1.00")

    data = api.data(DELETE_CONTACT, {"uuid": contact_uuid}, token=tenant.token)

    assert data == {"deleteContact": {"success": True, "errors": []}}
    assert api.data(GET_CONTACTS, token=tenant.token)["account"]["contacts"] == [
        {
            "uuid": kept.customer.uuid,
            "name": None,
            "email": "kept@example.com",
            "phone": None,
            "identities": {"shopify": None, "klaviyo": None, "lightspeed": None},
            "wallet": {
                "uuid": kept.wallet_uuid,
                "globalCreditBalance": Decimal("1.00"),
                "localCreditBalance": 0,
            },
        }
    ]
    with db.read() as connection:
        remaining_wallets = connection.execute(
            select(wallets.c.uuid).where(wallets.c.account_id == tenant.uuid)
        ).all()
        deleted_entries = connection.execute(
            select(func.count())
            .select_from(credit_entries)
            .where(credit_entries.c.account_id == tenant.uuid)
            .where(credit_entries.c.wallet_uuid == wallet_uuid)
        ).scalar_one()
        kept_entries = connection.execute(
            select(func.count())
            .select_from(credit_entries)
            .where(credit_entries.c.account_id == tenant.uuid)
            .where(credit_entries.c.wallet_uuid == kept.wallet_uuid)
        ).scalar_one()
        linked = connection.execute(
            select(func.count())
            .select_from(identities_table)
            .where(identities_table.c.account_id == tenant.uuid)
        ).scalar_one()
    # The contact is gone from every read; its wallet and entries stay, anonymous.
    assert sorted(row.uuid for row in remaining_wallets) == sorted([kept.wallet_uuid, wallet_uuid])
    assert deleted_entries == 2
    assert kept_entries == 1
    assert linked == 0


def test_delete_contact_frees_its_email_and_shopify_id_for_a_new_contact(
    api: Api, tenant: Tenant
) -> None:
    first_uuid, _ = create_seed_contact(api, tenant)
    api.data(DELETE_CONTACT, {"uuid": first_uuid}, token=tenant.token)

    second_uuid, _ = create_seed_contact(api, tenant)

    assert second_uuid != first_uuid


def test_delete_contact_writes_an_audit_event_without_personal_data(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid, _ = create_seed_contact(api, tenant)

    api.data(DELETE_CONTACT, {"uuid": contact_uuid}, token=tenant.token)

    events = audit(db, tenant.uuid)
    assert len(events) == 1
    event = events[0]
    assert event["action"] == "contact.deleted"
    assert event["subject_type"] == "contact"
    assert event["subject_uuid"] == contact_uuid
    assert event["actor"] == f"token:{tenant.principal.token_id}"
    assert event["details"] == {"number": 1}
    written = json.dumps(event, default=str).lower()
    for personal in ("customer@example.com", "john", "doe", "+1234567890", "123456789"):
        assert personal not in written


def test_delete_contact_queues_contact_deleted_without_personal_data(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid, wallet_uuid = create_seed_contact(api, tenant)

    api.data(DELETE_CONTACT, {"uuid": contact_uuid}, token=tenant.token)

    assert outbox(db, tenant.uuid) == [
        (
            "contact.created",
            {
                "contact_uuid": contact_uuid,
                "number": 1,
                "connected_services": ["SHOPIFY"],
                "wallet_uuid": wallet_uuid,
            },
        ),
        ("contact.deleted", {"contact_uuid": contact_uuid, "number": 1}),
    ]


def test_a_failing_outbox_write_rolls_the_whole_create_back(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = account_rows(db, tenant.uuid)
    written = customers.insert_together

    def broken_outbox(connection: Connection, rows: list[RowInsert]) -> None:
        # The customer, its ids and its wallet are written; the event's row fails.
        assert rows[-1][0].name == "outbox_events"
        written(connection, rows[:-1])
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(customers, "insert_together", broken_outbox)
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={"email": "atomic@example.com", "name": "Ada"},
                identities={"SHOPIFY": "42"},
            ),
        )

    assert account_rows(db, tenant.uuid) == before


def test_a_failing_outbox_write_rolls_the_whole_update_back(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = make_contact(db, tenant, email="same@example.com", name="Same")
    before = account_rows(db, tenant.uuid)

    def broken_outbox(*args: object, **kwargs: object) -> str:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(customers, "record_event", broken_outbox)
    with pytest.raises(RuntimeError, match="outbox unavailable"):
        customers.update_customer(
            db,
            tenant.principal,
            created.customer.uuid,
            CustomerChanges(profile={"name": "Changed"}, identities={"SHOPIFY": "43"}),
        )

    assert account_rows(db, tenant.uuid) == before


def test_a_failing_audit_write_rolls_the_whole_delete_back(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = make_contact(db, tenant, email="stays@example.com")
    before = account_rows(db, tenant.uuid)

    def broken_audit(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(customers, "record_audit", broken_audit)
    with pytest.raises(RuntimeError, match="audit unavailable"):
        customers.delete_customer(db, tenant.principal, created.customer.uuid)

    assert account_rows(db, tenant.uuid) == before
