"""SQL for wallets and credit entries. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Numeric,
    String,
    Subquery,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)

from patron.core.bulk import RowInsert, any_of
from patron.core.clock import as_utc
from patron.core.db import Precompiled, inserting
from patron.core.events import EVENT_COLUMNS, event_row, outbox_events, record_event
from patron.core.ids import new_uuid
from patron.core.money import MAX_MINOR_UNITS, from_minor
from patron.core.records import Decode, models
from patron.wallets import day_totals
from patron.wallets.lots import expired_unswept
from patron.wallets.models import Action, CreditEntry, CreditType, Reason, Wallet
from patron.wallets.tables import credit_day_totals, credit_entries, wallets

_BALANCE = {CreditType.GLOBAL: wallets.c.global_balance, CreditType.LOCAL: wallets.c.local_balance}
_HELD = {CreditType.GLOBAL: wallets.c.global_held, CreditType.LOCAL: wallets.c.local_held}


# The wallet of an erased customer stays on the books; no request reads it or moves it again.
_OPEN = wallets.c.erased_at.is_(None)


def lock_wallet_of(connection: Connection, account_id: str, customer_uuid: str) -> Wallet | None:
    query = select(wallets).where(
        wallets.c.account_id == account_id, wallets.c.customer_uuid == customer_uuid, _OPEN
    )
    if connection.dialect.name != "sqlite":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return wallet_from_row(row) if row else None


def close_wallet(
    connection: Connection, account_id: str, customer_uuid: str, now: datetime
) -> Wallet | None:
    """Mark the customer's wallet erased and blank its entries' notes (free text a person
    may be named in); the amounts, balances and positions stay as they are."""
    row = connection.execute(
        update(wallets)
        .where(wallets.c.account_id == account_id, wallets.c.customer_uuid == customer_uuid, _OPEN)
        .values(erased_at=now)
        .returning(*wallets.c)
    ).first()
    if row is None:
        return None
    connection.execute(
        update(credit_entries)
        .where(
            credit_entries.c.account_id == account_id,
            credit_entries.c.wallet_uuid == row.uuid,
            credit_entries.c.note.is_not(None),
        )
        .values(note=None)
    )
    return wallet_from_row(row)


def all_entries(connection: Connection, account_id: str, wallet_uuid: str) -> list[CreditEntry]:
    """Every entry of the wallet, oldest first."""
    rows = connection.execute(
        select(credit_entries)
        .where(
            credit_entries.c.account_id == account_id, credit_entries.c.wallet_uuid == wallet_uuid
        )
        .order_by(credit_entries.c.seq)
    ).all()
    return entries_from_rows(rows)


def wallet_from_row(row: Any) -> Wallet:
    return wallets_from_rows([row])[0]


def _time_or_none(value: Any) -> Any:
    return as_utc(value) if value else None


_WALLET_VALUES: tuple[tuple[str, Decode], ...] = (
    ("created_at", as_utc),
    ("updated_at", as_utc),
    ("shopify_synced_at", _time_or_none),
)
_ENTRY_VALUES: tuple[tuple[str, Decode], ...] = (
    ("action", Action),
    ("credit_type", CreditType),
    ("reason", Reason),
    ("expires_at", _time_or_none),
    ("created_at", as_utc),
)


def wallets_from_rows(rows: Sequence[Any]) -> list[Wallet]:
    """Wallets from the rows of one result."""
    made: list[Wallet] = models(Wallet, rows, _WALLET_VALUES)
    return made


def entry_from_row(row: Any) -> CreditEntry:
    return entries_from_rows([row])[0]


def entries_from_rows(rows: Sequence[Any]) -> list[CreditEntry]:
    """Entries from the rows of one result (its columns named as the table's)."""
    made: list[CreditEntry] = models(CreditEntry, rows, _ENTRY_VALUES)
    return made


def wallet_row(account_id: str, wallet_uuid: str, customer_uuid: str, now: datetime) -> RowInsert:
    """An empty wallet's row, for a caller that writes it with others (``insert_together``)."""
    return wallets, {
        "account_id": account_id,
        "uuid": wallet_uuid,
        "customer_uuid": customer_uuid,
        "global_balance": 0,
        "local_balance": 0,
        "global_held": 0,
        "local_held": 0,
        "entry_count": 0,
        "open_lots": 0,
        "created_at": now,
        "updated_at": now,
    }


def with_expired(
    connection: Connection, account_id: str, found: list[Wallet], now: datetime
) -> list[Wallet]:
    """Count out credit in lots past their expiry that no sweep has removed yet."""
    return _counted(connection, account_id, found, now, replace)


def values_with_expired(
    connection: Connection, account_id: str, found: list[Any], now: datetime
) -> list[Any]:
    """``with_expired`` for the records of a projected read."""
    return _counted(connection, account_id, found, now, lambda record, **kw: record._replace(**kw))


def _counted(
    connection: Connection,
    account_id: str,
    found: list[Any],
    now: datetime,
    change: Callable[..., Any],
) -> list[Any]:
    with_lots = [wallet.uuid for wallet in found if wallet.open_lots]
    if not with_lots:
        return found
    expired = expired_unswept(connection, account_id, with_lots, now)
    return [
        change(
            wallet,
            global_expired=expired.get((wallet.uuid, CreditType.GLOBAL), 0),
            local_expired=expired.get((wallet.uuid, CreditType.LOCAL), 0),
        )
        if wallet.open_lots
        else wallet
        for wallet in found
    ]


def get_wallet(connection: Connection, account_id: str, wallet_uuid: str) -> Wallet | None:
    row = connection.execute(
        select(wallets).where(
            wallets.c.account_id == account_id, wallets.c.uuid == wallet_uuid, _OPEN
        )
    ).first()
    return wallet_from_row(row) if row else None


def record_shopify_balance(
    connection: Connection,
    account_id: str,
    wallet_uuid: str,
    balance: int,
    synced_at: datetime,
) -> bool:
    """Shopify's store-credit balance as read at ``synced_at``; an older reading never
    overwrites a newer one. False when the wallet is gone."""
    newer = (wallets.c.shopify_synced_at.is_(None)) | (wallets.c.shopify_synced_at <= synced_at)
    result = connection.execute(
        update(wallets)
        .where(wallets.c.account_id == account_id, wallets.c.uuid == wallet_uuid, newer)
        .values(shopify_balance=balance, shopify_synced_at=synced_at)
    )
    return bool(result.rowcount)


def wallets_by_uuids(connection: Connection, account_id: str, uuids: Sequence[str]) -> list[Wallet]:
    rows = connection.execute(
        select(wallets).where(
            wallets.c.account_id == account_id, wallets.c.uuid.in_(list(uuids)), _OPEN
        )
    )
    return wallets_from_rows(rows.all())


_WALLETS_OF_CUSTOMERS = {
    dialect: select(wallets).where(
        wallets.c.account_id == bindparam("account_id"),
        any_of(dialect, wallets.c.customer_uuid, "uuids"),
        _OPEN,
    )
    for dialect in ("postgresql", "sqlite")
}
# One customer's: PostgreSQL plans ``= ANY`` of an array afresh at each execution of the
# prepared statement (the array's length changes its estimates), ~0.13 ms an order; a plain
# equality keeps one generic plan.
_WALLET_OF_CUSTOMER = select(wallets).where(
    wallets.c.account_id == bindparam("account_id"),
    wallets.c.customer_uuid == bindparam("uuid"),
    _OPEN,
)


_WALLET_UUID_OF_CUSTOMER = Precompiled(
    select(wallets.c.uuid).where(
        wallets.c.account_id == bindparam("account_id", type_=String),
        wallets.c.customer_uuid == bindparam("uuid", type_=String),
        _OPEN,
    )
)


def wallet_uuid_of_customer(
    connection: Connection, account_id: str, customer_uuid: str
) -> str | None:
    """The uuid of one customer's open wallet (every order with a contact asks): one column,
    the statement's text run as it is."""
    row = _WALLET_UUID_OF_CUSTOMER.execute(
        connection, {"account_id": account_id, "uuid": customer_uuid}
    ).first()
    return str(row[0]) if row is not None else None


def wallets_for_customers(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, Wallet]:
    if not customer_uuids:
        return {}
    one = len(customer_uuids) == 1
    statement = _WALLET_OF_CUSTOMER if one else _WALLETS_OF_CUSTOMERS[connection.dialect.name]
    keys = {"uuid": customer_uuids[0]} if one else {"uuids": list(customer_uuids)}
    rows = connection.execute(statement, {"account_id": account_id, **keys}).all()
    return {wallet.customer_uuid: wallet for wallet in wallets_from_rows(rows)}


@dataclass(frozen=True, slots=True)
class Moved:
    """A wallet row after a guarded update: one credit type's balance and hold, and counters."""

    balance: int
    held: int
    entry_count: int
    open_lots: int


def move(
    connection: Connection,
    account_id: str,
    wallet_uuid: str,
    credit_type: CreditType,
    now: datetime,
    *,
    balance_delta: int = 0,
    held_delta: int = 0,
    entries: int = 1,
    open_lots_delta: int = 0,
) -> Moved | None:
    """Move one credit type's balance and/or hold, only if the result stays within bounds.

    The guard sits in the UPDATE itself, so concurrent writers can never overdraw: whatever
    leaves the available balance (a debit, a new hold) needs ``balance - held`` to cover it at
    the moment the row is locked. Returns the row after the change, or None when the wallet
    is missing or the guard refused.
    """
    shape = _Shape.of(credit_type, balance_delta, held_delta, open_lots_delta)
    row = (
        _move_precompiled(shape)
        .execute(
            connection,
            _move_parameters(
                account_id,
                wallet_uuid,
                now,
                balance_delta=balance_delta,
                held_delta=held_delta,
                entries=entries,
                open_lots_delta=open_lots_delta,
            ),
        )
        .first()
    )
    if row is None:
        return None
    return Moved(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which guards and changes a move has: one statement is built per shape, then reused
    with new parameters (building a statement costs more than running it)."""

    credit_type: CreditType
    leaves: bool  # credit leaves the available balance: it must cover it
    releases: bool  # a hold is released: the hold must cover it
    adds: bool  # the balance grows: it must stay within the maximum
    moves_balance: bool
    moves_held: bool
    moves_lots: bool

    @classmethod
    def of(
        cls, credit_type: CreditType, balance_delta: int, held_delta: int, open_lots_delta: int
    ) -> _Shape:
        return cls(
            credit_type,
            leaves=held_delta - balance_delta > 0,
            releases=held_delta < 0,
            adds=balance_delta > 0,
            moves_balance=balance_delta != 0,
            moves_held=held_delta != 0,
            moves_lots=open_lots_delta != 0,
        )


def _move_parameters(
    account_id: str,
    wallet_uuid: str,
    now: datetime,
    *,
    balance_delta: int,
    held_delta: int,
    entries: int,
    open_lots_delta: int,
) -> dict[str, Any]:
    return {
        "m_account": account_id,
        "m_wallet": wallet_uuid,
        "m_now": now,
        "m_entries": entries,
        "m_leaving": held_delta - balance_delta,
        "m_release": -held_delta,
        "m_room": MAX_MINOR_UNITS - balance_delta,
        "m_balance": balance_delta,
        "m_held": held_delta,
        "m_lots": open_lots_delta,
    }


@cache
def _move_precompiled(shape: _Shape) -> Precompiled:
    return Precompiled(_move_statement(shape))


@cache
def _move_statement(shape: _Shape) -> Any:
    balance, held = _BALANCE[shape.credit_type], _HELD[shape.credit_type]
    query = update(wallets).where(
        wallets.c.account_id == bindparam("m_account"),
        wallets.c.uuid == bindparam("m_wallet"),
        _OPEN,
    )
    if shape.leaves:
        query = query.where(balance - held >= bindparam("m_leaving", type_=BigInteger))
    if shape.releases:
        query = query.where(held >= bindparam("m_release", type_=BigInteger))
    if shape.adds:
        query = query.where(balance <= bindparam("m_room", type_=BigInteger))
    values: dict[Any, Any] = {
        wallets.c.entry_count: wallets.c.entry_count + bindparam("m_entries", type_=BigInteger),
        wallets.c.updated_at: bindparam("m_now", type_=wallets.c.updated_at.type),
    }
    if shape.moves_balance:
        values[balance] = balance + bindparam("m_balance", type_=BigInteger)
    if shape.moves_held:
        values[held] = held + bindparam("m_held", type_=BigInteger)
    if shape.moves_lots:
        values[wallets.c.open_lots] = wallets.c.open_lots + bindparam("m_lots", type_=BigInteger)
    return query.values(values).returning(
        balance.label("balance"), held.label("held"), wallets.c.entry_count, wallets.c.open_lots
    )


# The entry's own columns, given as parameters; its position and balance come from the move.
_ENTRY_COLUMNS = [
    column.name for column in credit_entries.columns if column.name not in {"seq", "balance_after"}
]
# Each with the name of its parameter (made once, not for every write).
_ENTRY_PARAMETERS = [(f"e_{name}", name) for name in _ENTRY_COLUMNS]
_ALSO_PARAMETERS = [(f"a_{name}", name) for name in EVENT_COLUMNS]


@dataclass(frozen=True, slots=True)
class EntryEvent:
    """The outbox event an entry writes: its payload but for ``balance_after`` (known once
    the balance has moved), written with ``places`` decimals after the other keys."""

    event_type: str
    payload: dict[str, str]
    places: int

    def complete(self, balance_after: int) -> dict[str, str]:
        # The payload's keys in the order PostgreSQL writes them (json_build_object).
        before = {key: value for key, value in self.payload.items() if key != "reason"}
        after = {"reason": self.payload["reason"]} if "reason" in self.payload else {}
        return {**before, "balance_after": str(from_minor(balance_after, self.places)), **after}


@cache
def _move_and_record_statement(
    shape: _Shape, with_event: bool = False, with_also: bool = False
) -> Any:
    """The move, the entry's insert and its day's totals as one statement (PostgreSQL: a
    data-modifying CTE), and with ``with_event`` the entry's outbox event too: a ledger write
    is one round trip. ``with_also``: one more outbox row, given whole (``a_`` parameters),
    queued if the balance moved."""
    moved_row = _move_statement(shape).cte("moved")
    sources: dict[str, Any] = {
        name: bindparam(f"e_{name}", type_=credit_entries.c[name].type) for name in _ENTRY_COLUMNS
    }
    recorded = (
        insert(credit_entries)
        .from_select(
            [*_ENTRY_COLUMNS, "seq", "balance_after"],
            select(*sources.values(), moved_row.c.entry_count, moved_row.c.balance).select_from(
                moved_row
            ),
        )
        .returning(credit_entries.c.seq)
        .cte("recorded")
    )
    counted = (
        day_totals.upsert_from(
            select(
                sources["account_id"],
                bindparam("d_day", type_=credit_day_totals.c.day.type),
                sources["credit_type"],
                sources["action"],
                sources["reason"],
                day_totals.bucket("postgresql"),
                sources["amount"],
                literal_column("1"),
            ).select_from(moved_row)
        )
        .returning(credit_day_totals.c.entries)
        .cte("counted")
    )
    query = select(
        moved_row.c.balance, moved_row.c.held, moved_row.c.entry_count, moved_row.c.open_lots
    ).select_from(moved_row.join(recorded, true()))
    query = query.add_cte(counted)
    if with_also:
        also = (
            insert(outbox_events)
            .from_select(
                list(EVENT_COLUMNS),
                select(
                    *(
                        bindparam(f"a_{name}", type_=outbox_events.c[name].type)
                        for name in EVENT_COLUMNS
                    )
                ).select_from(moved_row),
            )
            .returning(outbox_events.c.event_id)
            .cte("also_queued")
        )
        query = query.add_cte(also)
    if not with_event:
        return query
    # A data-modifying CTE runs whether or not the query reads it; from no moved row, no event.
    queued = (
        insert(outbox_events)
        .from_select(
            ["account_id", "event_id", "event_type", "payload", "status", "attempts", "created_at"],
            select(
                bindparam("m_account", type_=String),
                bindparam("o_event_id", type_=String),
                bindparam("o_event_type", type_=String),
                _payload_json(moved_row.c.balance),
                literal_column("'pending'"),
                literal_column("0"),
                bindparam("m_now", type_=outbox_events.c.created_at.type),
            ).select_from(moved_row),
        )
        .returning(outbox_events.c.event_id)
        .cte("queued")
    )
    return query.add_cte(queued)


# The entry event's keys in payload order; balance_after comes from the moved row.
_EVENT_KEYS = ("entry_uuid", "wallet_uuid", "action", "credit_type", "amount")


@cache
def _move_and_record_precompiled(shape: _Shape, with_event: bool, with_also: bool) -> Precompiled:
    # The hottest statement of the ledger: its SQL text is built once, not its cache key
    # per write.
    return Precompiled(_move_and_record_statement(shape, with_event, with_also))


def _payload_json(balance: Any) -> Any:
    """json_build_object of the event payload, balance_after written as Python writes a
    Decimal of ``places`` decimals (12.50, 7, 0.125)."""
    arguments: list[Any] = []
    for key in _EVENT_KEYS:
        arguments += [literal_column(f"'{key}'"), cast(bindparam(f"o_{key}"), Text)]
    places = cast(bindparam("o_places"), Integer)
    scaled = cast(balance, Numeric) / func.power(cast(10, Numeric), places)
    arguments += [literal_column("'balance_after'"), cast(func.round(scaled, places), Text)]
    arguments += [literal_column("'reason'"), cast(bindparam("o_reason"), Text)]
    return func.json_build_object(*arguments)


def move_and_record(
    connection: Connection,
    account_id: str,
    entry: CreditEntry,
    now: datetime,
    *,
    balance_delta: int = 0,
    held_delta: int = 0,
    open_lots_delta: int = 0,
    event: EntryEvent | None = None,
    also: tuple[str, dict[str, Any]] | None = None,
) -> tuple[Moved, CreditEntry] | None:
    """``move`` and the insert of ``entry`` (its position and balance_after filled in), and
    of its outbox ``event`` when given, and of the event ``also`` (its type and payload:
    another domain's event about the same write), queued after it.

    On PostgreSQL all go in one statement (a data-modifying CTE), so the wallet row's lock
    is held for one round trip less: what bounds a hot wallet's throughput.
    """
    if connection.dialect.name == "sqlite":
        moved = move(
            connection,
            account_id,
            entry.wallet_uuid,
            entry.credit_type,
            now,
            balance_delta=balance_delta,
            held_delta=held_delta,
            open_lots_delta=open_lots_delta,
        )
        if moved is None:
            return None
        written = replace(entry, seq=moved.entry_count, balance_after=moved.balance)
        insert_entry(connection, account_id, written)
        day_totals.add(connection, account_id, [written])
        if event is not None:
            record_event(connection, account_id, event.event_type, event.complete(moved.balance))
        if also is not None:
            record_event(connection, account_id, *also)
        return moved, written
    shape = _Shape.of(entry.credit_type, balance_delta, held_delta, open_lots_delta)
    parameters = _move_parameters(
        account_id,
        entry.wallet_uuid,
        now,
        balance_delta=balance_delta,
        held_delta=held_delta,
        entries=1,
        open_lots_delta=open_lots_delta,
    )
    values = entry_values(account_id, entry)
    parameters.update({parameter: values[name] for parameter, name in _ENTRY_PARAMETERS})
    parameters["d_day"] = day_totals.day_of(entry.created_at)
    if event is not None:
        parameters.update({f"o_{key}": value for key, value in event.payload.items()})
        parameters.update(
            o_event_id=new_uuid(), o_event_type=event.event_type, o_places=event.places
        )
    if also is not None:
        _, row = event_row(account_id, *also)
        parameters.update({parameter: row[name] for parameter, name in _ALSO_PARAMETERS})
    statement = _move_and_record_precompiled(
        shape, with_event=event is not None, with_also=also is not None
    )
    row = statement.execute(connection, parameters).first()
    if row is None:
        return None
    moved = Moved(int(row[0]), int(row[1]), int(row[2]), int(row[3]))
    return moved, replace(entry, seq=moved.entry_count, balance_after=moved.balance)


def entry_values(account_id: str, entry: CreditEntry) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "uuid": entry.uuid,
        "wallet_uuid": entry.wallet_uuid,
        "seq": entry.seq,
        "action": entry.action.value,
        "credit_type": entry.credit_type.value,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "reason": entry.reason.value,
        "note": entry.note,
        "idempotency_key": entry.idempotency_key,
        "conversion_uuid": entry.conversion_uuid,
        "redemption_uuid": entry.redemption_uuid,
        "order_uuid": entry.order_uuid,
        "reverses_uuid": entry.reverses_uuid,
        "expires_at": entry.expires_at,
        "created_at": entry.created_at,
        "actor": entry.actor,
        "actor_name": entry.actor_name,
    }


# Built once, values as parameters: a statement per call cost its construction and cache key
# on every write.
_INSERT_ENTRY = inserting(
    credit_entries, [column.name for column in credit_entries.columns if column.name != "id"]
)


def insert_entry(connection: Connection, account_id: str, entry: CreditEntry) -> None:
    _INSERT_ENTRY.execute(connection, entry_values(account_id, entry))


def get_entries(
    connection: Connection, account_id: str, entry_uuids: Sequence[str]
) -> list[CreditEntry]:
    rows = connection.execute(
        select(credit_entries).where(
            credit_entries.c.account_id == account_id,
            credit_entries.c.uuid.in_(list(entry_uuids)),
            credit_entries.c.wallet_uuid.in_(
                select(wallets.c.uuid).where(wallets.c.account_id == account_id, _OPEN)
            ),
        )
    ).all()
    return entries_from_rows(rows)


def entries_before(
    connection: Connection,
    account_id: str,
    wallet_uuid: str,
    *,
    before_seq: int | None,
    limit: int,
) -> list[CreditEntry]:
    query = (
        select(credit_entries)
        .where(
            credit_entries.c.account_id == account_id, credit_entries.c.wallet_uuid == wallet_uuid
        )
        .order_by(credit_entries.c.seq.desc())
        .limit(limit)
    )
    if before_seq is not None:
        query = query.where(credit_entries.c.seq < before_seq)
    return entries_from_rows(connection.execute(query).all())


def entries_for_wallets(
    connection: Connection,
    account_id: str,
    wallet_uuids: Sequence[str],
    *,
    limit: int,
    offset: int,
) -> dict[str, list[CreditEntry]]:
    """Newest-first pages of entries for many wallets in one statement (a window per wallet)."""
    found: dict[str, list[CreditEntry]] = {uuid: [] for uuid in wallet_uuids}
    if not wallet_uuids:
        return found
    if len(wallet_uuids) == 1:
        rows = connection.execute(
            select(credit_entries)
            .where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.wallet_uuid == wallet_uuids[0],
            )
            .order_by(credit_entries.c.seq.desc())
            .limit(limit)
            .offset(offset)
        )
    else:
        position = (
            func.row_number()
            .over(partition_by=credit_entries.c.wallet_uuid, order_by=credit_entries.c.seq.desc())
            .label("position")
        )
        ranked = (
            select(credit_entries, position)
            .where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.wallet_uuid.in_(list(wallet_uuids)),
            )
            .subquery()
        )
        rows = connection.execute(
            select(ranked)
            .where(ranked.c.position > offset, ranked.c.position <= offset + limit)
            .order_by(ranked.c.wallet_uuid, ranked.c.position)
        )
    for entry in entries_from_rows(rows.all()):
        found[entry.wallet_uuid].append(entry)
    return found


def reversed_amount(connection: Connection, account_id: str, entry_uuid: str) -> int:
    """How much of an entry later entries have already given back."""
    return int(
        connection.execute(
            select(func.coalesce(func.sum(credit_entries.c.amount), 0)).where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.reverses_uuid == entry_uuid,
            )
        ).scalar_one()
    )


def order_credit_spends(connection: Connection, account_id: str, order_uuid: str) -> list[str]:
    """The SPEND entries that paid an order with credit (whose lots a refund refills)."""
    return list(
        connection.execute(
            select(credit_entries.c.uuid).where(
                credit_entries.c.account_id == account_id,
                credit_entries.c.order_uuid == order_uuid,
                credit_entries.c.action == Action.SPEND.value,
                credit_entries.c.credit_type == CreditType.GLOBAL.value,
            )
        ).scalars()
    )


def stale_shopify_wallets(
    connection: Connection, account_id: str, owners: Subquery, before: datetime, limit: int
) -> list[tuple[str, str]]:
    """(wallet uuid, external id) of the wallets whose customer is among ``owners`` (a query
    of customer_uuid, external_id) and whose Shopify balance was not read since ``before``,
    oldest first."""
    query = (
        select(wallets.c.uuid, owners.c.external_id)
        .join(owners, owners.c.customer_uuid == wallets.c.customer_uuid)
        .where(
            wallets.c.account_id == account_id,
            or_(wallets.c.shopify_synced_at.is_(None), wallets.c.shopify_synced_at < before),
        )
        .order_by(wallets.c.shopify_synced_at.is_not(None), wallets.c.shopify_synced_at)
        .limit(limit)
    )
    return [(row.uuid, row.external_id) for row in connection.execute(query)]
