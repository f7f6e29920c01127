"""The ledger's commands and reads. Every write is one transaction with its outbox rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput, NotFound
from patron.core.events import record_event
from patron.core.money import from_minor
from patron.core.unit import run_command
from patron.wallets import ledger, repository
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import (
    Action,
    Conversion,
    ConversionCommand,
    CreditEntry,
    CreditType,
    EntryCommand,
    Reason,
    Wallet,
)

_EVENT_FOR_ACTION = {
    Action.ADD: "wallet.credit_added",
    Action.SPEND: "wallet.credit_spent",
    Action.REMOVE: "wallet.credit_removed",
}


def _wallet_or_not_found(connection: Connection, principal: Principal, wallet_uuid: str) -> Wallet:
    wallet = repository.get_wallet(connection, principal.account_id, wallet_uuid)
    if wallet is None:
        raise NotFound(f"no wallet with uuid '{wallet_uuid}'", field="walletUuid")
    return wallet


def _insufficient(
    principal: Principal, wallet: Wallet, credit_type: CreditType, amount: int
) -> InsufficientCredit:
    places = ledger.precision(principal, credit_type)
    available = from_minor(wallet.available(credit_type), places)
    held = wallet.held(credit_type)
    held_note = f" ({from_minor(held, places)} held by redemption codes)" if held else ""
    return InsufficientCredit(
        f"insufficient {credit_type.value} credit: available balance {available}{held_note}, "
        f"amount {from_minor(amount, places)}",
        field="amount",
    )


def _event_payload(principal: Principal, entry: CreditEntry) -> dict[str, object]:
    places = ledger.precision(principal, entry.credit_type)
    return {
        "entry_uuid": entry.uuid,
        "wallet_uuid": entry.wallet_uuid,
        "action": entry.action.value,
        "credit_type": entry.credit_type.value,
        "amount": str(from_minor(entry.amount, places)),
        "balance_after": str(from_minor(entry.balance_after, places)),
        "reason": entry.reason.value,
    }


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
        },
    )

    def write(connection: Connection) -> CreditEntry:
        replay = _replayed(connection, principal, key, operation, digest)
        if replay is not None:
            return replay[0]
        now = utcnow()
        delta = amount if action is Action.ADD else -amount
        moved = repository.apply_delta(
            connection, principal.account_id, command.wallet_uuid, credit_type, delta, now
        )
        if moved is None:
            wallet = _wallet_or_not_found(connection, principal, command.wallet_uuid)
            if action is Action.ADD:
                raise InvalidInput("the balance would exceed the maximum", field="amount")
            raise _insufficient(principal, wallet, credit_type, amount)
        balance, count = moved
        entry = CreditEntry(
            uuid=str(uuid.uuid4()),
            wallet_uuid=command.wallet_uuid,
            seq=count,
            action=action,
            credit_type=credit_type,
            amount=amount,
            balance_after=balance,
            reason=reason,
            note=note,
            idempotency_key=key,
            conversion_uuid=None,
            redemption_uuid=None,
            order_uuid=None,
            reverses_uuid=None,
            expires_at=None,
            created_at=now,
        )
        repository.insert_entry(connection, principal.account_id, entry)
        record_event(
            connection,
            principal.account_id,
            _EVENT_FOR_ACTION[action],
            _event_payload(principal, entry),
        )
        if key is not None:
            idempotency.store_result(
                connection, principal.account_id, key, operation, digest, {"entries": [entry.uuid]}
            )
        return entry

    return run_command(db, write)


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
        moved = repository.apply_conversion(
            connection,
            principal.account_id,
            command.wallet_uuid,
            from_type,
            amount,
            to_type,
            added,
            now,
        )
        if moved is None:
            wallet = _wallet_or_not_found(connection, principal, command.wallet_uuid)
            if wallet.available(from_type) < amount:
                raise _insufficient(principal, wallet, from_type, amount)
            raise InvalidInput("the balance would exceed the maximum", field="amount")
        from_balance, to_balance, count = moved
        conversion_uuid = str(uuid.uuid4())
        removed_entry = CreditEntry(
            uuid=str(uuid.uuid4()),
            wallet_uuid=command.wallet_uuid,
            seq=count - 1,
            action=Action.REMOVE,
            credit_type=from_type,
            amount=amount,
            balance_after=from_balance,
            reason=Reason.CONVERSION,
            note=note,
            idempotency_key=key,
            conversion_uuid=conversion_uuid,
            redemption_uuid=None,
            order_uuid=None,
            reverses_uuid=None,
            expires_at=None,
            created_at=now,
        )
        added_entry = replace(
            removed_entry,
            uuid=str(uuid.uuid4()),
            seq=count,
            action=Action.ADD,
            credit_type=to_type,
            amount=added,
            balance_after=to_balance,
        )
        repository.insert_entry(connection, principal.account_id, removed_entry)
        repository.insert_entry(connection, principal.account_id, added_entry)
        record_event(
            connection,
            principal.account_id,
            "wallet.credit_converted",
            {
                "conversion_uuid": conversion_uuid,
                "rate": str(rate),
                "removed": _event_payload(principal, removed_entry),
                "added": _event_payload(principal, added_entry),
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

    return run_command(db, write)


def wallets_for_customers(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, Wallet]:
    return repository.wallets_for_customers(connection, principal.account_id, customer_uuids)


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


def get_wallet(connection: Connection, principal: Principal, wallet_uuid: str) -> Wallet:
    return _wallet_or_not_found(connection, principal, wallet_uuid)
