"""The Shopify connector against a local fake of the Admin GraphQL API, on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from patron.accounts import service as accounts
from patron.cli.main import app
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.core.sealing import unseal
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.shopify.admin import SETTINGS_KEY, ShopifyConnection
from patron.integrations.shopify.customers import ShopifyCustomerSync
from tests.support.fake_shopify import TOKEN, FakeShopify, running_shopify
from tests.support.outbox import drain_now
from tests.support.tenants import Tenant
from tests.support.webhooks import outbox_states


def connect(
    db: Database,
    tenant: Tenant,
    fake: FakeShopify,
    token: str = TOKEN,
    mirror: bool = False,
    secret_key: str | None = None,
) -> None:
    connection = ShopifyConnection("test-shop.myshopify.com", token, fake.base_url, mirror)
    setting = connection.as_setting(secret_key)
    accounts.update_account_settings(db, tenant.uuid, {SETTINGS_KEY: setting})


def shopify_contact(
    db: Database, tenant: Tenant, email: str = "ada@example.com", **identities: str
) -> str:
    created = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile={"email": email, "first_name": "Ada", "last_name": "Lovelace"},
            identities=identities,
            connected_services=["SHOPIFY"],
        ),
    )
    return created.customer.uuid


def shopify_id_of(db: Database, tenant: Tenant, contact_uuid: str) -> str | None:
    with db.read() as connection:
        found = customers.identities_for(connection, tenant.principal, [contact_uuid])
    return found.get(contact_uuid, {}).get("SHOPIFY")


@contextmanager
def shopify_dispatcher(
    db: Database, tenant: Tenant, attempts: int = 4, secret_key: str | None = None
) -> Iterator[Dispatcher]:
    with httpx.Client(timeout=5) as client:
        yield Dispatcher(
            db,
            [ShopifyCustomerSync(db, client, secret_key)],
            policy=RetryPolicy(max_attempts=attempts, base_seconds=0.0),
            account_id=tenant.uuid,
        )


def test_a_shopify_contact_becomes_a_shopify_customer_and_keeps_its_gid(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        contact = shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    [(gid, values)] = fake.customers.items()
    assert values == {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}
    assert shopify_id_of(db, tenant, contact) == gid
    [request] = fake.requests
    assert request["token"] == TOKEN
    assert "customerCreate(input: $input)" in request["query"]
    # Storing the id is itself a contact.updated event: handled, and nothing sent twice.
    assert outbox_states(db, tenant) == {
        "contact.created": ("delivered", 1, None),
        "contact.updated": ("delivered", 1, None),
    }


def test_an_event_handled_again_creates_no_second_customer(db: Database, tenant: Tenant) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()
            with db.write() as connection:  # at-least-once: the same events come round again
                connection.execute(
                    update(outbox_events)
                    .where(outbox_events.c.account_id == tenant.uuid)
                    .values(status="pending", attempts=0)
                )
            dispatcher.drain()

    assert len(fake.customers) == 1
    assert len(fake.requests) == 1


def test_a_customer_shopify_already_has_is_linked_not_duplicated(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        existing = fake.add_customer(email="ada@example.com")
        contact = shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert list(fake.customers) == [existing]
    assert shopify_id_of(db, tenant, contact) == existing


def test_contacts_without_shopify_or_already_linked_send_nothing(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        customers.create_customer(
            db, tenant.principal, NewCustomer(profile={"email": "plain@example.com"})
        )
        linked = shopify_contact(db, tenant, "linked@example.com", SHOPIFY="123")
        with shopify_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert fake.requests == []
    assert shopify_id_of(db, tenant, linked) == "gid://shopify/Customer/123"


def test_throttling_and_malformed_answers_are_retried(db: Database, tenant: Tenant) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        fake.trouble = ["429", "THROTTLED", "MALFORMED"]
        contact = shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant, attempts=5) as dispatcher:
            waits = drain_now(db, tenant, dispatcher)

    assert len(fake.requests) == 4
    # Retry-After: 2 on the 429; the THROTTLED answer's cost restores in (101 - 1) / 100 s.
    assert [round(wait) for wait in waits] == [2, 1]  # the malformed answer: no wait
    assert shopify_id_of(db, tenant, contact) == next(iter(fake.customers))
    assert outbox_states(db, tenant)["contact.created"] == ("delivered", 4, None)


def test_an_invalid_token_is_a_dead_letter_and_the_contact_stays(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, token="shpat_wrong")
        contact = shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert len(fake.requests) == 1
    assert outbox_states(db, tenant) == {
        "contact.created": ("dead", 1, "Shopify refused the access token (HTTP 401)")
    }
    assert shopify_id_of(db, tenant, contact) is None
    with db.read() as connection:
        assert customers.find_customers(connection, tenant.principal, uuid=contact) != []


def test_an_account_without_a_shopify_connection_parks_the_event(
    db: Database, tenant: Tenant
) -> None:
    shopify_contact(db, tenant)

    with shopify_dispatcher(db, tenant) as dispatcher:
        dispatcher.drain()

    assert outbox_states(db, tenant) == {
        "contact.created": (
            "dead",
            1,
            "the account has no Shopify connection (patron shopify connect)",
        )
    }


def test_connecting_shopify_stores_the_token_without_printing_it(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    runner = CliRunner()
    base = ["--account", tenant.uuid, "--database", database_url]

    connected = runner.invoke(
        app, ["shopify", "connect", *base, "--shop", "My-Shop.myshopify.com", "--token", TOKEN]
    )
    refused = runner.invoke(
        app, ["shopify", "connect", *base, "--shop", "evil.example.com", "--token", TOKEN]
    )

    assert connected.exit_code == 0, connected.output
    assert json.loads(connected.stdout) == {
        "account": tenant.uuid,
        "shop": "my-shop.myshopify.com",
        "connected": True,
        "mirror_store_credit": False,
        "token_sealed": False,
    }
    assert TOKEN not in connected.output
    assert accounts.get_account(db, tenant.uuid).settings[SETTINGS_KEY] == {
        "shop": "my-shop.myshopify.com",
        "access_token": TOKEN,
    }
    assert refused.exit_code == 1
    assert "myshopify.com" in refused.output


SECRET_KEY = "k" * 40


def test_a_sealed_token_is_stored_unreadable_and_opened_by_the_worker(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, secret_key=SECRET_KEY)
        contact = shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant, secret_key=SECRET_KEY) as dispatcher:
            dispatcher.drain()

    stored = accounts.get_account(db, tenant.uuid).settings[SETTINGS_KEY]["access_token"]
    assert stored.startswith("sealed:v1:")
    assert TOKEN not in json.dumps(accounts.get_account(db, tenant.uuid).settings)
    assert fake.requests[0]["token"] == TOKEN
    assert shopify_id_of(db, tenant, contact) == next(iter(fake.customers))


def test_a_token_sealed_with_another_key_is_a_dead_letter_saying_so(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, secret_key=SECRET_KEY)
        shopify_contact(db, tenant)
        with shopify_dispatcher(db, tenant, secret_key="another key " * 4) as dispatcher:
            dispatcher.drain()

    assert fake.requests == []
    [(status, attempts, error)] = outbox_states(db, tenant).values()
    assert (status, attempts) == ("dead", 1)
    assert error == (
        "the Shopify token cannot be read: a stored secret was sealed with another "
        "PATRON_SECRET_KEY than this one"
    )


def test_connecting_with_a_secret_key_seals_the_token(
    db: Database, database_url: str, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_SECRET_KEY", SECRET_KEY)
    result = CliRunner().invoke(
        app,
        [
            "shopify",
            "connect",
            "--account",
            tenant.uuid,
            "--database",
            database_url,
            "--shop",
            "my-shop.myshopify.com",
            "--token",
            TOKEN,
            "--mirror-store-credit",
        ],
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["token_sealed"] is True
    assert json.loads(result.stdout)["mirror_store_credit"] is True
    stored = accounts.get_account(db, tenant.uuid).settings[SETTINGS_KEY]
    assert stored["access_token"].startswith("sealed:v1:")
    assert stored["mirror_store_credit"] is True
    assert unseal(stored["access_token"], SECRET_KEY) == TOKEN
