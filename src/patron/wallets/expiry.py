"""Expiring a batch of due lots with a few set-based statements (the sweep's fast path).

Per batch: lock the wallets that have due lots (PostgreSQL: ``SKIP LOCKED``, so a wallet being
spent from is left for the next pass), read their due lots, work out every EXPIRY entry and
running balance in memory, then write the wallets, entries (and their days' totals), outbox
events and lots in bulk.
The entries are the same as ``postings.expire_lots`` writes one by one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from patron.accounts.principal import Principal
from patron.core import metrics
from patron.core.events import record_events
from patron.core.ids import new_uuid
from patron.wallets import day_totals
from patron.wallets.ledger import precision
from patron.wallets.lot_tables import credit_lots
from patron.wallets.models import EVENT_FOR_ACTION, Action, CreditEntry, CreditType, Reason
from patron.wallets.postings import event_payload
from patron.wallets.repository import entry_values
from patron.wallets.tables import credit_entries, wallets


@dataclass
class BatchResult:
    lots: int = 0
    wallets: int = 0


def expire_due_batch(
    connection: Connection, principal: Principal, now: datetime, max_wallets: int
) -> BatchResult:
    """Expire every due lot of up to ``max_wallets`` wallets of the principal's account."""
    account_id = principal.account_id
    due = (
        select(credit_lots.c.wallet_uuid)
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.remaining > 0,
            credit_lots.c.expires_at <= now,
        )
        .group_by(credit_lots.c.wallet_uuid)
        .limit(max_wallets)
    )
    locking = select(wallets).where(
        wallets.c.account_id == account_id,
        wallets.c.uuid.in_(list(connection.execute(due).scalars())),
    )
    if connection.dialect.name != "sqlite":
        locking = locking.with_for_update(skip_locked=True)
    state = {row.uuid: dict(row._mapping) for row in connection.execute(locking)}
    if not state:
        return BatchResult()
    lots = connection.execute(
        select(credit_lots)
        .where(
            credit_lots.c.account_id == account_id,
            credit_lots.c.wallet_uuid.in_(list(state)),
            credit_lots.c.remaining > 0,
            credit_lots.c.expires_at <= now,
        )
        .order_by(credit_lots.c.wallet_uuid, credit_lots.c.expires_at, credit_lots.c.created_at)
    ).all()
    if not lots:  # swept by a concurrent pass between the two reads
        return BatchResult(wallets=len(state))
    entries: list[dict[str, Any]] = []
    written: list[CreditEntry] = []
    events: list[tuple[str, dict[str, Any]]] = []
    emptied: list[dict[str, Any]] = []
    closed: dict[str, int] = defaultdict(int)
    for lot in lots:
        wallet = state[lot.wallet_uuid]
        kind = CreditType(lot.credit_type)
        balance_key, held_key = (
            ("global_balance", "global_held")
            if kind is CreditType.GLOBAL
            else ("local_balance", "local_held")
        )
        # A lot's credit is available credit; the bound only guards against a broken store.
        amount = min(lot.remaining, wallet[balance_key] - wallet[held_key])
        closed[lot.wallet_uuid] += 1
        entry_uuid = new_uuid()
        emptied.append({"lot": lot.uuid, "entry": entry_uuid})
        if amount <= 0:
            continue
        wallet[balance_key] -= amount
        wallet["entry_count"] += 1
        entry = CreditEntry(
            uuid=entry_uuid,
            wallet_uuid=lot.wallet_uuid,
            seq=wallet["entry_count"],
            action=Action.REMOVE,
            credit_type=kind,
            amount=amount,
            balance_after=wallet[balance_key],
            reason=Reason.EXPIRY,
            note=f"expired lot of entry {lot.entry_uuid}",
            idempotency_key=None,
            conversion_uuid=None,
            redemption_uuid=None,
            order_uuid=None,
            reverses_uuid=None,
            expires_at=None,
            created_at=now,
            actor=principal.actor,
            actor_name=principal.actor_name,
        )
        entries.append(entry_values(account_id, entry))
        written.append(entry)
        metrics.ledger_entry(
            connection, Action.REMOVE.value, kind.value, amount, precision(principal, kind)
        )
        events.append((EVENT_FOR_ACTION[Action.REMOVE], event_payload(principal, entry)))
    connection.execute(
        update(wallets)
        .where(wallets.c.account_id == account_id, wallets.c.uuid == bindparam("w_uuid"))
        .values(
            global_balance=bindparam("w_global"),
            local_balance=bindparam("w_local"),
            entry_count=bindparam("w_count"),
            open_lots=wallets.c.open_lots - bindparam("w_closed"),
            updated_at=now,
        ),
        [
            {
                "w_uuid": uuid_,
                "w_global": row["global_balance"],
                "w_local": row["local_balance"],
                "w_count": row["entry_count"],
                "w_closed": closed[uuid_],
            }
            for uuid_, row in state.items()
            if closed[uuid_]
        ],
    )
    if entries:
        connection.execute(insert(credit_entries), entries)
        day_totals.add(connection, account_id, written)
    record_events(connection, account_id, events)
    connection.execute(
        update(credit_lots)
        .where(credit_lots.c.account_id == account_id, credit_lots.c.uuid == bindparam("lot"))
        .values(remaining=0, expiry_entry_uuid=bindparam("entry")),
        emptied,
    )
    return BatchResult(lots=len(lots), wallets=len(state))


def has_due_lots(connection: Connection, principal: Principal, now: datetime) -> bool:
    """Whether any wallet of the account still holds credit in a lot due at ``now``."""
    found = connection.execute(
        select(credit_lots.c.wallet_uuid)
        .where(
            credit_lots.c.account_id == principal.account_id,
            credit_lots.c.remaining > 0,
            credit_lots.c.expires_at <= now,
        )
        .group_by(credit_lots.c.wallet_uuid)
        .limit(1)
    ).first()
    return found is not None
