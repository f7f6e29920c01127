"""The ledger's overview for the console: balances worked back day by day, each day's flows,
and what expires, on both stores; days that are over may be handed back and are not re-read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patron.core.db import Database
from patron.wallets import service as wallets
from patron.wallets.models import CreditType, DayFlow, EntryCommand
from tests.support.clock import FrozenClock
from tests.support.tenants import Tenant, make_contact, new_tenant

GLOBAL, LOCAL = CreditType.GLOBAL, CreditType.LOCAL


def post(
    db: Database, tenant: Tenant, wallet: str, action: str, amount: str, **extra: object
) -> None:
    wallets.post_entry(
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


def test_balances_flows_and_expiring_credit_day_by_day(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(monkeypatch)  # 2031-03-01 09:00 UTC
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    other = new_tenant(db)
    post(db, other, make_contact(db, other).wallet_uuid, "ADD", "999.00")
    post(db, tenant, wallet, "ADD", "10.00")
    post(db, tenant, wallet, "ADD", "100", credit_type="LOCAL")
    clock.advance(days=1)
    post(db, tenant, wallet, "SPEND", "3.00")
    post(db, tenant, wallet, "ADD", "5.00", expires_at=clock.later(days=2, hours=3))
    clock.advance(days=1, hours=6)

    post(db, tenant, wallet, "REMOVE", "1.00")
    with db.read() as connection:
        overview = wallets.ledger_overview(connection, tenant.principal, clock.now, days=5)

    assert overview.days == ["2031-02-27", "2031-02-28", "2031-03-01", "2031-03-02", "2031-03-03"]
    assert overview.balances[GLOBAL] == [0, 0, 1000, 1200, 1100]
    assert overview.balances[LOCAL] == [0, 0, 100, 100, 100]
    assert overview.flows[GLOBAL][3] == DayFlow(day="2031-03-02", added=500, spent=300)
    assert overview.flows[GLOBAL][4] == DayFlow(day="2031-03-03", removed=100)
    # The REMOVE drew on the soonest-expiring credit first: 4.00 of the lot is left.
    assert overview.expiring[GLOBAL] == [("2031-03-04", 400)]
    assert overview.held == {GLOBAL: 0, LOCAL: 0}


def test_days_that_are_over_are_taken_as_given_and_the_rest_is_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(monkeypatch)
    tenant = new_tenant(db)
    wallet = make_contact(db, tenant).wallet_uuid
    post(db, tenant, wallet, "ADD", "10.00")
    clock.advance(days=1)
    post(db, tenant, wallet, "ADD", "2.00")
    with db.read() as connection:
        first = wallets.ledger_overview(connection, tenant.principal, clock.now, days=3)
    open_from = wallets.closed_before(clock.now)
    closed = {
        label: {kind: first.flows[kind][index] for kind in CreditType}
        for index, label in enumerate(first.days)
        if label < open_from
    }

    post(db, tenant, wallet, "ADD", "0.50")  # today, after the first view
    with db.read() as connection:
        again = wallets.ledger_overview(
            connection, tenant.principal, clock.now, days=3, closed=closed
        )
        fresh = wallets.ledger_overview(connection, tenant.principal, clock.now, days=3)

    assert sorted(closed) == ["2031-02-28", "2031-03-01"]
    assert again == fresh
    assert again.balances[GLOBAL] == [0, 1000, 1250]
    # What a closed day is given as is what is shown: it is not read again.
    forged = {**closed, "2031-03-01": {kind: DayFlow(day="2031-03-01") for kind in CreditType}}
    with db.read() as connection:
        shown = wallets.ledger_overview(
            connection, tenant.principal, clock.now, days=3, closed=forged
        )
    assert shown.flows[GLOBAL][1] == DayFlow(day="2031-03-01")
