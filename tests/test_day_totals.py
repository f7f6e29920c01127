"""The days' ledger totals (``wallets/day_totals.py``) never drift from the entries: after every
kind of write, on both stores, they equal a GROUP BY over ``credit_entries``; and ``patron
ledger verify`` reports a drift."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Date, cast, func, literal_column, select, update

from patron.core import migrate
from patron.core.db import Database
from patron.jobs.expiry import sweep
from patron.orders import service as orders
from patron.orders.models import RefundCommand
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from patron.wallets import postings
from patron.wallets import service as wallets
from patron.wallets.models import ConversionCommand, CreditEntry, CreditType, EntryCommand
from patron.wallets.tables import credit_day_totals, credit_entries
from patron.wallets.verify import verify_ledger
from tests.support.clock import FrozenClock
from tests.support.databases import own_store
from tests.support.orders import record
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

Totals = dict[tuple[str, str, str, str], tuple[int, int]]


@pytest.fixture
def store(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A store of the test's own: ``verify_ledger`` covers exactly its writes."""
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=4)
        try:
            yield db
        finally:
            db.dispose()


def kept(db: Database, account_id: str) -> Totals:
    """The days' totals of the account, their buckets summed."""
    t = credit_day_totals.c
    key = (t.day, t.credit_type, t.action, t.reason)
    with db.read() as connection:
        rows = connection.execute(
            select(*key, func.sum(t.total), func.sum(t.entries))
            .where(t.account_id == account_id)
            .group_by(*key)
        )
        return {(str(r[0])[:10], r[1], r[2], r[3]): (int(r[4]), int(r[5])) for r in rows}


def grouped(db: Database, account_id: str) -> Totals:
    """The same figures straight from the entries, grouped by the store."""
    e = credit_entries.c
    with db.read() as connection:
        if connection.dialect.name == "postgresql":
            day = cast(func.timezone("UTC", e.created_at), Date)
        else:
            day = func.date(e.created_at)
        rows = connection.execute(
            select(day, e.credit_type, e.action, e.reason, func.sum(e.amount), func.count())
            .where(e.account_id == account_id)
            .group_by(day, e.credit_type, e.action, e.reason)
        )
        return {(str(r[0])[:10], r[1], r[2], r[3]): (int(r[4]), int(r[5])) for r in rows}


def post(
    db: Database, tenant: Tenant, wallet: str, action: str, amount: str, **extra: object
) -> CreditEntry:
    return wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet,
            action=action,
            credit_type=str(extra.pop("credit_type", "GLOBAL")),
            amount=Decimal(amount),
            **extra,  # type: ignore[arg-type]
        ),
    )


def test_the_days_totals_equal_the_entries_grouped_after_every_kind_of_write(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(monkeypatch)  # 2031-03-01 09:00 UTC
    tenant = new_tenant(store)
    orders.set_earning_rule(store, tenant.principal, Decimal("1"))
    customer = make_contact(store, tenant)
    wallet = customer.wallet_uuid
    other = make_contact(store, tenant).wallet_uuid

    added = post(store, tenant, wallet, "ADD", "50.00")
    post(store, tenant, wallet, "ADD", "200", credit_type="LOCAL")
    post(store, tenant, wallet, "ADD", "5.00", expires_at=clock.later(hours=2))
    post(store, tenant, other, "ADD", "3.00", expires_at=clock.later(hours=2))
    spent = post(store, tenant, wallet, "SPEND", "7.00")
    post(store, tenant, wallet, "REMOVE", "1.00")
    wallets.reverse_entry(store, tenant.principal, spent.uuid)
    wallets.reverse_entry(store, tenant.principal, added.uuid, amount=Decimal("2.00"))
    wallets.convert_credit(
        store,
        tenant.principal,
        ConversionCommand(
            wallet_uuid=wallet,
            amount=Decimal("50"),
            from_type="LOCAL",
            to_type="GLOBAL",
            conversion_rate=Decimal("0.01"),
        ),
    )
    codes = redemptions.create_redemptions(
        store,
        tenant.principal,
        NewRedemption(credit_type="GLOBAL", amount=Decimal("1.00"), wallet_uuid=wallet, quantity=2),
    )
    redemptions.redeem_code(store, tenant.principal, codes[0].code)
    redemptions.cancel_code(store, tenant.principal, codes[1].code)
    order = record(store, tenant, "25.00", customer=customer.customer.uuid, credit_used="4.00")
    orders.refund_order(
        store,
        tenant.principal,
        RefundCommand(order_uuid=order.uuid, external_id="r-1", amount="10.00"),
    )
    with store.write() as connection:
        postings.post_openings(
            connection,
            tenant.principal,
            [
                postings.OpeningBalance(other, CreditType.GLOBAL, 900, "import-1"),
                postings.OpeningBalance(other, CreditType.LOCAL, 40, "import-2"),
                postings.OpeningBalance(wallet, CreditType.GLOBAL, 100, "import-3"),
            ],
            clock.now,
        )
    clock.advance(days=1)  # the lots are due: a spend expires one, the sweep the other
    post(store, tenant, wallet, "SPEND", "1.00")
    sweep(store, now=clock.now)

    totals = kept(store, tenant.uuid)
    assert totals == grouped(store, tenant.uuid)
    # One lot expired by the spend (1.60 left in it), the other by the sweep (3.00, untouched).
    assert totals[("2031-03-02", "GLOBAL", "REMOVE", "EXPIRY")] == (460, 2)
    assert totals[("2031-03-01", "GLOBAL", "ADD", "IMPORT")] == (1000, 2)
    assert totals[("2031-03-01", "GLOBAL", "SPEND", "MANUAL")] == (700, 1)
    assert verify_ledger(store).ok


def test_concurrent_postings_on_one_day_lose_no_increment(store: Database) -> None:
    tenant = new_tenant(store)
    wallets_ = [make_contact(store, tenant).wallet_uuid for _ in range(4)]
    for wallet in wallets_:
        fund(store, tenant, wallet, "100.00")

    def spend(wallet: str) -> None:
        for _ in range(10):
            post(store, tenant, wallet, "SPEND", "0.01")
            post(store, tenant, wallets_[0], "SPEND", "0.01")

    threads = [threading.Thread(target=spend, args=(wallet,)) for wallet in wallets_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    totals = kept(store, tenant.uuid)
    assert totals == grouped(store, tenant.uuid)
    assert sum(count for key, (_, count) in totals.items() if key[2] == "SPEND") == 80
    assert verify_ledger(store).ok


def test_verify_reports_days_totals_that_drifted_from_the_entries(store: Database) -> None:
    tenant = new_tenant(store)
    wallet = make_contact(store, tenant).wallet_uuid
    fund(store, tenant, wallet, "10.00")
    assert verify_ledger(store).ok
    with store.write() as connection:
        connection.execute(
            update(credit_day_totals)
            .where(credit_day_totals.c.account_id == tenant.uuid)
            .values(total=credit_day_totals.c.total + literal_column("1"))
        )

    report = verify_ledger(store)

    assert not report.ok
    assert len(report.problems) == 1
    assert "GLOBAL ADD MANUAL: the day's totals say 1001 in 1 entries" in report.problems[0]
    assert "the entries sum to 1000 in 1" in report.problems[0]


def test_the_migration_counts_the_entries_already_there(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> None:
    """Upgraded onto a ledger with entries, the backfill counts them as the ledger would."""
    with own_store(request, database_url, tmp_path) as url:
        db = Database(url, pool_size=2)
        try:
            tenant = new_tenant(db)
            wallet = make_contact(db, tenant).wallet_uuid
            fund(db, tenant, wallet, "10.00")
            post(db, tenant, wallet, "ADD", "5", credit_type="LOCAL")
            post(db, tenant, wallet, "SPEND", "3.00")
            written = kept(db, tenant.uuid)
            db.dispose()
            command.downgrade(migrate.alembic_config(url), "20261205_60")
            migrate.upgrade(url)

            assert kept(db, tenant.uuid) == written == grouped(db, tenant.uuid)
            assert len(written) == 3
            assert verify_ledger(db).ok
        finally:
            db.dispose()
