"""SQL for expiring lots and the draws made on them. Callers hold the wallet row's lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from patron.core.clock import as_utc
from patron.core.ids import new_uuid
from patron.wallets.lot_tables import credit_lots, lot_draws
from patron.wallets.models import CreditType
from patron.wallets.tables import wallets


@dataclass(frozen=True, slots=True)
class Lot:
    uuid: str
    wallet_uuid: str
    credit_type: CreditType
    entry_uuid: str
    amount: int
    remaining: int
    expires_at: datetime


_INSERT_LOT = insert(credit_lots)


def _lot(row: Any) -> Lot:
    return Lot(
        uuid=row.uuid,
        wallet_uuid=row.wallet_uuid,
        credit_type=CreditType(row.credit_type),
        entry_uuid=row.entry_uuid,
        amount=row.amount,
        remaining=row.remaining,
        expires_at=as_utc(row.expires_at),
    )


def open_lots(
    connection: Connection, account_id: str, wallet_uuid: str, credit_type: CreditType
) -> list[Lot]:
    """Lots with credit left, soonest expiry first."""
    rows = connection.execute(
        select(credit_lots)
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.wallet_uuid == wallet_uuid,
            credit_lots.c.credit_type == credit_type.value,
            credit_lots.c.remaining > 0,
        )
        .order_by(credit_lots.c.expires_at, credit_lots.c.created_at)
    )
    return [_lot(row) for row in rows]


def all_of_wallet(connection: Connection, account_id: str, wallet_uuid: str) -> list[Lot]:
    """Every lot of the wallet, spent or not, oldest first."""
    rows = connection.execute(
        select(credit_lots)
        .where(credit_lots.c.account_id == account_id, credit_lots.c.wallet_uuid == wallet_uuid)
        .order_by(credit_lots.c.created_at, credit_lots.c.uuid)
    )
    return [_lot(row) for row in rows]


def lot_of_entry(connection: Connection, account_id: str, entry_uuid: str) -> Lot | None:
    row = connection.execute(
        select(credit_lots).where(
            credit_lots.c.account_id == account_id, credit_lots.c.entry_uuid == entry_uuid
        )
    ).first()
    return _lot(row) if row else None


def insert_lot(
    connection: Connection,
    account_id: str,
    wallet_uuid: str,
    credit_type: CreditType,
    entry_uuid: str,
    amount: int,
    expires_at: datetime,
    now: datetime,
) -> None:
    connection.execute(
        _INSERT_LOT,
        {
            "account_id": account_id,
            "uuid": new_uuid(),
            "wallet_uuid": wallet_uuid,
            "credit_type": credit_type.value,
            "entry_uuid": entry_uuid,
            "amount": amount,
            "remaining": amount,
            "expires_at": expires_at,
            "created_at": now,
        },
    )


def set_remaining(
    connection: Connection,
    account_id: str,
    lot_uuid: str,
    remaining: int,
    expiry_entry_uuid: str | None = None,
) -> None:
    values: dict[str, Any] = {"remaining": remaining}
    if expiry_entry_uuid is not None:
        values["expiry_entry_uuid"] = expiry_entry_uuid
    connection.execute(
        update(credit_lots)
        .where(credit_lots.c.account_id == account_id, credit_lots.c.uuid == lot_uuid)
        .values(**values)
    )


def adjust_open_lots(connection: Connection, account_id: str, wallet_uuid: str, delta: int) -> None:
    if delta:
        connection.execute(
            update(wallets)
            .where(wallets.c.account_id == account_id, wallets.c.uuid == wallet_uuid)
            .values(open_lots=wallets.c.open_lots + delta)
        )


def record_draws(
    connection: Connection,
    account_id: str,
    wallet_uuid: str,
    source_uuid: str,
    draws: Sequence[tuple[str, int]],
) -> None:
    if draws:
        connection.execute(
            insert(lot_draws),
            [
                {
                    "account_id": account_id,
                    "source_uuid": source_uuid,
                    "lot_uuid": lot_uuid,
                    "amount": amount,
                    "restored": 0,
                    "wallet_uuid": wallet_uuid,
                }
                for lot_uuid, amount in draws
            ],
        )


def draws_of(connection: Connection, account_id: str, source_uuid: str) -> list[Any]:
    """A source's draws with what is left to restore, latest-expiring lot first."""
    return list(
        connection.execute(
            select(
                lot_draws.c.lot_uuid,
                lot_draws.c.amount,
                lot_draws.c.restored,
                credit_lots.c.remaining,
                credit_lots.c.expires_at,
            )
            .join(
                credit_lots,
                (credit_lots.c.account_id == lot_draws.c.account_id)
                & (credit_lots.c.uuid == lot_draws.c.lot_uuid),
            )
            .where(lot_draws.c.account_id == account_id, lot_draws.c.source_uuid == source_uuid)
            .order_by(credit_lots.c.expires_at.desc())
        )
    )


def mark_restored(
    connection: Connection, account_id: str, source_uuid: str, lot_uuid: str, restored: int
) -> None:
    connection.execute(
        update(lot_draws)
        .where(
            lot_draws.c.account_id == account_id,
            lot_draws.c.source_uuid == source_uuid,
            lot_draws.c.lot_uuid == lot_uuid,
        )
        .values(restored=lot_draws.c.restored + restored)
    )


def expired_unswept(
    connection: Connection, account_id: str, wallet_uuids: Sequence[str], now: datetime
) -> dict[tuple[str, CreditType], int]:
    """Credit in lots past their expiry that no sweep has removed yet: never spendable."""
    if not wallet_uuids:
        return {}
    rows = connection.execute(
        select(
            credit_lots.c.wallet_uuid, credit_lots.c.credit_type, func.sum(credit_lots.c.remaining)
        )
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.wallet_uuid.in_(list(wallet_uuids)),
            credit_lots.c.remaining > 0,
            credit_lots.c.expires_at <= now,
        )
        .group_by(credit_lots.c.wallet_uuid, credit_lots.c.credit_type)
    )
    return {(row[0], CreditType(row[1])): int(row[2]) for row in rows}


def upcoming(
    connection: Connection, account_id: str, wallet_uuids: Sequence[str], now: datetime
) -> dict[str, list[Lot]]:
    """Per wallet, the lots that still hold credit and have not expired, soonest first."""
    found: dict[str, list[Lot]] = {uuid: [] for uuid in wallet_uuids}
    if not wallet_uuids:
        return found
    rows = connection.execute(
        select(credit_lots)
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.wallet_uuid.in_(list(wallet_uuids)),
            credit_lots.c.remaining > 0,
            credit_lots.c.expires_at > now,
        )
        .order_by(credit_lots.c.wallet_uuid, credit_lots.c.expires_at)
    )
    for row in rows:
        found[row.wallet_uuid].append(_lot(row))
    return found
