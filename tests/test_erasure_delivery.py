"""What an erasure tells other systems, delivered by the worker: the contact.erased webhook,
Shopify's customerRequestDataErasure and Klaviyo's profile deletion, on both stores."""

from __future__ import annotations

import httpx

from patron.accounts import service as accounts
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.integrations.klaviyo.profiles import SETTINGS_KEY as KLAVIYO_KEY
from patron.integrations.klaviyo.profiles import KlaviyoConnection, KlaviyoProfileSync
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.shopify.admin import SETTINGS_KEY as SHOPIFY_KEY
from patron.integrations.shopify.admin import ShopifyConnection
from patron.integrations.shopify.customers import ShopifyCustomerSync
from patron.privacy import service as privacy
from tests.support.fake_klaviyo import API_KEY, running_klaviyo
from tests.support.fake_shopify import TOKEN, running_shopify
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, fund
from tests.support.webhooks import make_webhook, outbox_states, tenant_dispatcher


def funded_contact(db: Database, tenant: Tenant, **identities: str) -> tuple[str, str]:
    created = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile={"email": "ada.lovelace@example.com", "name": "Ada Lovelace"},
            identities=identities,
        ),
    )
    fund(db, tenant, created.wallet_uuid, "4.00")
    return created.customer.uuid, created.wallet_uuid


def test_the_contact_erased_webhook_is_sent_with_ids_only(db: Database, tenant: Tenant) -> None:
    contact_uuid, wallet_uuid = funded_contact(db, tenant)
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_ERASED"])
        erased = privacy.erase_contact(db, tenant.principal, contact_uuid)
        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    [got] = receiver.received
    body = got.json
    assert body["type"] == "CONTACT_ERASED"
    assert body["account_uuid"] == tenant.uuid
    assert body["data"] == {"contact_uuid": contact_uuid, "number": 1, "wallet_uuid": wallet_uuid}
    assert erased.wallet_uuid == wallet_uuid
    text = got.body.decode().lower()
    # Words that cannot occur in a UUID's hex digits or a timestamp.
    assert "lovelace" not in text
    assert "example.com" not in text


def test_shopify_is_asked_to_erase_the_customer(db: Database, tenant: Tenant) -> None:
    with running_shopify() as fake:
        gid = fake.add_customer(email="ada.lovelace@example.com")
        setting = ShopifyConnection("s.myshopify.com", TOKEN, fake.base_url).as_setting(None)
        accounts.update_account_settings(db, tenant.uuid, {SHOPIFY_KEY: setting})
        contact_uuid, _ = funded_contact(db, tenant, SHOPIFY=gid)
        privacy.erase_contact(db, tenant.principal, contact_uuid)
        with httpx.Client(timeout=5) as client:
            Dispatcher(
                db,
                [ShopifyCustomerSync(db, client)],
                policy=RetryPolicy(max_attempts=3, base_seconds=0.0),
                account_id=tenant.uuid,
            ).drain()

    assert fake.erasure_requests == [gid]
    [request] = [r for r in fake.requests if "customerRequestDataErasure" in r["query"]]
    assert request["variables"] == {"customerId": gid}
    assert outbox_states(db, tenant)["shopify.customer_erasure"] == ("delivered", 1, None)


def test_a_customer_shopify_no_longer_has_is_done_with(db: Database, tenant: Tenant) -> None:
    with running_shopify() as fake:
        setting = ShopifyConnection("s.myshopify.com", TOKEN, fake.base_url).as_setting(None)
        accounts.update_account_settings(db, tenant.uuid, {SHOPIFY_KEY: setting})
        contact_uuid, _ = funded_contact(db, tenant, SHOPIFY="gid://shopify/Customer/404")
        privacy.erase_contact(db, tenant.principal, contact_uuid)
        with httpx.Client(timeout=5) as client:
            Dispatcher(
                db,
                [ShopifyCustomerSync(db, client)],
                policy=RetryPolicy(max_attempts=3, base_seconds=0.0),
                account_id=tenant.uuid,
            ).drain()

    assert fake.erasure_requests == []
    assert outbox_states(db, tenant)["shopify.customer_erasure"] == ("delivered", 1, None)


def test_klaviyo_is_asked_to_delete_the_profile(db: Database, tenant: Tenant) -> None:
    with running_klaviyo() as fake:
        setting = KlaviyoConnection(API_KEY, fake.base_url).as_setting(None)
        accounts.update_account_settings(db, tenant.uuid, {KLAVIYO_KEY: setting})
        contact_uuid, _ = funded_contact(db, tenant, KLAVIYO="01ADAPROFILE")
        privacy.erase_contact(db, tenant.principal, contact_uuid)
        with httpx.Client(timeout=5) as client:
            Dispatcher(
                db,
                [KlaviyoProfileSync(db, client)],
                policy=RetryPolicy(max_attempts=3, base_seconds=0.0),
                account_id=tenant.uuid,
            ).drain()

    assert fake.deletions == ["01ADAPROFILE"]
    [request] = [r for r in fake.requests if r["body"]["data"]["type"] != "profile"]
    assert request["body"] == {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {
                "profile": {"data": {"type": "profile", "id": "01ADAPROFILE", "attributes": {}}}
            },
        }
    }
    assert request["headers"]["revision"]
    assert outbox_states(db, tenant)["klaviyo.profile_deletion"] == ("delivered", 1, None)


def test_nothing_is_queued_for_a_vendor_that_is_not_connected(db: Database, tenant: Tenant) -> None:
    contact_uuid, _ = funded_contact(db, tenant, SHOPIFY="123", KLAVIYO="01X")

    privacy.erase_contact(db, tenant.principal, contact_uuid)

    states = outbox_states(db, tenant)
    assert "shopify.customer_erasure" not in states
    assert "klaviyo.profile_deletion" not in states
    assert states["contact.erased"][0] == "pending"
