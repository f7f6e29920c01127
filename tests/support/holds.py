"""Builders and store views for redemption codes, expiring lots and the draws made on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from patron.core.db import Database
from patron.core.events import outbox_events
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption, Redemption
from patron.redemptions.tables import redemptions as redemption_rows
from patron.wallets import service as wallets
from patron.wallets.lot_tables import credit_lots, lot_draws
from patron.wallets.models import CreditEntry, EntryCommand
from patron.wallets.tables import wallets as wallet_rows
from patron.wallets.verify import verify_ledger
from tests.support.ledger import LedgerState, ledger_state
from tests.support.tenants import Tenant


def make_code(
    db: Database,
    tenant: Tenant,
    wallet_uuid: str,
    amount: str | int,
    credit_type: str = "GLOBAL",
    *,
    expires_at: datetime | None = None,
) -> Redemption:
    made = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(
            credit_type=credit_type,
            amount=Decimal(str(amount)),
            wallet_uuid=wallet_uuid,
            expires_at=expires_at,
        ),
    )
    assert len(made) == 1
    return made[0]


def fund_until(
    db: Database,
    tenant: Tenant,
    wallet_uuid: str,
    amount: str | int,
    expires_at: datetime,
    credit_type: str = "GLOBAL",
) -> CreditEntry:
    """An ADD whose credit expires at ``expires_at`` (one lot)."""
    return wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="ADD",
            credit_type=credit_type,
            amount=Decimal(str(amount)),
            expires_at=expires_at,
        ),
    )


def post(
    db: Database,
    tenant: Tenant,
    wallet_uuid: str,
    action: str,
    amount: str | int,
    credit_type: str = "GLOBAL",
) -> CreditEntry:
    return wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action=action,
            credit_type=credit_type,
            amount=Decimal(str(amount)),
        ),
    )


@dataclass(frozen=True)
class WalletRow:
    global_balance: int
    global_held: int
    local_balance: int
    local_held: int
    open_lots: int


def wallet_row(db: Database, tenant: Tenant, wallet_uuid: str) -> WalletRow:
    with db.read() as connection:
        row = connection.execute(
            select(wallet_rows).where(
                wallet_rows.c.account_id == tenant.uuid, wallet_rows.c.uuid == wallet_uuid
            )
        ).one()
    return WalletRow(
        row.global_balance, row.global_held, row.local_balance, row.local_held, row.open_lots
    )


def lot_remaining(db: Database, tenant: Tenant, wallet_uuid: str) -> dict[str, int]:
    """What is left in each lot of a wallet, by the uuid of the ADD that made it."""
    with db.read() as connection:
        rows = connection.execute(
            select(credit_lots.c.entry_uuid, credit_lots.c.remaining).where(
                credit_lots.c.account_id == tenant.uuid, credit_lots.c.wallet_uuid == wallet_uuid
            )
        )
        return {row.entry_uuid: row.remaining for row in rows}


def redemption_row(db: Database, tenant: Tenant, redemption_uuid: str) -> Any:
    with db.read() as connection:
        return connection.execute(
            select(redemption_rows).where(
                redemption_rows.c.account_id == tenant.uuid,
                redemption_rows.c.uuid == redemption_uuid,
            )
        ).one()


@dataclass(frozen=True)
class HoldsState:
    """The ledger state of an account plus every code, lot and draw row it has."""

    ledger: LedgerState
    codes: tuple[tuple[Any, ...], ...]
    lots: tuple[tuple[Any, ...], ...]
    draws: tuple[tuple[Any, ...], ...]


def holds_state(db: Database, account_id: str) -> HoldsState:
    def rows(table: Any) -> tuple[tuple[Any, ...], ...]:
        found = connection.execute(select(table).where(table.c.account_id == account_id))
        return tuple(sorted((tuple(row) for row in found), key=repr))

    with db.read() as connection:
        codes, lots, draws = rows(redemption_rows), rows(credit_lots), rows(lot_draws)
    return HoldsState(ledger_state(db, account_id), codes, lots, draws)


def lot_problems(db: Database) -> list[str]:
    """Where lots and holds disagree with the wallet rows, in every account of the store.

    Held credit and the credit left in lots are disjoint parts of the balance, and a wallet's
    ``open_lots`` counts its lots with credit left.
    """
    in_lots = select(
        credit_lots.c.account_id,
        credit_lots.c.wallet_uuid,
        credit_lots.c.credit_type,
        func.sum(credit_lots.c.remaining).label("remaining"),
        func.sum(case((credit_lots.c.remaining > 0, 1), else_=0)).label("open"),
    ).group_by(credit_lots.c.account_id, credit_lots.c.wallet_uuid, credit_lots.c.credit_type)
    problems: list[str] = []
    with db.read() as connection:
        totals: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        for row in connection.execute(in_lots):
            totals.setdefault((row.account_id, row.wallet_uuid), {})[row.credit_type] = (
                int(row.remaining),
                int(row.open),
            )
        for wallet in connection.execute(select(wallet_rows)):
            found = totals.get((wallet.account_id, wallet.uuid), {})
            open_lots = 0
            for credit_type, balance, held in (
                ("GLOBAL", wallet.global_balance, wallet.global_held),
                ("LOCAL", wallet.local_balance, wallet.local_held),
            ):
                remaining, opened = found.get(credit_type, (0, 0))
                open_lots += opened
                if held + remaining > balance:
                    problems.append(
                        f"wallet {wallet.uuid}: {credit_type} held {held} + in lots {remaining} "
                        f"> balance {balance}"
                    )
            if open_lots != wallet.open_lots:
                problems.append(
                    f"wallet {wallet.uuid}: open_lots {wallet.open_lots}, lots with credit "
                    f"{open_lots}"
                )
    return problems


def outbox_types(db: Database, account_id: str) -> list[str]:
    """The account's outbox event types, in the order they were written."""
    with db.read() as connection:
        rows = connection.execute(
            select(outbox_events.c.event_type)
            .where(outbox_events.c.account_id == account_id)
            .order_by(outbox_events.c.created_at, outbox_events.c.event_id)
        )
        return list(rows.scalars())


def assert_store_consistent(db: Database) -> None:
    report = verify_ledger(db)
    assert report.ok, report.problems
    assert lot_problems(db) == []
