"""The Klaviyo connector against a local fake of its profile-import endpoint, on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from typer.testing import CliRunner

from patron.accounts import service as accounts
from patron.cli.main import app
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import CustomerChanges, NewCustomer
from patron.integrations.klaviyo.profiles import (
    REVISION,
    SETTINGS_KEY,
    KlaviyoConnection,
    KlaviyoProfileSync,
)
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.wallets import repository as wallets
from patron.wallets import service as wallet_service
from patron.wallets.models import EntryCommand
from tests.support.fake_klaviyo import API_KEY, FakeKlaviyo, running_klaviyo
from tests.support.outbox import drain_now
from tests.support.tenants import Tenant, fund
from tests.support.webhooks import outbox_states


def connect(
    db: Database, tenant: Tenant, fake: FakeKlaviyo, key: str = API_KEY, balances: bool = False
) -> None:
    setting = KlaviyoConnection(key, fake.base_url, balances).as_setting(None)
    accounts.update_account_settings(db, tenant.uuid, {SETTINGS_KEY: setting})


def klaviyo_contact(db: Database, tenant: Tenant) -> str:
    created = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile={"email": "grace@example.com", "first_name": "Grace"},
            connected_services=["KLAVIYO"],
        ),
    )
    return created.customer.uuid


def klaviyo_id_of(db: Database, tenant: Tenant, contact_uuid: str) -> str | None:
    with db.read() as connection:
        found = customers.identities_for(connection, tenant.principal, [contact_uuid])
    return found.get(contact_uuid, {}).get("KLAVIYO")


@contextmanager
def klaviyo_dispatcher(db: Database, tenant: Tenant) -> Iterator[Dispatcher]:
    with httpx.Client(timeout=5) as client:
        yield Dispatcher(
            db,
            [KlaviyoProfileSync(db, client)],
            policy=RetryPolicy(max_attempts=4, base_seconds=0.0),
            account_id=tenant.uuid,
        )


def test_a_klaviyo_contact_is_upserted_as_a_profile_and_keeps_its_id(
    db: Database, tenant: Tenant
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake)
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    [(profile_id, attributes)] = fake.profiles.items()
    assert attributes == {
        "email": "grace@example.com",
        "first_name": "Grace",
        "external_id": contact,
    }
    assert klaviyo_id_of(db, tenant, contact) == profile_id
    first = fake.requests[0]
    assert first["headers"]["revision"] == REVISION
    assert first["headers"]["content-type"] == "application/vnd.api+json"
    assert first["body"]["data"]["type"] == "profile"
    # Storing the id is a contact.updated: one more upsert, by id, and nothing after it.
    assert [request["body"]["data"].get("id") for request in fake.requests] == [None, profile_id]
    assert outbox_states(db, tenant) == {
        "contact.created": ("delivered", 1, None),
        "contact.updated": ("delivered", 1, None),
    }


def test_a_changed_contact_updates_the_same_profile(db: Database, tenant: Tenant) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake)
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()
            customers.update_customer(
                db, tenant.principal, contact, CustomerChanges(profile={"last_name": "Hopper"})
            )
            dispatcher.drain()

    [attributes] = fake.profiles.values()
    assert attributes["last_name"] == "Hopper"


@pytest.mark.parametrize(("trouble", "wait"), [("429", 3), ("500", 0), ("MALFORMED", 0)])
def test_throttling_errors_and_malformed_answers_are_retried(
    db: Database, tenant: Tenant, trouble: str, wait: int
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake)
        fake.trouble = [trouble]
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            waits = drain_now(db, tenant, dispatcher)

    assert klaviyo_id_of(db, tenant, contact) == next(iter(fake.profiles))
    assert outbox_states(db, tenant)["contact.created"] == ("delivered", 2, None)
    assert [round(w) for w in waits] == ([wait] if wait else [])  # 429's Retry-After: 3


def test_balances_travel_as_profile_properties_after_every_credit_entry(
    db: Database, tenant: Tenant
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake, balances=True)
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()
            wallet = wallet_of(db, tenant, contact)
            fund(db, tenant, wallet, "30.00")
            fund(db, tenant, wallet, 120, credit_type="LOCAL")
            spend(db, tenant, wallet, "7.25")
            dispatcher.drain()

    [profile] = fake.profiles.values()
    assert profile["properties"] == {
        "patron_store_credit": 22.75,
        "patron_loyalty_points": 120,
        "patron_currency": "USD",
    }
    # The contact's two upserts and one per entry, each with the balances of its moment.
    assert len(fake.requests) == 5
    first = fake.requests[0]["body"]["data"]["attributes"]["properties"]
    assert first["patron_store_credit"] == 0


def test_without_the_option_or_for_other_contacts_no_balance_is_sent(
    db: Database, tenant: Tenant
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake)
        contact = klaviyo_contact(db, tenant)
        plain = customers.create_customer(
            db, tenant.principal, NewCustomer(profile={"email": "plain@example.com"})
        )
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()
            fund(db, tenant, wallet_of(db, tenant, contact), "5.00")
            dispatcher.drain()
        connect(db, tenant, fake, balances=True)  # a new worker sees the option at once
        fund(db, tenant, plain.wallet_uuid, "5.00")
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert len(fake.requests) == 2  # the contact's own upserts only
    assert all("properties" not in r["body"]["data"]["attributes"] for r in fake.requests)


def test_connecting_klaviyo_keeps_the_key_and_the_balance_option(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "klaviyo",
            "connect",
            "--account",
            tenant.uuid,
            "--database",
            database_url,
            "--api-key",
            API_KEY,
            "--send-balances",
        ],
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "account": tenant.uuid,
        "connected": True,
        "send_balances": True,
        "key_sealed": False,
    }
    assert API_KEY not in result.output
    assert accounts.get_account(db, tenant.uuid).settings[SETTINGS_KEY] == {
        "api_key": API_KEY,
        "send_balances": True,
    }


def wallet_of(db: Database, tenant: Tenant, contact: str) -> str:
    with db.read() as connection:
        found = wallets.wallets_for_customers(connection, tenant.uuid, [contact])
    return found[contact].uuid


def spend(db: Database, tenant: Tenant, wallet: str, amount: str) -> None:
    wallet_service.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet, action="SPEND", credit_type="GLOBAL", amount=Decimal(amount)
        ),
    )


@pytest.mark.parametrize(
    ("key", "trouble", "error"),
    [
        ("pk_wrong", [], "Klaviyo refused the API key (HTTP 401)"),
        (API_KEY, ["400"], "Klaviyo refused the profile (HTTP 400): scripted 400"),
    ],
)
def test_a_refused_key_or_profile_is_a_dead_letter_and_the_contact_stays(
    db: Database, tenant: Tenant, key: str, trouble: list[str], error: str
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake, key=key)
        fake.trouble = list(trouble)
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert len(fake.requests) == 1
    assert outbox_states(db, tenant) == {"contact.created": ("dead", 1, error)}
    assert klaviyo_id_of(db, tenant, contact) is None
