"""The admin console in a real browser: Chromium driven by Playwright, on both stores.

Chromium is Debian's package, launched by path (Playwright downloads nothing). Under
``CI=true`` these tests must run; elsewhere, without Chromium, they are skipped with the one
command that installs it. Screenshots are saved under ``test-artifacts/console/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.models import OrderCommand
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand
from tests.support.console import PASSWORD, Staff, make_staff
from tests.support.ledger import ledger_state
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
INSTALL = "apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "console"

# Together on one test worker, and Playwright stopped when they are done: while it runs, its
# event loop is the thread's, and another test's asyncio loop could not start there.
pytestmark = pytest.mark.xdist_group("browser")


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    problem = None
    if executable is None:
        problem = f"Chromium is not installed; install it with: {INSTALL}"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is missing; run: make install"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"browser tests cannot run under CI=true: {problem}")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        print(f"\nconsole screenshots are saved in {ARTIFACTS}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: ThreadServer) -> Iterator[Any]:
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def log_in(page: Any, staff: Staff) -> None:
    page.goto("/admin/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(staff.one_time_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Current password").fill(staff.one_time_password)
    page.get_by_label("New password", exact=False).first.fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Save the password").click()
    page.get_by_role("heading", name="Overview").wait_for()


def seed_customer(db: Database, tenant: Tenant, name: str) -> Any:
    """A customer with some history: credit, points, an expiring lot, a code and an order."""
    created = make_contact(db, tenant, name=name, phone="+15551230000", city="Lisbon", country="PT")
    principal = tenant.principal
    fund(db, tenant, created.wallet_uuid, "40.00")
    fund(db, tenant, created.wallet_uuid, 250, "LOCAL")
    wallets.post_entry(
        db,
        principal,
        EntryCommand(
            wallet_uuid=created.wallet_uuid,
            action="ADD",
            credit_type="GLOBAL",
            amount=Decimal("15.00"),
            note="Birthday gift",
            expires_at=utcnow() + timedelta(days=12),
        ),
    )
    redemptions.create_redemptions(
        db,
        principal,
        NewRedemption(
            credit_type="GLOBAL", amount=Decimal("5.00"), wallet_uuid=created.wallet_uuid
        ),
    )
    orders.record_order(
        db,
        principal,
        OrderCommand(
            external_id=f"#{1000 + created.customer.number}",
            total=Decimal("64.90"),
            currency="USD",
            customer_uuid=created.customer.uuid,
        ),
    )
    return created


def test_an_agent_finds_a_customer_adds_credit_and_reverses_it(
    page: Any, db: Database, tenant: Tenant
) -> None:
    created = seed_customer(db, tenant, "Margaret Hamilton")
    make_contact(db, tenant, name="Someone Else")
    log_in(page, make_staff(db, tenant, "agent"))

    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Find a customer").fill("hamilton")
    page.get_by_label("Find a customer").press("Enter")
    page.get_by_role("link", name="Margaret Hamilton").click()
    page.get_by_role("heading", name="Margaret Hamilton").wait_for()
    balance = page.locator("#balance-global")
    assert balance.inner_text() == "50.00"  # 40 + 15, less 5 held by the code

    page.get_by_label("Amount", exact=True).fill("10.00")
    page.get_by_label("Reason").fill("Parcel arrived late")
    page.get_by_role("button", name="Save the entry").click()
    page.get_by_text("The credit entry was written.").wait_for()

    assert balance.inner_text() == "60.00"
    first_row = page.locator("#ledger tbody tr").first
    assert "Parcel arrived late" in first_row.inner_text()
    # The ledger balance after it: available + held (the code's 5.00 is still the customer's).
    assert "\t65.00\t" in first_row.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"customer-{db.dialect}.png"), full_page=True)

    first_row.get_by_role("button", name="Reverse").click()
    page.get_by_text("The entry was reversed.").wait_for()
    assert balance.inner_text() == "50.00"
    assert (
        page.locator("#ledger tbody tr")
        .first.inner_text()
        .startswith(page.locator("#ledger tbody tr").first.inner_text()[:4])
    )
    assert "reverses an entry" in page.locator("#ledger tbody tr").first.inner_text()
    assert created.customer.uuid in page.url


def test_a_viewer_sees_no_adjust_form_and_a_forged_post_is_refused(
    page: Any, db: Database, tenant: Tenant
) -> None:
    created = seed_customer(db, tenant, "Katherine Johnson")
    log_in(page, make_staff(db, tenant, "viewer"))
    page.goto(f"/admin/customers/{created.customer.uuid}")
    before = ledger_state(db, tenant.uuid)

    assert page.get_by_role("heading", name="Katherine Johnson").is_visible()
    assert page.get_by_role("button", name="Save the entry").count() == 0
    assert page.get_by_role("button", name="Reverse").count() == 0
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    forged = page.request.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        form={
            "csrf": csrf,
            "idempotency_key": "console-forged",
            "action": "ADD",
            "credit_type": "GLOBAL",
            "amount": "10.00",
            "note": "forged",
        },
        max_redirects=0,
    )

    assert forged.status == 403
    assert ledger_state(db, tenant.uuid) == before


def test_a_post_without_the_csrf_token_is_refused_and_logout_ends_the_session(
    page: Any, db: Database, tenant: Tenant
) -> None:
    created = seed_customer(db, tenant, "Mary Jackson")
    log_in(page, make_staff(db, tenant, "admin"))
    page.goto(f"/admin/customers/{created.customer.uuid}")
    before = ledger_state(db, tenant.uuid)

    refused = page.request.post(
        f"/admin/customers/{created.customer.uuid}/credit",
        form={"action": "ADD", "credit_type": "GLOBAL", "amount": "10.00", "note": "no token"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert ledger_state(db, tenant.uuid) == before

    page.goto("/admin/")
    page.screenshot(path=str(ARTIFACTS / f"overview-{db.dialect}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / f"overview-390-{db.dialect}.png"), full_page=True)
    page.goto(f"/admin/customers/{created.customer.uuid}")
    page.screenshot(path=str(ARTIFACTS / f"customer-390-{db.dialect}.png"), full_page=True)
    # Laid out for a phone: nothing wider than the window but what scrolls inside its region.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to Patron").wait_for()

    page.goto(f"/admin/customers/{created.customer.uuid}")
    assert "/admin/login" in page.url
    assert page.get_by_text("Mary Jackson").count() == 0


def test_the_pages_can_be_used_with_the_keyboard(page: Any, db: Database, tenant: Tenant) -> None:
    log_in(page, make_staff(db, tenant, "viewer"))

    page.keyboard.press("Tab")
    skip = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")

    assert skip == "Skip to the content"
    assert page.evaluate("document.activeElement.id") == "main"


def test_screenshots_for_the_readme(
    page: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month of a small shop's history, then the overview and a customer page as pictured
    in the README (saved as readme-*.png beside the other screenshots)."""
    from patron.wallets.expiry import expire_due_batch
    from tests.support.clock import FrozenClock
    from tests.support.tenants import new_tenant

    real_now = utcnow()
    clock = FrozenClock(monkeypatch, start=real_now - timedelta(days=29))
    tenant = new_tenant(db, name="Harbour Coffee Roasters")
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra"]
    people = [make_contact(db, tenant, name=name, phone="+15551230000") for name in names]
    for day in range(29):
        for index, person in enumerate(people):
            if (day + index) % 3 == 0:
                wallets.post_entry(
                    db,
                    tenant.principal,
                    EntryCommand(
                        wallet_uuid=person.wallet_uuid,
                        action="ADD",
                        credit_type="GLOBAL",
                        amount=Decimal(5 + (day * 7 + index * 3) % 20),
                        note="Loyalty reward",
                        expires_at=clock.later(days=14 + index * 2),
                    ),
                )
                fund(db, tenant, person.wallet_uuid, 10 + index * 5, "LOCAL")
            if (day + index) % 4 == 1 and day > 2:
                wallets.post_entry(
                    db,
                    tenant.principal,
                    EntryCommand(
                        wallet_uuid=person.wallet_uuid,
                        action="SPEND",
                        credit_type="GLOBAL",
                        amount=Decimal(3 + (day + index) % 5),
                    ),
                )
        with db.write() as connection:
            expire_due_batch(connection, tenant.principal, clock.now, 500)
        clock.advance(days=1)
    clock.now = real_now
    with db.write() as connection:
        expire_due_batch(connection, tenant.principal, clock.now, 500)
    seed_customer(db, tenant, "Barbara Liskov")
    staff = make_staff(db, tenant, "admin")
    log_in(page, staff)

    page.goto("/admin/?fresh=1")
    page.screenshot(path=str(ARTIFACTS / "readme-overview.png"), full_page=True)
    page.goto("/admin/customers?q=ada")
    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    page.screenshot(path=str(ARTIFACTS / "readme-customer.png"), full_page=True)

    assert page.locator("#ledger tbody tr").count() == 25
