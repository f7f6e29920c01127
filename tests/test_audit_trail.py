"""Who did it: every ledger entry and audit event records its actor (token, consumer, staff,
system job), ``Account.auditEvents`` and ``patron audit list`` page and filter the trail, and
no audit row holds personal data; on both stores."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.cli.main import app
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.events import audit_events
from patron.jobs.expiry import sweep
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from patron.webhooks import service as webhook_service
from tests.support.client import Api
from tests.support.ledger import entry_rows
from tests.support.loyaltydish import sign_up
from tests.support.tenants import Tenant, fund, make_contact
from tests.support.webhooks import make_webhook

ENTRIES = """query($u: String) { account { contacts(uuid: $u) { wallet {
  creditEntries { reason actor { kind id name value } } } } } }"""
TRAIL = """query($first: Int, $after: String, $since: DateTime, $actor: String, $kind: String) {
  account { auditEvents(first: $first, after: $after, since: $since, actor: $actor, kind: $kind) {
    edges { cursor node { id kind subjectType subjectUuid actor { kind id name value } details
      createdAt } }
    pageInfo { hasNextPage endCursor } } } }"""


def trail(api: Api, tenant: Tenant, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.data(TRAIL, variables, token=tenant.token)
    return found["account"]["auditEvents"]


def test_an_entry_records_the_token_that_wrote_it(api: Api, db: Database, tenant: Tenant) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="write", name="till 3")
    writer = accounts.authenticate(db, issued.token)
    created = make_contact(db, tenant)
    wallets.post_entry(
        db,
        writer,
        EntryCommand(
            wallet_uuid=created.wallet_uuid, action="ADD", credit_type="GLOBAL", amount="2.00"
        ),
    )

    data = api.data(ENTRIES, {"u": created.customer.uuid}, token=tenant.token)

    [contact] = data["account"]["contacts"]
    assert contact["wallet"]["creditEntries"] == [
        {
            "reason": "MANUAL",
            "actor": {
                "kind": "TOKEN",
                "id": issued.info.token_id,
                "name": "till 3",
                "value": f"token:{issued.info.token_id}",
            },
        }
    ]
    [row] = entry_rows(db, tenant.uuid, created.wallet_uuid)
    assert (row.actor, row.actor_name) == (f"token:{issued.info.token_id}", "till 3")


def test_the_expiry_sweep_records_itself_as_the_actor(db: Database, tenant: Tenant) -> None:
    created = make_contact(db, tenant)
    wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=created.wallet_uuid,
            action="ADD",
            credit_type="LOCAL",
            amount=Decimal(50),
            expires_at=utcnow() + timedelta(seconds=1),
        ),
    )
    time.sleep(1.2)

    sweep(db, now=utcnow())

    rows = entry_rows(db, tenant.uuid, created.wallet_uuid)
    assert [(row.reason, row.actor, row.actor_name) for row in rows] == [
        ("MANUAL", f"token:{tenant.principal.token_id}", "initial admin token"),
        ("EXPIRY", "system:expiry", "expiry"),
    ]


def test_a_consumer_signing_up_is_its_own_actor(api: Api, db: Database, tenant: Tenant) -> None:
    consumer = sign_up(db, tenant, email="sam@example.com")

    page = trail(api, tenant, kind="consumer")

    [edge] = page["edges"]
    assert edge["node"]["kind"] == "consumer.registered"
    assert edge["node"]["subjectUuid"] == consumer.uuid
    assert edge["node"]["actor"] == {
        "kind": "CONSUMER",
        "id": consumer.uuid,
        "name": None,
        "value": f"consumer:{consumer.uuid}",
    }


def test_principals_name_their_actor() -> None:
    base = Principal("a", "A", "USD", 0, "admin")

    assert Principal("a", "A", "USD", 0, "write", token_id="t1", token_name="pos").actor == (
        "token:t1"
    )
    assert Principal("a", "A", "USD", 0, "read", customer_uuid="c1").actor == "consumer:c1"
    assert Principal("a", "A", "USD", 0, "write", staff_id="s1").actor == "staff:s1"
    assert Principal("a", "A", "USD", 0, "admin", job="import").actor == "system:import"
    assert Principal("a", "A", "USD", 0, "admin", job="import").actor_name == "import"
    assert base.actor == "system"
    assert Principal("a", "A", "USD", 0, "write", staff_id="s1").actor_name is None


def _five_events(db: Database, tenant: Tenant) -> list[str]:
    """Five webhook.created events, oldest first; returns the webhooks' uuids."""
    made = []
    for number in range(5):
        created = make_webhook(db, tenant, f"http://127.0.0.1:9/{number}", ["CONTACT_CREATED"])
        made.append(created.webhook.uuid)
    return made


def test_audit_events_page_newest_first_without_repeats(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = _five_events(db, tenant)

    first = trail(api, tenant, first=2)
    second = trail(api, tenant, first=2, after=first["pageInfo"]["endCursor"])
    third = trail(api, tenant, first=2, after=second["pageInfo"]["endCursor"])

    subjects = [
        edge["node"]["subjectUuid"] for page in (first, second, third) for edge in page["edges"]
    ]
    assert subjects == list(reversed(made))
    assert [page["pageInfo"]["hasNextPage"] for page in (first, second, third)] == [
        True,
        True,
        False,
    ]


def test_audit_events_filter_by_since_actor_and_kind(
    api: Api, db: Database, tenant: Tenant
) -> None:
    _five_events(db, tenant)
    time.sleep(0.01)
    since = utcnow()
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="admin", name="ops")
    other = accounts.authenticate(db, issued.token)
    made = make_webhook(db, tenant, "http://127.0.0.1:9/x", ["CONTACT_CREATED"])
    webhook_service.delete_webhook(db, other, made.webhook.uuid)

    recent = trail(api, tenant, since=since.isoformat())
    by_ops = trail(api, tenant, actor=f"token:{issued.info.token_id}")
    deleted = trail(api, tenant, kind="webhook.deleted")
    webhooks_only = trail(api, tenant, kind="webhook")

    assert [e["node"]["kind"] for e in recent["edges"]] == ["webhook.deleted", "webhook.created"]
    assert [e["node"]["kind"] for e in by_ops["edges"]] == ["webhook.deleted"]
    assert by_ops["edges"][0]["node"]["actor"]["name"] == "ops"
    assert [e["node"]["subjectUuid"] for e in deleted["edges"]] == [made.webhook.uuid]
    assert len(webhooks_only["edges"]) == 7


def test_audit_events_refuse_bad_arguments_and_see_only_the_account(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    _five_events(db, tenant)

    too_many = api.graphql(TRAIL, {"first": 251}, token=tenant.token)
    bad_cursor = api.graphql(TRAIL, {"after": "not-a-cursor"}, token=tenant.token)
    foreign = trail(api, other_tenant)

    assert too_many["errors"][0]["extensions"]["code"] == "INVALID"
    assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID"
    assert foreign["edges"] == []


def test_no_audit_row_holds_personal_data(api: Api, db: Database, tenant: Tenant) -> None:
    consumer = sign_up(db, tenant, email="private.person@example.com", first_name="Priscilla")
    fund(db, tenant, make_contact(db, tenant, email="ann@example.com").wallet_uuid, "1.00")
    gone = make_contact(db, tenant, email="gone@example.com", name="Gone Person")
    api.data(
        "mutation($u: String!) { deleteContact(uuid: $u) { success } }",
        {"u": gone.customer.uuid},
        token=tenant.token,
    )
    for uuid in (consumer.uuid,):
        api.data(
            "mutation($u: String!) { exportContactData(uuid: $u) { success } }",
            {"u": uuid},
            token=tenant.token,
        )
        api.data(
            "mutation($u: String!) { eraseContact(uuid: $u) { success } }",
            {"u": uuid},
            token=tenant.token,
        )

    with db.read() as connection:
        rows = connection.execute(
            select(audit_events).where(audit_events.c.account_id == tenant.uuid)
        ).all()

    assert {row.action for row in rows} >= {
        "consumer.registered",
        "contact.deleted",
        "contact.exported",
        "contact.erased",
    }
    text = repr([tuple(row) for row in rows]).lower()
    for personal in ("private.person", "priscilla", "gone@example.com", "gone person", "ann@"):
        assert personal not in text
    assert all(row.actor for row in rows)


def test_patron_audit_list_filters_the_trail(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    made = _five_events(db, tenant)

    result = CliRunner().invoke(
        app,
        [
            "audit",
            "list",
            "--account",
            tenant.uuid,
            "--kind",
            "webhook.created",
            "--actor",
            f"token:{tenant.principal.token_id}",
            "--limit",
            "3",
            "--database",
            database_url,
        ],
    )

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert [event["subject_uuid"] for event in printed["events"]] == list(reversed(made))[:3]
    assert printed["more"] is True
    assert printed["events"][0]["actor_name"] == "initial admin token"
