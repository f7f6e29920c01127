"""Webhook subscriptions on the native API: who may change them, what they refuse and show."""

from __future__ import annotations

from typing import Any

import pytest

from patron.core.db import Database
from patron.webhooks.events import WEBHOOK_EVENTS
from tests.support.client import Api
from tests.support.receiver import running_receiver
from tests.support.store import audit
from tests.support.tenants import Tenant, make_contact
from tests.support.webhooks import make_webhook, tenant_dispatcher

PAYLOAD = "success errors userErrors { field code message }"
CREATE = f"""
mutation($w: WebhookInput!) {{
  createWebhook(webhook: $w) {{ {PAYLOAD} secret webhook {{ uuid url events active }} }}
}}"""
UPDATE = f"""
mutation($u: String!, $w: UpdateWebhookInput!) {{
  updateWebhook(uuid: $u, webhook: $w) {{ {PAYLOAD} webhook {{ uuid url events active }} }}
}}"""
DELETE = f"mutation($u: String!) {{ deleteWebhook(uuid: $u) {{ {PAYLOAD} }} }}"
LIST = """
{ account { webhooks { uuid url events active
    deliveryStats { delivered retrying failed errorRate }
    deliveries { eventId eventType status attempts responseStatus lastError } } } }"""
HOOK = {"url": "https://hooks.example.com/patron", "events": ["CONTACT_CREATED"]}


def webhooks_of(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.data(LIST, token=tenant.token)["account"]["webhooks"]
    return result


def create(api: Api, tenant: Tenant, hook: dict[str, Any] = HOOK) -> dict[str, Any]:
    answer: dict[str, Any] = api.data(CREATE, {"w": hook}, token=tenant.token)["createWebhook"]
    return answer


def test_the_api_enum_names_every_webhook_event() -> None:
    from patron.api.graphql.webhooks import WebhookEvent

    assert [event.value for event in WebhookEvent] == list(WEBHOOK_EVENTS)


def test_an_admin_creates_a_webhook_and_sees_its_secret_only_once(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant)

    assert created["success"] is True
    assert created["secret"].startswith("whsec_")
    assert created["webhook"]["url"] == HOOK["url"]
    listed = webhooks_of(api, tenant)
    assert listed == [
        {
            "uuid": created["webhook"]["uuid"],
            "url": HOOK["url"],
            "events": ["CONTACT_CREATED"],
            "active": True,
            "deliveryStats": {"delivered": 0, "retrying": 0, "failed": 0, "errorRate": 0.0},
            "deliveries": [],
        }
    ]
    assert created["secret"] not in str(listed)


def test_update_and_delete_a_webhook(api: Api, db: Database, tenant: Tenant) -> None:
    uuid = create(api, tenant)["webhook"]["uuid"]

    updated = api.data(
        UPDATE,
        {"u": uuid, "w": {"events": ["WALLET_CREDIT_ADDED", "CONTACT_DELETED"], "active": False}},
        token=tenant.token,
    )["updateWebhook"]
    deleted = api.data(DELETE, {"u": uuid}, token=tenant.token)["deleteWebhook"]

    assert updated["webhook"] == {
        "uuid": uuid,
        "url": HOOK["url"],
        "events": ["WALLET_CREDIT_ADDED", "CONTACT_DELETED"],
        "active": False,
    }
    assert deleted == {"success": True, "errors": [], "userErrors": []}
    assert webhooks_of(api, tenant) == []
    assert [line["action"] for line in audit(db, tenant.uuid)] == [
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
    ]


def test_the_delivery_log_is_readable_on_the_api(api: Api, db: Database, tenant: Tenant) -> None:
    with running_receiver(statuses=(500, 200)) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)
        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    [hook] = webhooks_of(api, tenant)

    assert hook["deliveryStats"] == {"delivered": 1, "retrying": 0, "failed": 0, "errorRate": 0.0}
    assert hook["deliveries"] == [
        {
            "eventId": receiver.event_ids()[0],
            "eventType": "CONTACT_CREATED",
            "status": "DELIVERED",
            "attempts": 2,
            "responseStatus": 200,
            "lastError": None,
        }
    ]


# A refusal names the setting that allows a local receiver (in development, for one).
HINT = (
    " (PATRON_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true allows it, for a receiver on this machine or "
    "network)"
)
PRIVATE = "a webhook URL may not point at a private address" + HINT
THIS_MACHINE = "a webhook URL may not point at this machine" + HINT


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8080/hook", PRIVATE),
        ("http://10.1.2.3/hook", PRIVATE),
        ("http://[::1]/hook", PRIVATE),
        ("http://169.254.169.254/latest", PRIVATE),
        ("http://localhost:9000/hook", THIS_MACHINE),
        ("ftp://hooks.example.com/x", "a webhook URL is http(s)"),
        ("https://user:pw@hooks.example.com/x", "a webhook URL needs a host and no user name"),
    ],
)
def test_a_webhook_to_a_private_or_odd_address_is_refused(
    api: Api, tenant: Tenant, url: str, message: str
) -> None:
    answer = api.data(CREATE, {"w": {**HOOK, "url": url}}, token=tenant.token)["createWebhook"]

    assert answer["userErrors"] == [{"field": "url", "code": "INVALID", "message": message}]
    assert answer["success"] is False
    assert webhooks_of(api, tenant) == []


def test_bad_events_and_secrets_are_reported_together(api: Api, tenant: Tenant) -> None:
    answer = api.data(
        CREATE,
        {"w": {"url": "http://localhost/x", "events": [], "secret": "plain"}},
        token=tenant.token,
    )["createWebhook"]

    assert [(error["field"], error["code"]) for error in answer["userErrors"]] == [
        ("url", "INVALID"),
        ("events", "INVALID"),
        ("secret", "INVALID"),
    ]


def test_https_is_required_outside_development() -> None:
    from patron.core.errors import InvalidInput
    from patron.webhooks.addresses import UrlPolicy, check_url

    with pytest.raises(InvalidInput, match="must use https"):
        check_url("http://hooks.example.com/x", UrlPolicy(require_https=True))
    assert check_url(" https://hooks.example.com/x ", UrlPolicy()) == "https://hooks.example.com/x"


# --- four callers on each mutation ------------------------------------------------------------


def test_without_a_token_nothing_is_created(api: Api, tenant: Tenant) -> None:
    response = api.post("/graphql", {"query": CREATE, "variables": {"w": HOOK}})

    assert response.status_code == 401
    assert webhooks_of(api, tenant) == []


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_token_below_admin_may_list_but_not_change_webhooks(
    api: Api, db: Database, tenant: Tenant, scope: str
) -> None:
    uuid = create(api, tenant)["webhook"]["uuid"]
    weaker = tenant.with_scope(db, scope)
    before = webhooks_of(api, tenant)
    message = f"this token has the '{scope}' scope; this operation needs 'admin'"
    refused = [{"field": None, "code": "FORBIDDEN", "message": message}]

    created = api.data(CREATE, {"w": HOOK}, token=weaker.token)["createWebhook"]
    updated = api.data(UPDATE, {"u": uuid, "w": {"active": False}}, token=weaker.token)
    deleted = api.data(DELETE, {"u": uuid}, token=weaker.token)["deleteWebhook"]

    assert created["userErrors"] == refused
    assert updated["updateWebhook"]["userErrors"] == refused
    assert deleted["userErrors"] == refused
    assert webhooks_of(api, weaker) == before
    assert webhooks_of(api, tenant) == before


def test_another_account_cannot_see_change_or_delete_a_webhook(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    uuid = create(api, tenant)["webhook"]["uuid"]
    before = webhooks_of(api, tenant)
    missing = "00000000-0000-4000-8000-000000000000"

    updated = api.data(UPDATE, {"u": uuid, "w": {"active": False}}, token=other_tenant.token)
    deleted = api.data(DELETE, {"u": uuid}, token=other_tenant.token)["deleteWebhook"]
    nothing = api.data(DELETE, {"u": missing}, token=other_tenant.token)["deleteWebhook"]

    assert webhooks_of(api, other_tenant) == []
    assert updated["updateWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert deleted["userErrors"] == [
        {"field": "uuid", "code": "NOT_FOUND", "message": f"no webhook with uuid '{uuid}'"}
    ]
    assert nothing["userErrors"][0]["message"] == f"no webhook with uuid '{missing}'"
    assert webhooks_of(api, tenant) == before
