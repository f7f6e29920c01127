"""exportContactData and ``patron contact export``: everything Patron holds about one person,
no secret, and nothing of another person or another account; on both stores."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from patron.cli.main import app
from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.models import RefundCommand
from tests.support.client import Api
from tests.support.erasure import EMAIL, SHOPIFY_GID, Person, make_person
from tests.support.tenants import Tenant, fund, make_contact

EXPORT = """mutation Export($uuid: String!) {
  exportContactData(uuid: $uuid) { success data errors userErrors { field code message } }
}"""


def export(api: Api, token: str, uuid: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.data(EXPORT, {"uuid": uuid}, token=token)
    return answer["exportContactData"]


def test_the_export_holds_everything_about_the_person(
    api: Api, db: Database, tenant: Tenant
) -> None:
    person: Person = make_person(db, tenant)
    [order] = api.data("{ account { orders { uuid } } }", token=tenant.token)["account"]["orders"]
    orders.refund_order(db, tenant.principal, RefundCommand(order["uuid"], "R-1", "2.50"))

    answer = export(api, tenant.token, person.uuid)

    assert answer["success"] is True
    data = answer["data"]
    assert data["format"] == "patron.contact-export/1"
    assert data["account_uuid"] == tenant.uuid
    contact = data["contact"]
    assert (contact["uuid"], contact["email"], contact["name"]) == (person.uuid, EMAIL, "Jane Roe")
    assert (contact["birthday"], contact["city"], contact["notes"]) == (
        "1990-05-17",
        "Springfield",
        "Prefers e-mail",
    )
    assert contact["extra_info"] == {"favourite": "tea"}
    assert data["identities"] == {"SHOPIFY": SHOPIFY_GID, "KLAVIYO": "01JANEKLAVIYO"}
    assert data["consumer"]["has_password"] is True
    assert data["wallet"]["uuid"] == person.wallet_uuid
    # 25.00 added, 3.00 spent on the order, 0.62 of it given back by the refund of 2.50 of 12.00;
    # 5.00 of it held by the code.
    assert (data["wallet"]["global_balance"], data["wallet"]["global_held"]) == ("22.62", "5.00")
    assert [
        (e["action"], e["credit_type"], e["amount"], e["reason"]) for e in data["credit_entries"]
    ] == [
        ("ADD", "GLOBAL", "25.00", "MANUAL"),
        ("ADD", "LOCAL", "300", "MANUAL"),
        ("SPEND", "GLOBAL", "3.00", "ORDER"),
        ("ADD", "GLOBAL", "0.62", "ORDER_REFUND"),
    ]
    assert data["credit_entries"][0]["note"] == "birthday gift for Jane Roe"
    assert data["credit_entries"][0]["actor"] == f"token:{tenant.principal.token_id}"
    assert [(lot["credit_type"], lot["amount"]) for lot in data["credit_lots"]] == [
        ("LOCAL", "300")
    ]
    assert [(c["code"], c["amount"], c["note"]) for c in data["redemption_codes"]] == [
        (person.code, "5.00", "for Jane")
    ]
    assert [(o["external_id"], o["total"], o["credit_paid"]) for o in data["orders"]] == [
        ("JANE-1", "12.00", "3.00")
    ]
    assert [(r["external_id"], r["amount"]) for r in data["orders"][0]["refunds"]] == [
        ("R-1", "2.50")
    ]
    assert [(p["name"], p["email"]) for p in data["contact_persons"]] == [
        ("Jane's assistant", "pa@ex.com")
    ]
    assert "consumer.registered" in [event["action"] for event in data["audit_events"]]


def test_the_export_has_no_secret_and_nothing_of_anyone_else(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    person = make_person(db, tenant)
    stranger = make_contact(db, other_tenant, email="stranger@example.com")
    fund(db, other_tenant, stranger.wallet_uuid, "9.00")

    text = json.dumps(export(api, tenant.token, person.uuid))

    for secret in ("password_hash", "argon2", "token_hash", "refresh_token"):
        assert secret not in text
    for other in (person.kept_uuid, person.kept_wallet_uuid, "kept@example.com", "Kept Person"):
        assert other not in text
    for foreign in (other_tenant.uuid, stranger.customer.uuid, "stranger@example.com"):
        assert foreign not in text


def test_another_account_and_a_write_token_get_nothing(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    person = make_person(db, tenant)
    writer = tenant.with_scope(db, "write")

    foreign = export(api, other_tenant.token, person.uuid)
    forbidden = export(api, writer.token, person.uuid)

    assert foreign == {
        "success": False,
        "data": None,
        "errors": [f"no contact with uuid '{person.uuid}'"],
        "userErrors": [
            {
                "field": "uuid",
                "code": "NOT_FOUND",
                "message": f"no contact with uuid '{person.uuid}'",
            }
        ],
    }
    assert forbidden["data"] is None
    assert forbidden["userErrors"][0]["code"] == "FORBIDDEN"


def test_an_erased_contact_has_nothing_left_to_export(
    api: Api, db: Database, tenant: Tenant
) -> None:
    person = make_person(db, tenant)
    api.data(
        "mutation($u: String!) { eraseContact(uuid: $u) { success } }",
        {"u": person.uuid},
        token=tenant.token,
    )

    assert export(api, tenant.token, person.uuid)["userErrors"][0]["code"] == "NOT_FOUND"


def test_the_export_is_recorded_in_the_audit_trail(api: Api, db: Database, tenant: Tenant) -> None:
    person = make_person(db, tenant)

    export(api, tenant.token, person.uuid)

    trail = api.data(
        '{ account { auditEvents(kind: "contact.exported") { edges { node { '
        "subjectUuid actor { kind id } } } } } }",
        token=tenant.token,
    )
    assert trail == {
        "account": {
            "auditEvents": {
                "edges": [
                    {
                        "node": {
                            "subjectUuid": person.uuid,
                            "actor": {"kind": "TOKEN", "id": tenant.principal.token_id},
                        }
                    }
                ]
            }
        }
    }


def test_patron_contact_export_prints_the_same_document(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    person = make_person(db, tenant)

    result = CliRunner().invoke(
        app,
        ["contact", "export", person.uuid, "--account", tenant.uuid, "--database", database_url],
    )

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["contact"]["email"] == EMAIL
    assert printed["wallet"]["uuid"] == person.wallet_uuid


def test_patron_contact_erase_erases(db: Database, database_url: str, tenant: Tenant) -> None:
    person = make_person(db, tenant)

    result = CliRunner().invoke(
        app, ["contact", "erase", person.uuid, "--account", tenant.uuid, "--database", database_url]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "erased": person.uuid,
        "wallet_uuid": person.wallet_uuid,
        "codes_cancelled": 1,
        "contact_persons_deleted": 1,
    }
    again = CliRunner().invoke(
        app, ["contact", "erase", person.uuid, "--account", tenant.uuid, "--database", database_url]
    )
    assert again.exit_code == 1
