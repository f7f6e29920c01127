"""Shopify store credit against the local fake: the balance read back, GLOBAL entries mirrored
once each (a retry, a redelivery or an answer lost after Shopify applied it never doubles one),
and every failure a retry or a dead letter that leaves Patron's ledger as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select, update
from typer.testing import CliRunner

from patron.cli.main import app
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.events import outbox_events
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.shopify import journal
from patron.integrations.shopify.credit import (
    RefreshReport,
    ShopifyCreditMirror,
    refresh_stale,
)
from patron.integrations.shopify.customers import ShopifyCustomerSync
from patron.wallets import repository as wallets
from tests.support.client import Api
from tests.support.fake_shopify import FakeShopify, running_shopify
from tests.support.outbox import drain_now
from tests.support.tenants import Tenant, fund
from tests.test_shopify_connector import connect

REFRESH = """
mutation($w: String!) {
  refreshShopifyCreditBalance(walletUuid: $w) {
    success errors userErrors { field code message }
    wallet { uuid globalCreditBalance shopifyCreditBalance shopifyCreditSyncedAt }
  }
}"""


@contextmanager
def credit_dispatcher(
    db: Database, tenant: Tenant, attempts: int = 4, timeout: float = 5
) -> Iterator[Dispatcher]:
    with httpx.Client(timeout=timeout) as client:
        yield Dispatcher(
            db,
            [ShopifyCustomerSync(db, client), ShopifyCreditMirror(db, client)],
            policy=RetryPolicy(max_attempts=attempts, base_seconds=0.0),
            account_id=tenant.uuid,
        )


def customer_wallet(
    db: Database, tenant: Tenant, fake: FakeShopify, *, linked: bool = True
) -> tuple[str, str]:
    """(wallet uuid, Shopify customer gid) of a contact that is a Shopify customer."""
    gid = fake.add_customer(email="ada@example.com") if linked else ""
    created = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile={"email": "ada@example.com", "last_name": "Lovelace"},
            identities={"SHOPIFY": gid} if linked else {},
            connected_services=["SHOPIFY"],
        ),
    )
    return created.wallet_uuid, gid


def spend(db: Database, tenant: Tenant, wallet: str, amount: str, action: str = "SPEND") -> None:
    from patron.wallets import service
    from patron.wallets.models import EntryCommand

    service.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet, action=action, credit_type="GLOBAL", amount=Decimal(amount)
        ),
    )


def credit_requests(fake: FakeShopify) -> list[dict[str, Any]]:
    return [r for r in fake.requests if "storeCreditAccountCredit(" in r["query"]]


def debit_requests(fake: FakeShopify) -> list[dict[str, Any]]:
    return [r for r in fake.requests if "storeCreditAccountDebit(" in r["query"]]


def transactions(fake: FakeShopify, gid: str) -> list[tuple[str, str]]:
    """(kind, signed amount) of what Shopify applied to the customer's store credit."""
    return [
        (
            t["__typename"].removeprefix("StoreCreditAccount").removesuffix("Transaction"),
            t["amount"]["amount"],
        )
        for account in fake.credit_accounts.values()
        if account["owner"] == gid
        for t in account["transactions"]
    ]


def shopify_balance(db: Database, tenant: Tenant, wallet: str) -> int | None:
    with db.read() as connection:
        found = wallets.get_wallet(connection, tenant.uuid, wallet)
    assert found is not None
    return found.shopify_balance


def states(db: Database, tenant: Tenant) -> list[tuple[str, str, str | None]]:
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type, outbox_events.c.status, outbox_events.c.last_error)
            .where(outbox_events.c.account_id == tenant.uuid)
            .order_by(outbox_events.c.created_at)
        ).all()
    return [(row.event_type, row.status, row.last_error) for row in rows]


def test_global_entries_are_mirrored_to_shopify_store_credit_once_each(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, gid = customer_wallet(db, tenant, fake)
        added = fund(db, tenant, wallet, "25.00")
        spend(db, tenant, wallet, "10.00")
        spend(db, tenant, wallet, "2.50", action="REMOVE")
        fund(db, tenant, wallet, 40, credit_type="LOCAL")  # points stay in Patron
        with credit_dispatcher(db, tenant) as dispatcher:
            drain_now(db, tenant, dispatcher)
            with db.write() as connection:  # at-least-once: every event comes round again
                connection.execute(
                    update(outbox_events)
                    .where(outbox_events.c.account_id == tenant.uuid)
                    .values(status="pending", attempts=0)
                )
            drain_now(db, tenant, dispatcher)

    assert fake.balance(gid) == Decimal("12.50")
    [credit] = credit_requests(fake)
    assert credit["variables"] == {
        "id": gid,
        "creditInput": {"creditAmount": {"amount": "25.00", "currencyCode": "USD"}},
    }
    # Debits delivered side by side with the credit may find no credit yet and wait for it.
    assert sorted(transactions(fake, gid)) == [
        ("Credit", "25.00"),
        ("Debit", "-10.00"),
        ("Debit", "-2.50"),
    ]
    assert shopify_balance(db, tenant, wallet) == 1250
    assert journal.status_of(db, tenant.uuid, added.uuid) == journal.DONE
    assert {status for _, status, _ in states(db, tenant)} == {"delivered"}


def test_an_answer_lost_after_shopify_applied_it_is_reconciled_not_sent_again(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.trouble = ["APPLIED_500"]
        added = fund(db, tenant, wallet, "25.00")
        with credit_dispatcher(db, tenant) as dispatcher:
            drain_now(db, tenant, dispatcher)

    assert len(credit_requests(fake)) == 1  # the second attempt found it in Shopify
    assert transactions(fake, gid) == [("Credit", "25.00")]
    assert fake.balance(gid) == Decimal("25.00")
    assert journal.status_of(db, tenant.uuid, added.uuid) == journal.DONE
    assert shopify_balance(db, tenant, wallet) == 2500


def test_an_answer_that_times_out_after_shopify_applied_it_is_not_applied_twice(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.trouble = ["APPLIED_SLOW"]
        fake.slow_seconds = 1.5
        fund(db, tenant, wallet, "9.99")
        with credit_dispatcher(db, tenant, timeout=0.5) as dispatcher:
            drain_now(db, tenant, dispatcher)

    assert transactions(fake, gid) == [("Credit", "9.99")]
    assert len(credit_requests(fake)) == 1


def test_an_unreachable_shopify_is_retried_then_a_dead_letter_and_patron_keeps_its_credit(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        wallet, _ = customer_wallet(db, tenant, fake)
    # The fake has stopped: nothing listens at its address any more.
    connect(db, tenant, fake, mirror=True)
    added = fund(db, tenant, wallet, "3.00")
    with credit_dispatcher(db, tenant, attempts=3) as dispatcher:
        drain_now(db, tenant, dispatcher)

    [(event_type, status, error)] = [s for s in states(db, tenant) if s[0].startswith("wallet")]
    assert (event_type, status) == ("wallet.credit_added", "dead")
    assert (error or "").startswith("Shopify unreachable")
    assert journal.status_of(db, tenant.uuid, added.uuid) == journal.FAILED
    with db.read() as connection:
        found = wallets.get_wallet(connection, tenant.uuid, wallet)
    assert found is not None
    assert found.global_balance == 300


def test_a_request_shopify_refused_before_applying_is_sent_again_after_its_wait(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.trouble = ["429", "THROTTLED"]
        fund(db, tenant, wallet, "5.00")
        with credit_dispatcher(db, tenant) as dispatcher:
            waits = drain_now(db, tenant, dispatcher)

    assert [round(wait) for wait in waits] == [2, 1]
    assert len(credit_requests(fake)) == 3
    assert fake.balance(gid) == Decimal("5.00")


def test_a_debit_above_the_shopify_balance_waits_then_is_a_dead_letter(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, gid = customer_wallet(db, tenant, fake)
        with credit_dispatcher(db, tenant) as dispatcher:
            fund(db, tenant, wallet, "10.00")
            drain_now(db, tenant, dispatcher)
            fake.credit_accounts.clear()  # spent in Shopify meanwhile
            fake.give_credit(gid, "3.00")
            spend(db, tenant, wallet, "8.00")
            drain_now(db, tenant, dispatcher)

    assert len(debit_requests(fake)) == 4  # every attempt, then given up
    spent = states(db, tenant)[-1]
    assert spent[:2] == ("wallet.credit_spent", "dead")
    assert "sufficient funds" in (spent[2] or "")
    with db.read() as connection:  # Patron's ledger is untouched by Shopify's refusal
        found = wallets.get_wallet(connection, tenant.uuid, wallet)
    assert found is not None
    assert found.global_balance == 200
    assert fake.balance(gid) == Decimal("3.00")


def test_credit_of_a_contact_still_becoming_a_shopify_customer_waits_for_it(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=True)
        wallet, _ = customer_wallet(db, tenant, fake, linked=False)
        fund(db, tenant, wallet, "7.00")
        with credit_dispatcher(db, tenant) as dispatcher:
            drain_now(db, tenant, dispatcher)

    [gid] = fake.customers
    assert fake.balance(gid) == Decimal("7.00")
    assert len(credit_requests(fake)) == 1


def test_without_the_mirror_option_or_a_shopify_contact_nothing_is_sent(
    db: Database, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake, mirror=False)
        wallet, gid = customer_wallet(db, tenant, fake)
        fund(db, tenant, wallet, "25.00")
        plain = customers.create_customer(
            db, tenant.principal, NewCustomer(profile={"email": "plain@example.com"})
        )
        with credit_dispatcher(db, tenant) as dispatcher:
            drain_now(db, tenant, dispatcher)
        connect(db, tenant, fake, mirror=True)  # a new worker sees the option at once
        fund(db, tenant, plain.wallet_uuid, "5.00")
        with credit_dispatcher(db, tenant) as dispatcher:
            drain_now(db, tenant, dispatcher)

    assert credit_requests(fake) == []
    assert fake.balance(gid) == Decimal(0)


def test_a_wallet_reads_its_shopify_store_credit_on_demand(
    db: Database, tenant: Tenant, api: Api
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.give_credit(gid, "12.50")
        fake.give_credit(gid, "99.00", currency="EUR")  # another currency: not this balance
        answer = api.data(REFRESH, {"w": wallet}, token=tenant.token)
        fake.give_credit(gid, "0.25")
        again = api.data(REFRESH, {"w": wallet}, token=tenant.token)

    result = answer["refreshShopifyCreditBalance"]
    assert result["success"] is True
    assert result["errors"] == []
    assert result["wallet"]["shopifyCreditBalance"] == 12.5
    assert result["wallet"]["shopifyCreditSyncedAt"] is not None
    assert again["refreshShopifyCreditBalance"]["wallet"]["shopifyCreditBalance"] == 12.75
    assert shopify_balance(db, tenant, wallet) == 1275


def test_an_on_demand_read_that_cannot_be_made_says_why_and_changes_nothing(
    db: Database, tenant: Tenant, api: Api
) -> None:
    def refresh(wallet: str, token: str = tenant.token) -> dict[str, Any]:
        result: dict[str, Any] = api.data(REFRESH, {"w": wallet}, token=token)[
            "refreshShopifyCreditBalance"
        ]
        return result

    with running_shopify() as fake:
        wallet, _ = customer_wallet(db, tenant, fake)
        not_connected = refresh(wallet)
        connect(db, tenant, fake)
        unlinked = customers.create_customer(
            db, tenant.principal, NewCustomer(profile={"email": "new@example.com"})
        )
        no_customer = refresh(unlinked.wallet_uuid)
        unknown = refresh("7b0c0e55-0000-4000-8000-000000000000")
        malformed = refresh("not-a-uuid")
        read_only = refresh(wallet, tenant.with_scope(db, "read").token)
        connect(db, tenant, fake, token="shpat_wrong")
        refused = refresh(wallet)

    def code(result: dict[str, Any]) -> str:
        assert result["success"] is False
        assert result["wallet"] is None
        assert result["errors"]
        return str(result["userErrors"][0]["code"])

    assert code(not_connected) == "SHOPIFY_NOT_CONNECTED"
    assert code(no_customer) == "NOT_A_SHOPIFY_CUSTOMER"
    assert code(unknown) == "NOT_FOUND"
    assert code(malformed) == "NOT_FOUND"
    assert code(read_only) == "FORBIDDEN"
    assert code(refused) == "SHOPIFY_UNAVAILABLE"
    assert "access token" in refused["errors"][0]
    assert shopify_balance(db, tenant, wallet) is None


def test_the_worker_refreshes_wallets_not_read_for_a_while(db: Database, tenant: Tenant) -> None:
    with running_shopify() as fake, httpx.Client(timeout=5) as client:
        connect(db, tenant, fake)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.give_credit(gid, "4.00")
        customers.create_customer(  # not a Shopify customer: never read
            db, tenant.principal, NewCustomer(profile={"email": "plain@example.com"})
        )
        hour = timedelta(hours=1)

        def refresh(**options: Any) -> RefreshReport:
            return refresh_stale(db, client, older_than=hour, account_id=tenant.uuid, **options)

        first = refresh()
        fake.give_credit(gid, "1.00")
        fresh = refresh()
        after_first = shopify_balance(db, tenant, wallet)
        later = refresh(now=utcnow() + 2 * hour)
        connect(db, tenant, fake, token="shpat_wrong")
        refused = refresh(now=utcnow() + 4 * hour)

    assert first == RefreshReport(refreshed=1, failed=0)
    assert fresh == RefreshReport(refreshed=0, failed=0)
    assert after_first == 400
    assert later == RefreshReport(refreshed=1, failed=0)
    assert refused == RefreshReport(refreshed=0, failed=1)
    assert shopify_balance(db, tenant, wallet) == 500


def test_an_operator_refreshes_store_credit_from_the_command_line(
    db: Database, database_url: str, tenant: Tenant
) -> None:
    with running_shopify() as fake:
        connect(db, tenant, fake)
        wallet, gid = customer_wallet(db, tenant, fake)
        fake.give_credit(gid, "8.40")
        result = CliRunner().invoke(
            app,
            ["shopify", "refresh", "--account", tenant.uuid, "--database", database_url],
        )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"refreshed": 1, "failed": 0}
    assert shopify_balance(db, tenant, wallet) == 840
