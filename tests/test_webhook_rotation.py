"""Rotating a webhook's secret: the old one keeps signing beside the new for a grace period,
so receivers switch without a delivery that fails to verify; then only the new one signs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.webhooks.sender import WebhookSender
from patron.webhooks import service as webhooks_service
from patron.webhooks import signing
from patron.webhooks.models import NewWebhook
from patron.webhooks.tables import webhooks
from tests.support.client import Api
from tests.support.receiver import Received, running_receiver
from tests.support.store import audit
from tests.support.tenants import Tenant, make_contact
from tests.support.webhooks import LOCAL, make_webhook, outbox_states, tenant_dispatcher

OLD = "whsec_" + "b2xkLXNlY3JldC1rZXktb2YtMzItYnl0ZXMhISEhISE="
ROTATE = """
mutation($u: String!, $h: Int, $s: String) {
  rotateWebhookSecret(uuid: $u, graceHours: $h, secret: $s) {
    success errors userErrors { field code message }
    secret previousSecretValidUntil webhook { uuid }
  }
}"""


def rotate(api: Api, token: str, uuid: str, **variables: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.data(ROTATE, {"u": uuid, **variables}, token=token)[
        "rotateWebhookSecret"
    ]
    return answer


def verifies(secret: str, got: Received) -> bool:
    return signing.verify(
        secret,
        got.headers["webhook-id"],
        int(got.headers["webhook-timestamp"]),
        got.body,
        got.headers["webhook-signature"],
    )


def deliver_one(db: Database, tenant: Tenant, url: str) -> None:
    make_contact(db, tenant)
    with tenant_dispatcher(db, tenant) as dispatcher:
        dispatcher.drain()


def test_during_the_grace_both_secrets_sign_then_only_the_new_one(
    api: Api, db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        hook = make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"], secret=OLD)
        rotated = rotate(api, tenant.token, hook.webhook.uuid, h=24)
        deliver_one(db, tenant, receiver.url)
        with db.write() as connection:  # the grace has run out
            connection.execute(
                update(webhooks)
                .where(webhooks.c.uuid == hook.webhook.uuid)
                .values(previous_secret_until=utcnow() - timedelta(seconds=1))
            )
        deliver_one(db, tenant, receiver.url)

    assert rotated["success"] is True
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != OLD
    assert rotated["previousSecretValidUntil"] is not None
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split()) == 2
    assert verifies(new, during)
    assert verifies(OLD, during)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert verifies(new, after)
    assert not verifies(OLD, after)
    assert [row["action"] for row in audit(db, tenant.uuid)][-1] == "webhook.secret_rotated"


def test_a_rotation_without_grace_switches_at_once_to_a_given_secret(
    api: Api, db: Database, tenant: Tenant
) -> None:
    given = signing.new_secret()
    with running_receiver() as receiver:
        hook = make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"], secret=OLD)
        rotated = rotate(api, tenant.token, hook.webhook.uuid, h=0, s=given)
        deliver_one(db, tenant, receiver.url)

    assert (rotated["success"], rotated["secret"], rotated["previousSecretValidUntil"]) == (
        True,
        given,
        None,
    )
    [got] = receiver.received
    assert verifies(given, got)
    assert not verifies(OLD, got)


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"h": -1}, "INVALID", "graceHours"),
        ({"h": 169}, "INVALID", "graceHours"),
        ({"h": 2_000_000_000}, "INVALID", "graceHours"),
        ({"s": "not-a-secret"}, "INVALID", "secret"),
        ({"s": OLD}, "INVALID", "secret"),
    ],
)
def test_a_bad_rotation_says_why_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant, variables: dict[str, Any], code: str, field: str
) -> None:
    hook = make_webhook(db, tenant, "http://127.0.0.1:9/hooks", ["CONTACT_CREATED"], secret=OLD)

    refused = rotate(api, tenant.token, hook.webhook.uuid, **variables)

    assert refused["success"] is False
    assert refused["secret"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, field)]
    with db.read() as connection:
        row = connection.execute(
            webhooks.select().where(webhooks.c.uuid == hook.webhook.uuid)
        ).one()
    assert (row.secret, row.previous_secret) == (OLD, None)


def test_only_an_admin_of_the_account_rotates(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    hook = make_webhook(db, tenant, "http://127.0.0.1:9/hooks", ["CONTACT_CREATED"], secret=OLD)
    writer = tenant.with_scope(db, "write")

    by_writer = rotate(api, writer.token, hook.webhook.uuid)
    by_other = rotate(api, other_tenant.token, hook.webhook.uuid)
    unknown = rotate(api, tenant.token, "7b0c0e55-0000-4000-8000-000000000000")

    assert by_writer["userErrors"][0]["code"] == "FORBIDDEN"
    assert by_other["userErrors"][0]["code"] == "NOT_FOUND"
    assert unknown["userErrors"][0]["code"] == "NOT_FOUND"
    with db.read() as connection:
        row = connection.execute(
            webhooks.select().where(webhooks.c.uuid == hook.webhook.uuid)
        ).one()
    assert row.secret == OLD


KEY = "an-operator-secret-key-of-forty-characters"


@contextmanager
def sealed_dispatcher(db: Database, tenant: Tenant, secret_key: str) -> Iterator[Dispatcher]:
    with httpx.Client(timeout=2.0) as client:
        yield Dispatcher(
            db,
            [WebhookSender(db, client, LOCAL, secret_key)],
            policy=RetryPolicy(max_attempts=2, base_seconds=0.0),
            account_id=tenant.uuid,
        )


def stored_secrets(db: Database, webhook_uuid: str) -> tuple[str, str | None]:
    with db.read() as connection:
        row = connection.execute(webhooks.select().where(webhooks.c.uuid == webhook_uuid)).one()
    return row.secret, row.previous_secret


def test_with_a_secret_key_webhook_secrets_are_kept_sealed_and_still_sign(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        created = webhooks_service.create_webhook(
            db,
            tenant.principal,
            NewWebhook(url=receiver.url, events=["CONTACT_CREATED"], secret=OLD),
            LOCAL,
            KEY,
        )
        rotated = webhooks_service.rotate_secret(
            db, tenant.principal, created.webhook.uuid, timedelta(hours=1), None, KEY
        )
        make_contact(db, tenant)
        with sealed_dispatcher(db, tenant, KEY) as dispatcher:
            dispatcher.drain()

    secret, previous = stored_secrets(db, created.webhook.uuid)
    assert secret.startswith("sealed:v1:")
    assert previous is not None
    assert previous.startswith("sealed:v1:")
    assert OLD not in secret + previous
    assert rotated.secret not in secret + previous
    [got] = receiver.received
    assert verifies(rotated.secret, got)
    assert verifies(OLD, got)


def test_a_secret_sealed_with_another_key_sends_nothing_and_says_why(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        webhooks_service.create_webhook(
            db,
            tenant.principal,
            NewWebhook(url=receiver.url, events=["CONTACT_CREATED"], secret=OLD),
            LOCAL,
            KEY,
        )
        make_contact(db, tenant)
        with sealed_dispatcher(db, tenant, "another " + KEY) as dispatcher:
            dispatcher.drain()

    assert receiver.received == []
    [(status, attempts, error)] = outbox_states(db, tenant).values()
    assert (status, attempts) == ("dead", 2)
    assert "sealed with another PATRON_SECRET_KEY" in (error or "")
