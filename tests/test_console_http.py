"""The admin console over real HTTP: who may see and change what, CSRF, throttling, roles.

The four-caller rule extends to the console: no session, another account's staff, a
disabled staff user and an expired session see nothing and change nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.staff import service as staff_service
from patron.staff.tables import staff_sessions
from patron.wallets.verify import verify_ledger
from tests.support.console import Console, Staff, csrf_of, form_key_of, make_staff
from tests.support.ledger import entry_rows, ledger_state
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact


@pytest.fixture
def console(server: ThreadServer) -> Iterator[Console]:
    client = Console(server.base_url)
    yield client
    client.close()


@pytest.fixture
def other_console(server: ThreadServer) -> Iterator[Console]:
    client = Console(server.base_url)
    yield client
    client.close()


def logged_in(console: Console, db: Database, tenant: Tenant, role: str) -> Staff:
    staff = make_staff(db, tenant, role)
    console.login_as(staff)
    return staff


def adjust_form(page_html: str, amount: str = "10.00", note: str = "goodwill") -> dict[str, str]:
    return {
        "csrf": csrf_of(page_html),
        "idempotency_key": form_key_of(page_html),
        "action": "ADD",
        "credit_type": "GLOBAL",
        "amount": amount,
        "note": note,
    }


def test_an_agent_adds_credit_once_however_often_the_form_is_sent(
    console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant, name="Ada Lovelace")
    logged_in(console, db, tenant, "agent")
    page = console.get(f"/admin/customers/{created.customer.uuid}")
    assert page.status_code == 200
    form = adjust_form(page.text, "10.00", "sorry for the late parcel")

    first = console.post(f"/admin/customers/{created.customer.uuid}/credit", form)
    second = console.post(f"/admin/customers/{created.customer.uuid}/credit", form)

    assert first.status_code == second.status_code == 303
    rows = entry_rows(db, tenant.uuid, created.wallet_uuid)
    assert [(row.action, row.amount, row.note, row.reason) for row in rows] == [
        ("ADD", 1000, "sorry for the late parcel", "MANUAL")
    ]
    shown = console.get(f"/admin/customers/{created.customer.uuid}").text
    assert 'id="balance-global">10.00<' in shown
    assert "sorry for the late parcel" in shown


def test_credit_without_a_reason_is_refused_and_writes_nothing(
    console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    logged_in(console, db, tenant, "agent")
    page = console.get(f"/admin/customers/{created.customer.uuid}")
    before = ledger_state(db, tenant.uuid)

    answer = console.post(
        f"/admin/customers/{created.customer.uuid}/credit", adjust_form(page.text, note="  ")
    )
    bad_amount = console.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        adjust_form(page.text, amount="1.005"),
    )

    assert answer.status_code == 400
    assert "say why in the note" in answer.text
    assert bad_amount.status_code == 400
    assert ledger_state(db, tenant.uuid) == before


def test_an_agent_reverses_an_entry_and_converts_and_issues_a_code(
    console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    entry = fund(db, tenant, created.wallet_uuid, "25.00")
    logged_in(console, db, tenant, "agent")
    path = f"/admin/customers/{created.customer.uuid}"
    page = console.get(path).text

    reversed_ = console.post(
        f"{path}/reverse",
        {"csrf": csrf_of(page), "idempotency_key": form_key_of(page), "entry": entry.uuid},
    )
    code = console.post(
        f"{path}/codes",
        {
            "csrf": csrf_of(page),
            "idempotency_key": form_key_of(page),
            "credit_type": "GLOBAL",
            "amount": "1.00",
        },
    )

    assert reversed_.status_code == 303
    assert code.status_code == 400  # the reversal took the 25.00 back: nothing to hold
    rows = entry_rows(db, tenant.uuid, created.wallet_uuid)
    assert [(row.action, row.amount, row.reverses_uuid) for row in rows] == [
        ("ADD", 2500, None),
        ("REMOVE", 2500, entry.uuid),
    ]


def test_a_viewer_sees_no_form_and_a_forged_post_is_refused(
    console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    fund(db, tenant, created.wallet_uuid, "5.00")
    logged_in(console, db, tenant, "viewer")
    page = console.get(f"/admin/customers/{created.customer.uuid}")
    before = ledger_state(db, tenant.uuid)

    forged = console.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        {
            "csrf": csrf_of(page.text),
            "idempotency_key": "console-forged",
            "action": "ADD",
            "credit_type": "GLOBAL",
            "amount": "10.00",
            "note": "forged",
        },
    )

    assert page.status_code == 200
    assert "/credit" not in page.text
    assert "Reverse" not in page.text
    assert forged.status_code == 403
    assert ledger_state(db, tenant.uuid) == before


def test_a_post_without_the_csrf_token_or_with_another_sessions_is_refused(
    console: Console, other_console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant)
    logged_in(console, db, tenant, "admin")
    logged_in(other_console, db, tenant, "admin")
    page = console.get(f"/admin/customers/{created.customer.uuid}").text
    others = other_console.get("/admin/").text
    before = ledger_state(db, tenant.uuid)
    form = adjust_form(page)

    missing = console.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        {key: value for key, value in form.items() if key != "csrf"},
    )
    foreign = console.post(
        f"/admin/customers/{created.customer.uuid}/credit", {**form, "csrf": csrf_of(others)}
    )
    odd = console.post(f"/admin/customers/{created.customer.uuid}/credit", {**form, "csrf": "é"})

    assert missing.status_code == foreign.status_code == odd.status_code == 403
    assert ledger_state(db, tenant.uuid) == before


def test_another_accounts_staff_see_and_change_nothing(
    console: Console, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = make_contact(db, tenant, name="Grace Hopper", email="grace@private.example")
    fund(db, tenant, created.wallet_uuid, "7.00")
    logged_in(console, db, other_tenant, "admin")
    before = ledger_state(db, tenant.uuid)

    page = console.get(f"/admin/customers/{created.customer.uuid}")
    search = console.get("/admin/customers?q=grace")
    token = csrf_of(console.get("/admin/").text)
    post = console.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        {
            "csrf": token,
            "idempotency_key": "console-x",
            "action": "ADD",
            "credit_type": "GLOBAL",
            "amount": "1.00",
            "note": "x",
        },
    )

    assert page.status_code == 404
    assert post.status_code == 404
    for answer in (page, search, post):
        assert "grace@private.example" not in answer.text
        assert "Grace Hopper" not in answer.text
    assert ledger_state(db, tenant.uuid) == before


def test_no_session_a_disabled_user_and_an_expired_session_see_and_change_nothing(
    console: Console, other_console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant, name="Alan Turing")
    path = f"/admin/customers/{created.customer.uuid}"
    disabled = logged_in(console, db, tenant, "agent")
    logged_in(other_console, db, tenant, "agent")
    token = csrf_of(console.get(path).text)
    other_token = csrf_of(other_console.get(path).text)
    before = ledger_state(db, tenant.uuid)

    staff_service.disable_staff(db, disabled.staff_id)
    with db.write() as connection:  # the other session was last seen two hours ago
        connection.execute(
            update(staff_sessions)
            .where(staff_sessions.c.staff_id != disabled.staff_id)
            .where(staff_sessions.c.account_id == tenant.uuid)
            .values(last_seen_at=utcnow() - timedelta(hours=2))
        )
    anonymous = Console(console.http.base_url.__str__())
    try:
        for client, csrf in ((console, token), (other_console, other_token), (anonymous, "x")):
            seen = client.get(path)
            changed = client.post(
                f"{path}/credit",
                {
                    "csrf": csrf,
                    "idempotency_key": "console-y",
                    "action": "ADD",
                    "credit_type": "GLOBAL",
                    "amount": "1.00",
                    "note": "y",
                },
            )
            assert seen.status_code == changed.status_code == 303
            assert seen.headers["location"].startswith("/admin/login")
            assert "Alan Turing" not in seen.text
    finally:
        anonymous.close()
    again = console.login(disabled.email, "harbour-lantern-quiet-42")
    assert again.status_code == 401
    assert ledger_state(db, tenant.uuid) == before


def test_logout_ends_the_session_on_the_server(
    console: Console, db: Database, tenant: Tenant
) -> None:
    logged_in(console, db, tenant, "viewer")
    cookie = console.session_cookie
    assert cookie is not None
    token = csrf_of(console.get("/admin/").text)

    out = console.post("/admin/logout", {"csrf": token})
    console.http.cookies.set("patron_console", cookie, path="/admin")  # a copy kept anyway
    after = console.get("/admin/")

    assert out.status_code == 303
    assert after.status_code == 303
    assert after.headers["location"].startswith("/admin/login")


def test_the_session_cookie_is_http_only_and_same_site_and_stores_only_a_hash(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = make_staff(db, tenant, "viewer")
    answer = console.login(staff.email, staff.one_time_password)

    cookie = answer.headers["set-cookie"]
    session_id = console.session_cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # development; production adds it
    assert session_id is not None
    with db.read() as connection:
        hashes = {row.session_hash for row in connection.execute(staff_sessions.select())}
    assert session_id not in hashes
    assert staff_service.hash_session(session_id) in hashes


def test_a_one_time_password_must_be_replaced_before_anything_else(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = make_staff(db, tenant, "viewer")
    console.login(staff.email, staff.one_time_password)

    answer = console.get("/admin/customers")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/password"


def test_repeated_failed_logins_are_slowed_down(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = make_staff(db, tenant, "viewer")
    answers = [console.login(staff.email, "wrong-password-1").status_code for _ in range(5)]

    blocked = console.login(staff.email, staff.one_time_password)

    assert answers == [401] * 5
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert console.session_cookie is None


def test_a_login_form_posted_from_elsewhere_is_refused(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = make_staff(db, tenant, "viewer")

    answer = console.post(
        "/admin/login",
        {"email": staff.email, "password": staff.one_time_password, "csrf": "guessed"},
    )

    assert answer.status_code == 403
    assert console.session_cookie is None


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("viewer", "/admin/tokens", 403),
        ("agent", "/admin/settings", 403),
        ("agent", "/admin/staff", 403),
        ("admin", "/admin/tokens", 200),
        ("admin", "/admin/webhooks", 200),
        ("admin", "/admin/settings", 200),
        ("admin", "/admin/staff", 200),
        ("viewer", "/admin/", 200),
        ("viewer", "/admin/customers?q=nobody", 200),
    ],
)
def test_each_role_reaches_its_pages_only(
    console: Console, db: Database, tenant: Tenant, role: str, path: str, status: int
) -> None:
    logged_in(console, db, tenant, role)

    assert console.get(path).status_code == status


def test_an_admin_creates_a_token_shown_once_and_revokes_it(
    console: Console, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    from patron.accounts import service as accounts

    logged_in(console, db, tenant, "admin")
    page = console.get("/admin/tokens").text
    created = console.post(
        "/admin/tokens", {"csrf": csrf_of(page), "name": "till", "scope": "read"}
    )
    listed = {token.name: token for token in accounts.list_tokens(db, account_uuid=tenant.uuid)}
    foreign = accounts.list_tokens(db, account_uuid=other_tenant.uuid)[0]

    revoked = console.post(
        f"/admin/tokens/{listed['till'].token_id}/revoke", {"csrf": csrf_of(page)}
    )
    refused = console.post(f"/admin/tokens/{foreign.token_id}/revoke", {"csrf": csrf_of(page)})

    assert created.status_code == 200
    assert 'id="issued-token"' in created.text
    assert revoked.status_code == 303
    assert refused.status_code == 404
    after = {token.token_id: token for token in accounts.list_tokens(db)}
    assert after[listed["till"].token_id].revoked_at is not None
    assert after[foreign.token_id].revoked_at is None


def test_an_admin_adds_and_disables_a_colleague(
    console: Console, db: Database, tenant: Tenant
) -> None:
    logged_in(console, db, tenant, "admin")
    page = console.get("/admin/staff").text

    added = console.post(
        "/admin/staff", {"csrf": csrf_of(page), "email": "new@shop.example", "role": "agent"}
    )
    colleague = next(
        member
        for member in staff_service.list_staff(db, account_uuid=tenant.uuid)
        if member.email == "new@shop.example"
    )
    disabled = console.post(f"/admin/staff/{colleague.staff_id}/disable", {"csrf": csrf_of(page)})

    assert added.status_code == 200
    assert 'id="one-time-password"' in added.text
    assert disabled.status_code == 303
    assert staff_service.list_staff(db, account_uuid=tenant.uuid)[-1].disabled_at is not None


def test_the_overview_shows_the_liability(console: Console, db: Database, tenant: Tenant) -> None:
    created = make_contact(db, tenant)
    fund(db, tenant, created.wallet_uuid, "12.34")
    logged_in(console, db, tenant, "viewer")

    page = console.get("/admin/")

    assert page.status_code == 200
    assert 'id="liability">12.34<' in page.text
    assert page.text.count("<svg viewBox") >= 4
    fund(db, tenant, created.wallet_uuid, "1.00")
    assert 'id="liability">13.34<' in console.get("/admin/?fresh=1").text


def test_the_staff_commands_create_list_and_disable(database_url: str, tmp_path: Path) -> None:
    from patron.accounts import service as accounts

    db = Database(database_url, pool_size=1)
    try:
        account, _issued = accounts.create_account(db, name="CLI merchant")
    finally:
        db.dispose()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    environment["PATRON_DATABASE_URL"] = database_url

    def patron(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "patron", "staff", *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    created = patron(
        "create", "--account", account.uuid, "--email", "Boss@Shop.example", "--role", "admin"
    )
    again = patron("create", "--account", account.uuid, "--email", "boss@shop.example")
    bad_role = patron(
        "create", "--account", account.uuid, "--email", "x@shop.example", "--role", "owner"
    )
    made = json.loads(created.stdout)
    listed = json.loads(patron("list", "--account", account.uuid).stdout)
    disabled = json.loads(patron("disable", made["staff_id"]).stdout)

    assert created.returncode == 0, created.stderr
    assert made["role"] == "admin"
    assert len(made["one_time_password"]) >= 12
    assert again.returncode == 1
    assert "EMAIL_TAKEN" in again.stderr
    assert bad_role.returncode == 1
    assert "role must be one of" in bad_role.stderr
    assert [member["email"] for member in listed] == ["Boss@Shop.example"]
    assert "password_hash" not in json.dumps(listed)
    assert "argon2" not in json.dumps(listed)
    assert disabled["disabled_at"] is not None


def test_a_session_past_its_absolute_end_is_over_even_when_busy(
    console: Console, db: Database, tenant: Tenant
) -> None:
    staff = logged_in(console, db, tenant, "viewer")
    with db.write() as connection:
        connection.execute(
            update(staff_sessions)
            .where(staff_sessions.c.staff_id == staff.staff_id)
            .values(expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow())
        )

    answer = console.get("/admin/")

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/login")


def test_a_staff_principal_acts_with_its_roles_scope_and_names_the_staff_member() -> None:
    from patron.accounts.principal import Principal
    from patron.staff.models import Role

    principal = Principal(
        account_id="a",
        account_name="Shop",
        currency="USD",
        points_precision=0,
        scope=Role.AGENT.scope,
        staff_id="s-1",
    )

    assert principal.actor == "staff:s-1"
    assert principal.can("write")
    assert not principal.can("admin")
    assert [role.scope for role in Role] == ["read", "write", "admin"]


def test_an_admin_erases_a_customer_and_an_agent_cannot(
    console: Console, other_console: Console, db: Database, tenant: Tenant
) -> None:
    created = make_contact(db, tenant, name="Erin Erasable")
    fund(db, tenant, created.wallet_uuid, "7.00")
    path = f"/admin/customers/{created.customer.uuid}"
    logged_in(other_console, db, tenant, "agent")
    agent_page = other_console.get(path)
    refused = other_console.post(
        f"{path}/erase", {"csrf": csrf_of(agent_page.text), "confirm": "ERASE"}
    )
    logged_in(console, db, tenant, "admin")
    page = console.get(path)
    unconfirmed = console.post(f"{path}/erase", {"csrf": csrf_of(page.text), "confirm": "yes"})
    before = books(db, tenant)

    erased = console.post(f"{path}/erase", {"csrf": csrf_of(page.text), "confirm": "ERASE"})
    landed = console.get(erased.headers["location"])

    assert "/erase" not in agent_page.text
    assert refused.status_code == 403
    assert "Erin Erasable" in page.text
    assert "/erase" in page.text
    assert unconfirmed.status_code == 400
    assert erased.status_code == 303
    assert "The customer was erased." in landed.text
    assert console.get(path).status_code == 404
    assert books(db, tenant) == before  # balances and entries unchanged
    assert verify_ledger(db).ok


def books(db: Database, tenant: Tenant) -> list[tuple[object, ...]]:
    rows = entry_rows(db, tenant.uuid)
    return [(row.uuid, row.amount, row.balance_after) for row in rows]
