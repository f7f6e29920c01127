"""The ledger's commands and reads. Every write is one transaction with its outbox rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Subquery, exists, select

from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.bulk import RowInsert
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import record_event
from patron.core.ids import is_uuid, new_uuid
from patron.core.money import from_minor, plain_minor, to_decimal
from patron.core.unit import run_command
from patron.wallets import (
    bulk_repository,
    ledger,
    lots,
    overview_repository,
    page_repository,
    postings,
    repository,
)
from patron.wallets.models import (
    Action,
    Conversion,
    ConversionCommand,
    CreditEntry,
    CreditType,
    DayFlow,
    EntryCommand,
    LedgerOverview,
    Reason,
    Wallet,
)
from patron.wallets.postings import Posting
from patron.wallets.tables import credit_entries, wallets


def _replayed(
    connection: Connection, principal: Principal, key: str | None, operation: str, digest: str
) -> list[CreditEntry] | None:
    if key is None:
        return None
    stored = idempotency.find_result(connection, principal.account_id, key, operation, digest)
    if stored is None:
        return None
    by_uuid = {
        entry.uuid: entry
        for entry in repository.get_entries(connection, principal.account_id, stored["entries"])
    }
    return [by_uuid[entry_uuid] for entry_uuid in stored["entries"]]


def post_entry(
    db: Database, principal: Principal, command: EntryCommand, *, reason: Reason = Reason.MANUAL
) -> CreditEntry:
    """ADD, SPEND or REMOVE credit. A debit above the available balance writes nothing."""
    principal.require("write")
    action = ledger.parse_action(command.action)
    credit_type = ledger.parse_credit_type(command.credit_type)
    amount = ledger.amount_minor(principal, credit_type, command.amount)
    note = ledger.clean_note(command.note)
    key = idempotency.validate_key(command.idempotency_key)
    expires_at = as_utc(command.expires_at) if command.expires_at is not None else None
    operation = "post_entry"
    digest = idempotency.fingerprint(
        operation,
        {
            "wallet": command.wallet_uuid,
            "action": action.value,
            "type": credit_type.value,
            "amount": amount,
            "note": note,
            "reason": reason.value,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    posting = Posting(
        wallet_uuid=command.wallet_uuid,
        action=action,
        credit_type=credit_type,
        amount=amount,
        reason=reason,
        note=note,
        idempotency_key=key,
        expires_at=expires_at,
    )

    def write(connection: Connection) -> CreditEntry:
        replay = _replayed(connection, principal, key, operation, digest)
        if replay is not None:
            return replay[0]
        entry = postings.post(connection, principal, posting, utcnow())
        if key is not None:
            idempotency.store_result(
                connection, principal.account_id, key, operation, digest, {"entries": [entry.uuid]}
            )
        return entry

    return run_command(db, write, lock_key=command.wallet_uuid)


def convert_credit(db: Database, principal: Principal, command: ConversionCommand) -> Conversion:
    """REMOVE ``amount`` of one type, ADD ``amount × rate`` (rounded down) of the other: atomic."""
    principal.require("write")
    from_type = ledger.parse_credit_type(command.from_type, field="from")
    to_type = ledger.parse_credit_type(command.to_type, field="to")
    if from_type is to_type:
        raise InvalidInput("from and to must be different credit types", field="to")
    amount = ledger.amount_minor(principal, from_type, command.amount)
    rate = ledger.conversion_rate(principal, from_type, to_type, command.conversion_rate)
    added = ledger.converted_minor(principal, amount, from_type, to_type, rate)
    if added <= 0:
        raise InvalidInput(
            f"converting {from_minor(amount, ledger.precision(principal, from_type))} at rate "
            f"{rate} gives less than the smallest {to_type.value} unit",
            field="amount",
        )
    note = ledger.clean_note(command.note)
    key = idempotency.validate_key(command.idempotency_key)
    operation = "convert_credit"
    digest = idempotency.fingerprint(
        operation,
        {
            "wallet": command.wallet_uuid,
            "from": from_type.value,
            "to": to_type.value,
            "amount": amount,
            "rate": str(rate),
            "note": note,
        },
    )

    def write(connection: Connection) -> Conversion:
        replay = _replayed(connection, principal, key, operation, digest)
        if replay is not None:
            removed_entry, added_entry = replay
            return Conversion(
                conversion_uuid=removed_entry.conversion_uuid or "",
                rate=rate,
                removed=removed_entry,
                added=added_entry,
            )
        now = utcnow()
        conversion_uuid = new_uuid()
        removed_entry = postings.post(
            connection,
            principal,
            Posting(
                wallet_uuid=command.wallet_uuid,
                action=Action.REMOVE,
                credit_type=from_type,
                amount=amount,
                reason=Reason.CONVERSION,
                note=note,
                idempotency_key=key,
                conversion_uuid=conversion_uuid,
            ),
            now,
        )
        added_entry = postings.post(
            connection,
            principal,
            Posting(
                wallet_uuid=command.wallet_uuid,
                action=Action.ADD,
                credit_type=to_type,
                amount=added,
                reason=Reason.CONVERSION,
                note=note,
                idempotency_key=key,
                conversion_uuid=conversion_uuid,
            ),
            now,
        )
        record_event(
            connection,
            principal.account_id,
            "wallet.credit_converted",
            {
                "conversion_uuid": conversion_uuid,
                "wallet_uuid": command.wallet_uuid,
                "rate": str(rate),
                "removed": postings.event_payload(principal, removed_entry),
                "added": postings.event_payload(principal, added_entry),
            },
        )
        if key is not None:
            idempotency.store_result(
                connection,
                principal.account_id,
                key,
                operation,
                digest,
                {"entries": [removed_entry.uuid, added_entry.uuid]},
            )
        return Conversion(
            conversion_uuid=conversion_uuid, rate=rate, removed=removed_entry, added=added_entry
        )

    return run_command(db, write, lock_key=command.wallet_uuid)


class AlreadyReversed(Conflict):
    code = "ALREADY_REVERSED"


def reverse_entry(
    db: Database,
    principal: Principal,
    entry_uuid: str,
    *,
    amount: object | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Give back a SPEND or REMOVE (restoring the lots it drew on), or take back an unspent ADD.

    Over all its reversals an entry gives back at most its own amount.
    """
    principal.require("write")
    note = ledger.clean_note(note)
    key = idempotency.validate_key(idempotency_key)
    operation = "reverse_entry"
    digest = idempotency.fingerprint(
        operation, {"entry": entry_uuid, "amount": _amount_key(amount), "note": note}
    )

    def write(connection: Connection) -> CreditEntry:
        replay = _replayed(connection, principal, key, operation, digest)
        if replay is not None:
            return replay[0]
        found = (
            repository.get_entries(connection, principal.account_id, [entry_uuid])
            if is_uuid(entry_uuid)
            else []
        )
        if not found:
            raise NotFound(f"no credit entry with uuid '{entry_uuid}'", field="uuid")
        original = found[0]
        reversal = original.reason.reversal
        if reversal is None or original.reverses_uuid is not None:
            raise InvalidInput(
                f"a {original.reason.value} entry cannot be reversed"
                + (" (it is itself a reversal)" if original.reverses_uuid else ""),
                field="uuid",
            )
        postings.lock_wallet(connection, principal, original.wallet_uuid)
        left = original.amount - repository.reversed_amount(
            connection, principal.account_id, original.uuid
        )
        places = ledger.precision(principal, original.credit_type)
        if left <= 0:
            raise AlreadyReversed("this entry has already been reversed in full", field="uuid")
        wanted = (
            left if amount is None else ledger.amount_minor(principal, original.credit_type, amount)
        )
        if wanted > left:
            raise InvalidInput(
                f"at most {from_minor(left, places)} of this entry can still be reversed",
                field="amount",
            )
        now = utcnow()
        posting = Posting(
            wallet_uuid=original.wallet_uuid,
            action=Action.ADD if original.action is not Action.ADD else Action.REMOVE,
            credit_type=original.credit_type,
            amount=wanted,
            reason=reversal,
            note=note,
            idempotency_key=key,
            order_uuid=original.order_uuid,
            redemption_uuid=original.redemption_uuid,
            reverses_uuid=original.uuid,
        )
        if original.action is Action.ADD:
            entry = _take_back(connection, principal, posting, original, now)
        else:
            entry = postings.post(connection, principal, posting, now)
            # A redeemed code's SPEND drew on lots through its hold, recorded under the code.
            drawn_by = original.redemption_uuid if original.reason is Reason.REDEMPTION else None
            postings.restore_draws(
                connection, principal, original.wallet_uuid, drawn_by or original.uuid, wanted
            )
        if key is not None:
            idempotency.store_result(
                connection, principal.account_id, key, operation, digest, {"entries": [entry.uuid]}
            )
        return entry

    return run_command(db, write)


def _amount_key(amount: object | None) -> str | None:
    """A reversal's amount as its idempotency digest sees it: 5, 5.0 and "5.00" are one."""
    if amount is None:
        return None
    try:
        return str(to_decimal(amount).normalize())
    except InvalidInput:
        return repr(amount)  # refused in the command, with its reason


def _take_back(
    connection: Connection,
    principal: Principal,
    posting: Posting,
    original: CreditEntry,
    now: datetime,
) -> CreditEntry:
    lot = lots.lot_of_entry(connection, principal.account_id, original.uuid)
    if lot is not None:
        return postings.remove_from_lot(connection, principal, posting, lot, now)
    # Credit that does not expire is taken back from lasting credit only: expiring lots are
    # other ADDs' credit, and spends draw on them first.
    wallet = postings.load_wallet(connection, principal, posting.wallet_uuid, now)
    in_lots = sum(
        live.remaining
        for live in lots.open_lots(
            connection, principal.account_id, posting.wallet_uuid, posting.credit_type
        )
        if live.expires_at > now
    )
    lasting = wallet.available(posting.credit_type) - in_lots
    if lasting < posting.amount:
        places = ledger.precision(principal, posting.credit_type)
        raise postings.CreditAlreadySpent(
            "the credit of this entry is already spent: "
            f"{from_minor(max(lasting, 0), places)} of it left",
            field="amount",
        )
    return postings.post(connection, principal, posting, now, from_lots=False)


# What a projected wallet read always reads: how its records are matched to their customers,
# and what counting out unswept expired credit needs.
_WALLET_KEYS = ("customer_uuid", "open_lots", "uuid")
WALLET_PROJECTABLE = page_repository.WALLET_PROJECTABLE


def wallet_values_for_customers(
    connection: Connection,
    principal: Principal,
    customer_uuids: Sequence[str],
    names: tuple[str, ...],
) -> dict[str, Any]:
    """``wallets_for_customers`` reading only the named columns (``WALLET_PROJECTABLE``):
    per customer a record with the model's attribute names and values, unswept expired
    credit counted out as the model's is (``global_expired``, ``local_expired``)."""
    wanted = projected_names(names)
    found = page_repository.wallet_values_for_customers(
        connection, principal.account_id, customer_uuids, wanted
    )
    counted = repository.values_with_expired(connection, principal.account_id, found, utcnow())
    return {record.customer_uuid: record for record in counted}


def projected_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a projected wallet read takes to give ``names``: with its keys, sorted."""
    return tuple(sorted({*names, *_WALLET_KEYS}))


def joined_wallet_values(
    connection: Connection,
    principal: Principal,
    rows: Sequence[Sequence[Any]],
    names: tuple[str, ...],
) -> list[Any]:
    """``wallet_values_for_customers`` of wallets another domain's statement has read
    (``subqueries.JOINED_WALLET``): ``rows`` hold the stored values of ``names``
    (``projected_names``), a row of nulls where a customer has no open wallet; per row a
    record, or None."""
    at = names.index("uuid")
    found = page_repository.wallet_records([row for row in rows if row[at] is not None], names)
    now = utcnow()
    counted = iter(repository.values_with_expired(connection, principal.account_id, found, now))
    return [None if row[at] is None else next(counted) for row in rows]


def wallets_for_customers(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, Wallet]:
    found = repository.wallets_for_customers(connection, principal.account_id, customer_uuids)
    counted = repository.with_expired(
        connection, principal.account_id, list(found.values()), utcnow()
    )
    return {wallet.customer_uuid: wallet for wallet in counted}


def entries_for_wallets(
    connection: Connection,
    principal: Principal,
    wallet_uuids: Sequence[str],
    *,
    limit: int,
    offset: int,
) -> dict[str, list[CreditEntry]]:
    return repository.entries_for_wallets(
        connection, principal.account_id, wallet_uuids, limit=limit, offset=offset
    )


def get_entries(
    connection: Connection, principal: Principal, entry_uuids: Sequence[str]
) -> list[CreditEntry]:
    """The account's entries among these uuids (malformed ones are simply not found)."""
    wanted = [uuid for uuid in entry_uuids if is_uuid(uuid)]
    return repository.get_entries(connection, principal.account_id, wanted) if wanted else []


def entries_before(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str,
    *,
    before_seq: int | None,
    limit: int,
) -> list[CreditEntry]:
    """A wallet's entries newest first, from just before position ``before_seq`` (a cursor)."""
    return repository.entries_before(
        connection, principal.account_id, wallet_uuid, before_seq=before_seq, limit=limit
    )


def wallets_by_uuids(
    connection: Connection, principal: Principal, uuids: Sequence[str]
) -> list[Wallet]:
    wanted = [uuid for uuid in uuids if is_uuid(uuid)]
    found = repository.wallets_by_uuids(connection, principal.account_id, wanted) if wanted else []
    return repository.with_expired(connection, principal.account_id, found, utcnow())


def get_wallet(connection: Connection, principal: Principal, wallet_uuid: str) -> Wallet:
    return postings.load_wallet(connection, principal, wallet_uuid, utcnow())


def upcoming_lots(
    connection: Connection, principal: Principal, wallet_uuids: Sequence[str]
) -> dict[str, list[lots.Lot]]:
    return lots.upcoming(connection, principal.account_id, wallet_uuids, utcnow())


# For other domains, inside their transaction


def opening_wallet(
    principal: Principal, wallet_uuid: str, customer_uuid: str, now: datetime
) -> tuple[Wallet, RowInsert]:
    """The empty wallet of a customer being created and the row that stores it, for a caller
    that writes it together with the customer's rows (``bulk.insert_together``)."""
    row = repository.wallet_row(principal.account_id, wallet_uuid, customer_uuid, now)
    return Wallet(
        uuid=wallet_uuid,
        customer_uuid=customer_uuid,
        global_balance=0,
        local_balance=0,
        global_held=0,
        local_held=0,
        shopify_balance=None,
        entry_count=0,
        open_lots=0,
        created_at=now,
        updated_at=now,
    ), row


def lock_wallet_of(
    connection: Connection, principal: Principal, customer_uuid: str
) -> Wallet | None:
    """The customer's wallet, its row locked until the caller's transaction ends (SQLite's
    writer lock already covers it)."""
    return repository.lock_wallet_of(connection, principal.account_id, customer_uuid)


def close_wallet(
    connection: Connection, principal: Principal, customer_uuid: str, now: datetime
) -> Wallet | None:
    """The wallet of a customer being erased: kept with its entries and lots for the books,
    read and moved by no request again; the entries' free-text notes are blanked."""
    return repository.close_wallet(connection, principal.account_id, customer_uuid, now)


def wallet_record(
    connection: Connection, principal: Principal, customer_uuid: str
) -> tuple[Wallet, list[CreditEntry], list[lots.Lot]] | None:
    """The customer's wallet, every entry oldest first and every lot: what Patron holds."""
    found = repository.wallets_for_customers(connection, principal.account_id, [customer_uuid])
    wallet = found.get(customer_uuid)
    if wallet is None:
        return None
    entries = repository.all_entries(connection, principal.account_id, wallet.uuid)
    return wallet, entries, lots.all_of_wallet(connection, principal.account_id, wallet.uuid)


def import_amount(
    principal: Principal, credit_type: CreditType, value: object, *, field: str
) -> int:
    """An imported balance in smallest units, by the rules of an amount (0: nothing to add)."""
    if isinstance(value, str):
        minor = plain_minor(value, ledger.precision(principal, credit_type))
        if minor is not None:
            return minor
    number = to_decimal(value, field=field)
    if number == 0:
        return 0
    return ledger.amount_minor(principal, credit_type, number, field=field)


def refresh_statistics(connection: Connection) -> None:
    """After a bulk import's first batches: the planner's figures of the ledger tables."""
    from patron.core.bulk import analyze

    analyze(connection, wallets, credit_entries)


def open_wallets(
    connection: Connection,
    principal: Principal,
    pairs: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """The empty wallets of many customers just created (an import): (wallet, customer)."""
    bulk_repository.insert_wallets(
        connection,
        principal.account_id,
        [(wallet_uuid, customer_uuid, 0, 0, 0) for wallet_uuid, customer_uuid in pairs],
        now,
    )


def find_wallet(connection: Connection, principal: Principal, wallet_uuid: str) -> Wallet | None:
    """The wallet as stored (unswept expired credit still counted in), or None."""
    return repository.get_wallet(connection, principal.account_id, wallet_uuid)


def wallet_uuids_for_customers(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, str]:
    """The wallet uuid of each of these customers that exists, in one statement."""
    found = repository.wallets_for_customers(connection, principal.account_id, customer_uuids)
    return {customer_uuid: wallet.uuid for customer_uuid, wallet in found.items()}


def wallet_uuid_of_customer(
    connection: Connection, principal: Principal, customer_uuid: str
) -> str | None:
    """The customer's wallet uuid, None when there is no such customer (or it has none)."""
    return repository.wallet_uuid_of_customer(connection, principal.account_id, customer_uuid)


def count_out_expired(
    connection: Connection, principal: Principal, found: list[Wallet], now: datetime
) -> list[Wallet]:
    """The wallets with credit in lots past their expiry that no sweep has removed yet."""
    return repository.with_expired(connection, principal.account_id, found, now)


def order_credit_spends(connection: Connection, principal: Principal, order_uuid: str) -> list[str]:
    """The SPEND entries that paid an order with credit (whose lots a refund refills)."""
    return repository.order_credit_spends(connection, principal.account_id, order_uuid)


def record_shopify_balance(
    connection: Connection, account_id: str, wallet_uuid: str, balance: int, synced_at: datetime
) -> bool:
    """Shopify's store-credit balance as read at ``synced_at``; an older reading never
    overwrites a newer one. False when the wallet is gone."""
    return repository.record_shopify_balance(
        connection, account_id, wallet_uuid, balance, synced_at
    )


def stale_shopify_wallets(
    connection: Connection, principal: Principal, owners: Subquery, before: datetime, limit: int
) -> list[tuple[str, str]]:
    """(wallet uuid, owner's external id) of wallets whose customer is among ``owners`` (a
    query of customer_uuid, external_id) not read from Shopify since ``before``, oldest first."""
    return repository.stale_shopify_wallets(connection, principal.account_id, owners, before, limit)


def has_wallets(connection: Connection, account_id: str) -> bool:
    """Whether the account has any wallet (in its caller's transaction)."""
    return bool(
        connection.execute(select(exists().where(wallets.c.account_id == account_id))).scalar()
    )


def has_entries(connection: Connection, account_id: str, credit_type: CreditType) -> bool:
    """Whether any entry of ``credit_type`` was ever written for the account (in its caller's
    transaction): amounts kept in that type's current precision exist."""
    entries = credit_entries.c
    query = select(
        exists().where(entries.account_id == account_id, entries.credit_type == credit_type.value)
    )
    return bool(connection.execute(query).scalar())


# The console's overview


# How long after midnight (UTC) a day counts as over: an entry stamped just before midnight
# may commit just after it.
DAY_CLOSES_AFTER = timedelta(minutes=5)
ClosedDays = dict[str, dict[CreditType, DayFlow]]


def closed_before(now: datetime) -> str:
    """The first day (YYYY-MM-DD) whose entries may still change at ``now``."""
    return (now - DAY_CLOSES_AFTER).strftime("%Y-%m-%d")


def ledger_overview(
    connection: Connection,
    principal: Principal,
    now: datetime,
    *,
    days: int = 30,
    closed: ClosedDays | None = None,
) -> LedgerOverview:
    """The account's balances at the end of each of the last ``days`` days (worked back from
    today's totals through each day's flows), each day's flows (from the days' ledger
    totals, ``day_totals``), and the credit expiring on each of the next ``days`` days: three
    statements, whatever the number of wallets or entries.

    ``closed`` holds flows an earlier call returned for days that are over (before
    ``closed_before(now)``): entries are stamped when written, so those no longer change, and
    only the days after them are read again."""
    principal.require("read")
    account_id = principal.account_id
    known = closed or {}
    first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    labels = [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
    still_open = closed_before(now)
    since = first
    for label in labels:
        if label >= still_open or label not in known:
            break
        since += timedelta(days=1)
    totals = overview_repository.balance_totals(connection, account_id)
    flows: dict[CreditType, dict[str, dict[str, int]]] = {kind: {} for kind in CreditType}
    for row in overview_repository.daily_flows(connection, account_id, since):
        kind = CreditType(row.credit_type)
        bucket = flows[kind].setdefault(str(row.day)[:10], {})
        name = (
            "expired"
            if row.expiry
            else {"ADD": "added", "SPEND": "spent", "REMOVE": "removed"}[row.action]
        )
        bucket[name] = bucket.get(name, 0) + int(row.total)
    read_from = since.strftime("%Y-%m-%d")
    balances: dict[CreditType, list[int]] = {}
    day_flows: dict[CreditType, list[DayFlow]] = {}
    for kind in CreditType:
        balance = totals[f"{kind.value.lower()}_balance"]
        series: list[int] = []
        listed: list[DayFlow] = []
        for label in reversed(labels):
            series.append(balance)
            if label < read_from:
                flow = known[label][kind]
            else:
                flow = DayFlow(day=label, **flows[kind].get(label, {}))
            listed.append(flow)
            balance -= flow.added - flow.spent - flow.removed - flow.expired
        balances[kind] = list(reversed(series))
        day_flows[kind] = list(reversed(listed))
    expiring: dict[CreditType, list[tuple[str, int]]] = {kind: [] for kind in CreditType}
    for row in overview_repository.expiring_by_day(
        connection, account_id, now, now + timedelta(days=days)
    ):
        expiring[CreditType(row.credit_type)].append((str(row.day)[:10], int(row.total)))
    for listed_days in expiring.values():
        listed_days.sort()
    return LedgerOverview(
        days=labels,
        balances=balances,
        held={kind: totals[f"{kind.value.lower()}_held"] for kind in CreditType},
        flows=day_flows,
        expiring=expiring,
    )


# What an export of entries reads of each, in this order.
EXPORTED_ENTRY_FIELDS = bulk_repository.ENTRY_FIELDS
EXPORT_BATCH = 5000


def export_entries(
    connection: Connection, principal: Principal, *, since: datetime | None
) -> Iterator[Sequence[Any]]:
    """Every entry of the account by wallet and position, streamed in batches (a server-side
    cursor on PostgreSQL): the values of ``EXPORTED_ENTRY_FIELDS`` in that order, amounts in
    smallest units and times as stored (naive ones are UTC); ``since``: written since then."""
    query = (
        select(*(credit_entries.c[name] for name in EXPORTED_ENTRY_FIELDS))
        .where(credit_entries.c.account_id == principal.account_id)
        .order_by(credit_entries.c.wallet_uuid, credit_entries.c.seq)
    )
    if since is not None:
        query = query.where(credit_entries.c.created_at >= since)
    result = connection.execution_options(yield_per=EXPORT_BATCH).execute(query)
    for batch in result.partitions():
        yield from batch


def points_earned_for_customers(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, int]:
    """LOCAL points each customer has earned, in the smallest unit: every LOCAL ADD that is not
    a give-back (orders, grants, imports, conversions into points), less what was taken back
    from them (reversals of those ADDs and refunded orders' clawbacks). Spending, expiry and
    codes do not lower it. One statement for a page of customers."""
    if not customer_uuids:
        return {}
    found = page_repository.points_earned(connection, principal.account_id, customer_uuids)
    return {uuid: found.get(uuid, 0) for uuid in customer_uuids}
