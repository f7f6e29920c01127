"""The console's admin pages and what its actions leave behind: webhooks and dead letters,
settings, the audit trail naming the staff member, production cookies, hostile forms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from patron.core.db import Database
from patron.core.events import audit_events, outbox_events
from patron.orders.account_settings import current_amount_settings
from tests.support.console import Console, Staff, csrf_of, make_staff
from tests.support.server import ProcessServer, ThreadServer
from tests.support.tenants import Tenant, make_contact


@pytest.fixture
def console(server: ThreadServer) -> Iterator[Console]:
    client = Console(server.base_url)
    yield client
    client.close()


def logged_in(console: Console, db: Database, tenant: Tenant, role: str) -> Staff:
    staff = make_staff(db, tenant, role)
    console.login_as(staff)
    return staff


def test_a_profile_edit_changes_only_the_fields_sent(
    console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant, name="Old Name", city="Braga")
    logged_in(console, db, tenant, "agent")
    path = f"/admin/customers/{created.customer.uuid}"
    token = csrf_of(console.get(path).text)

    saved = console.post(f"{path}/profile", {"csrf": token, "name": "New Name"})
    refused = console.post(f"{path}/profile", {"csrf": token, "email": "not an email"})

    assert saved.status_code == 303
    assert refused.status_code == 400
    page = console.get(path).text
    assert "New Name" in page
    assert "Braga" in page


def test_what_staff_do_is_audited_with_them_as_the_actor(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = logged_in(console, db, tenant, "admin")
    token = csrf_of(console.get("/admin/settings").text)

    console.post("/admin/settings/earning", {"csrf": token, "rate": "1.5"})
    console.post("/admin/staff", {"csrf": token, "email": "helper@shop.example", "role": "viewer"})

    with db.read() as connection:
        rows = connection.execute(
            select(audit_events.c.action, audit_events.c.actor).where(
                audit_events.c.account_id == tenant.uuid
            )
        ).all()
    # By action, every actor (the admin's own staff.created row was written by the setup).
    actors: dict[str, set[str | None]] = {}
    for action, actor in rows:
        actors.setdefault(action, set()).add(actor)
    assert actors["account.earning_rule_set"] == {f"staff:{staff.staff_id}"}
    assert f"staff:{staff.staff_id}" in actors["staff.created"]


def test_an_admin_subscribes_pauses_and_deletes_a_webhook_of_their_account_only(
    console: Console, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    logged_in(console, db, tenant, "admin")
    page = console.get("/admin/webhooks").text

    created = console.post(
        "/admin/webhooks",
        {
            "csrf": csrf_of(page),
            "url": "http://receiver.example/hooks",
            "event-CONTACT_CREATED": "1",
        },
    )
    bad = console.post(
        "/admin/webhooks", {"csrf": csrf_of(page), "url": "ftp://x", "event-CONTACT_CREATED": "1"}
    )
    listed = console.get("/admin/webhooks").text
    hook = listed.split('action="/admin/webhooks/', 1)[1].split('"', 1)[0]
    paused = console.post(f"/admin/webhooks/{hook}", {"csrf": csrf_of(page), "change": "pause"})
    outsider = Console(str(console.http.base_url))
    try:
        logged_in(outsider, db, other_tenant, "admin")
        foreign = outsider.post(
            f"/admin/webhooks/{hook}",
            {"csrf": csrf_of(outsider.get("/admin/").text), "change": "delete"},
        )
        assert "receiver.example" not in outsider.get("/admin/webhooks").text
    finally:
        outsider.close()
    still_there = console.get("/admin/webhooks").text
    deleted = console.post(f"/admin/webhooks/{hook}", {"csrf": csrf_of(page), "change": "delete"})

    assert created.status_code == 200
    assert 'id="webhook-secret"' in created.text
    assert bad.status_code == 400
    assert paused.status_code == 303
    assert foreign.status_code == 404
    assert "Paused" in still_there
    assert "receiver.example" in still_there
    assert deleted.status_code == 303
    assert "receiver.example" not in console.get("/admin/webhooks").text


def test_an_admin_retries_a_dead_letter_of_their_account_only(
    console: Console, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    make_contact(db, tenant)
    make_contact(db, other_tenant)
    with db.write() as connection:
        connection.execute(
            update(outbox_events)
            .where(outbox_events.c.account_id.in_([tenant.uuid, other_tenant.uuid]))
            .values(status="dead", last_error="receiver said 500")
        )
        ids = dict(
            connection.execute(
                select(outbox_events.c.account_id, outbox_events.c.event_id).where(
                    outbox_events.c.account_id.in_([tenant.uuid, other_tenant.uuid])
                )
            ).all()
        )
    logged_in(console, db, tenant, "admin")
    page = console.get("/admin/webhooks")

    foreign = console.post(
        "/admin/webhooks/retry", {"csrf": csrf_of(page.text), "event": ids[other_tenant.uuid]}
    )
    retried = console.post(
        "/admin/webhooks/retry", {"csrf": csrf_of(page.text), "event": ids[tenant.uuid]}
    )

    assert "receiver said 500" in page.text
    assert foreign.status_code == 404
    assert retried.status_code == 303
    with db.read() as connection:
        statuses = dict(
            connection.execute(
                select(outbox_events.c.account_id, outbox_events.c.status).where(
                    outbox_events.c.event_id.in_(list(ids.values()))
                )
            ).all()
        )
    assert statuses == {tenant.uuid: "pending", other_tenant.uuid: "dead"}


def test_an_admin_sets_a_conversion_rate_and_a_refused_value_changes_nothing(
    console: Console, db: Database, tenant: Tenant
) -> None:
    logged_in(console, db, tenant, "admin")
    token = csrf_of(console.get("/admin/settings").text)

    saved = console.post(
        "/admin/settings",
        {"csrf": token, "points_precision": "0", "LOCAL_TO_GLOBAL": "0.01", "GLOBAL_TO_LOCAL": ""},
    )
    refused = console.post(
        "/admin/settings",
        {"csrf": token, "points_precision": "9", "LOCAL_TO_GLOBAL": "5", "GLOBAL_TO_LOCAL": ""},
    )
    rule = console.post("/admin/settings/earning", {"csrf": token, "rate": "2"})

    assert saved.status_code == 303
    assert refused.status_code == 400
    assert rule.status_code == 303
    with db.read() as connection:
        amounts = current_amount_settings(connection, tenant.uuid)
    assert {key: str(value) for key, value in amounts.conversion_rates.items()} == {
        "LOCAL_TO_GLOBAL": "0.01"
    }
    assert amounts.points_precision == 0


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        (
            "/credit",
            {"action": "ADD", "credit_type": "GLOBAL", "amount": "1", "note": "a\x00b"},
            400,
        ),
        ("/credit", {"action": "SPEND", "credit_type": "GLOBAL", "amount": "1", "note": "x"}, 400),
        ("/credit", {"action": "ADD", "credit_type": "GOLD", "amount": "1", "note": "x"}, 400),
        ("/credit", {"action": "ADD", "credit_type": "GLOBAL", "amount": "NaN", "note": "x"}, 400),
        ("/reverse", {"entry": "not-a-uuid"}, 400),
        ("/codes/cancel", {"code": "NOPE"}, 400),
    ],
)
def test_hostile_forms_are_refused_and_change_nothing(
    console: Console, db: Database, tenant: Tenant, path: str, data: dict[str, str], status: int
) -> None:
    from tests.support.ledger import ledger_state

    created = make_contact(db, tenant)
    logged_in(console, db, tenant, "agent")
    base = f"/admin/customers/{created.customer.uuid}"
    token = csrf_of(console.get(base).text)
    before = ledger_state(db, tenant.uuid)

    answer = console.post(base + path, {"csrf": token, **data})

    assert answer.status_code == status
    assert "Traceback" not in answer.text
    assert ledger_state(db, tenant.uuid) == before


def test_unknown_customers_and_malformed_ids_are_404(
    console: Console, db: Database, tenant: Tenant
) -> None:
    logged_in(console, db, tenant, "agent")

    assert console.get("/admin/customers/not-a-uuid").status_code == 404
    assert console.get("/admin/customers/00000000-0000-4000-8000-000000000000").status_code == 404
    assert console.get("/admin/customers?q=" + "x" * 1001).status_code == 400
    assert console.get("/admin/customers?q=a+b+c+d+e+f+g+h+i+j+k").status_code == 400
    assert console.get("/admin/customers?q=ab%00c").status_code == 400
    assert console.get("/admin/customers?q=%25_%5C").status_code == 200


def test_production_cookies_are_secure(database_url: str, db: Database, tenant: Tenant) -> None:
    running = ThreadServer(
        database_url, environment="production", jwt_secret="p" * 20 + "roduction-secret-value"
    ).start()
    client = Console(running.base_url)
    try:
        staff = make_staff(db, tenant, "viewer")
        form = client.get("/admin/login")
        token = csrf_of(form.text)
        # A browser sends a Secure cookie over HTTPS only; this test speaks plain HTTP.
        answer = client.http.post(
            "/admin/login",
            data={"email": staff.email, "password": staff.one_time_password, "csrf": token},
            headers={"Cookie": f"patron_console_login={token}"},
        )
    finally:
        client.close()
        running.stop()

    assert "Secure" in form.headers["set-cookie"]
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_serve_says_how_to_create_the_first_staff_user(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    running = ProcessServer(database_url, workers=1, log=log).start()
    running.stop()

    assert "patron staff create --account" in log.read_text()
