"""The Klaviyo connector against a local fake of its profile-import endpoint, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from patron.accounts import service as accounts
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
from tests.support.fake_klaviyo import API_KEY, FakeKlaviyo, running_klaviyo
from tests.support.tenants import Tenant
from tests.support.webhooks import outbox_states


def connect(db: Database, tenant: Tenant, fake: FakeKlaviyo, key: str = API_KEY) -> None:
    setting = KlaviyoConnection(key, fake.base_url).as_setting()
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


@pytest.mark.parametrize("trouble", ["429", "500", "MALFORMED"])
def test_throttling_errors_and_malformed_answers_are_retried(
    db: Database, tenant: Tenant, trouble: str
) -> None:
    with running_klaviyo() as fake:
        connect(db, tenant, fake)
        fake.trouble = [trouble]
        contact = klaviyo_contact(db, tenant)
        with klaviyo_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert klaviyo_id_of(db, tenant, contact) == next(iter(fake.profiles))
    assert outbox_states(db, tenant)["contact.created"] == ("delivered", 2, None)


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
