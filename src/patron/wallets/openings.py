"""An import's opening balances: many ADDs at once, each applied once per idempotency key.

What ``postings.post`` writes for each ADD (the entry at its wallet's next position with its
running balance, the wallet's figures, the outbox event), for a whole batch in a few
statements: to wallets that exist (``post_openings``), or to wallets opened in the same
transaction (``prepare_opened``, which reads nothing and may run ahead of the transaction,
then ``write_opened``). Reached through ``postings``, which names each of these.

An opening's key is kept on its entry (``idempotency_key``), not as a row of the
idempotency table as well: the key names its wallet (the importer's keys hold the contact's
uuid), so a later run finds it among that wallet's entries, under the wallet's lock. An
import writes two rows a contact fewer (eight, not ten), and an API write's retries, which
the table is for, never meet these keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core.errors import InvalidInput, NotFound
from patron.core.events import record_events
from patron.core.ids import time_ordered_uuids
from patron.core.money import MAX_MINOR_UNITS, minor_text
from patron.wallets import bulk_repository, ledger
from patron.wallets.models import EVENT_FOR_ACTION, Action, CreditEntry, CreditType, Reason

# Where an entry's row (``bulk_repository.ENTRY_ROW``) has its wallet.
_WALLET_AT = bulk_repository.ENTRY_ROW.index("wallet_uuid")


@dataclass(slots=True)  # not frozen: an import makes two a row (a frozen one costs 4x)
class OpeningBalance:
    """An ADD (reason IMPORT) to apply once to its wallet: ``idempotency_key`` names it for
    good."""

    wallet_uuid: str
    credit_type: CreditType
    amount: int
    idempotency_key: str
    note: str | None = None


@dataclass(frozen=True)
class OpeningResult:
    """``posted``: written now; ``already``: its wallet has an entry with this key, of this
    type and amount; ``differs``: it has one with this key and another type or amount
    (``previous``; nothing is written again); ``refused``: the balance would exceed the
    maximum (``error``)."""

    status: str
    entry: CreditEntry | None = None
    previous: int | None = None
    error: InvalidInput | None = None


def _json_string(value: str) -> str:
    """``json.dumps(value)`` of a string, without the encoder for the plain ones: printable
    ASCII (space to tilde) but for the quote and the backslash is written as it is."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value)


def post_openings(
    connection: Connection,
    principal: Principal,
    openings: Sequence[OpeningBalance],
    now: datetime,
    *,
    with_entries: bool = True,
) -> list[OpeningResult]:
    """Apply many opening balances to wallets that exist, in the caller's transaction, with
    what ``post`` writes for each ADD (the entry at its position with its running balance,
    the wallet's balance and counter, the outbox event), in a few statements for the whole
    batch.

    The wallets are locked first, then searched for entries with the openings' keys: an
    opening whose key one holds writes nothing again, so a re-run or a resumed import never
    doubles a balance, and of two imports at once the second waits for the first's wallets
    and finds its entries. Keys must be distinct within a call (the importer sees to it).

    ``with_entries=False``: a posted result carries no ``entry`` (a caller that needs only
    its opening's own figures is spared building one per balance)."""
    principal.require("write")
    account_id = principal.account_id
    wanted = sorted({opening.wallet_uuid for opening in openings})
    figures = {
        row.uuid: {
            "uuid": row.uuid,
            "global_balance": int(row.global_balance),
            "local_balance": int(row.local_balance),
            "entry_count": int(row.entry_count),
        }
        for row in (bulk_repository.lock_wallets(connection, account_id, wanted) if wanted else [])
    }
    keyed = bulk_repository.keyed_entries(
        connection, account_id, wanted, [opening.idempotency_key for opening in openings]
    )
    results: list[OpeningResult | None] = [None] * len(openings)
    due: list[int] = []
    for index, opening in enumerate(openings):
        found = keyed.get((opening.wallet_uuid, opening.idempotency_key))
        if found is None:
            due.append(index)
        elif found == (opening.credit_type.value, opening.amount):
            results[index] = OpeningResult("already")
        else:
            results[index] = OpeningResult("differs", previous=found[1])
    written = _apply_openings(principal, openings, due, figures, results, now, with_entries)
    touched = {row[_WALLET_AT] for row in written.entries}
    bulk_repository.set_wallet_figures(
        connection, account_id, [figures[uuid_] for uuid_ in sorted(touched)], now
    )
    written.record(connection, account_id)
    return [result if result is not None else OpeningResult("already") for result in results]


@dataclass
class OpenedWallets:
    """New wallets with their opening balances, built before their transaction: each wallet's
    row, what its openings write, and each opening's result."""

    now: datetime
    wallets: list[tuple[str, str, int, int, int]]
    written: _Openings
    results: list[OpeningResult]


def prepare_opened(
    principal: Principal,
    pairs: Sequence[tuple[str, str]],
    openings: Sequence[OpeningBalance],
    now: datetime,
    with_entries: bool = True,
) -> OpenedWallets:
    """The wallets of customers created in the writing transaction, (wallet uuid, customer
    uuid) each, with their opening balances: each wallet's row with the balances and counter
    its openings give, and each opening's entry and event as ``post_openings`` writes
    them. Nothing is read: the wallets are new (no entry of theirs can hold a key). A bulk
    import builds them in a process of their own while the batch before is written."""
    principal.require("write")
    figures: dict[str, dict[str, Any]] = {
        wallet_uuid: {
            "uuid": wallet_uuid,
            "global_balance": 0,
            "local_balance": 0,
            "entry_count": 0,
        }
        for wallet_uuid, _ in pairs
    }
    results: list[OpeningResult | None] = [None] * len(openings)
    written = _apply_openings(
        principal, openings, range(len(openings)), figures, results, now, with_entries
    )
    rows = [
        (
            wallet_uuid,
            customer_uuid,
            figures[wallet_uuid]["global_balance"],
            figures[wallet_uuid]["local_balance"],
            figures[wallet_uuid]["entry_count"],
        )
        for wallet_uuid, customer_uuid in pairs
    ]
    return OpenedWallets(
        now,
        rows,
        written,
        [result if result is not None else OpeningResult("already") for result in results],
    )


def write_opened(
    connection: Connection, principal: Principal, opened: OpenedWallets
) -> list[OpeningResult]:
    """Write what ``prepare_opened`` built, in the caller's transaction (its customers are
    written in it already); each opening's result."""
    principal.require("write")
    account_id = principal.account_id
    bulk_repository.insert_wallets(connection, account_id, opened.wallets, opened.now)
    opened.written.record(connection, account_id)
    return opened.results


@dataclass
class _Openings:
    """What applying opening balances writes: entries (their keys in them) and their outbox
    events."""

    # The entries' rows (``bulk_repository.ENTRY_ROW``) and the events' payloads as their
    # JSON text (see ``_apply_openings``).
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)

    def record(self, connection: Connection, account_id: str) -> None:
        bulk_repository.insert_entry_rows(connection, account_id, self.entries)
        record_events(connection, account_id, self.events, encoded=True)


def _apply_openings(
    principal: Principal,
    openings: Sequence[OpeningBalance],
    due: Sequence[int],
    figures: dict[str, dict[str, Any]],
    results: list[OpeningResult | None],
    now: datetime,
    with_entries: bool = True,
) -> _Openings:
    """The entries of the ``due`` openings, each at its wallet's next position with its
    running balance (``figures`` move with them), and their events; an opening that
    would take a balance past the maximum is refused in ``results``. The entries are
    written as rows; each posted result has its ``CreditEntry`` if ``with_entries``."""
    written = _Openings()
    currency_places = ledger.precision(principal, CreditType.GLOBAL)
    points_places = ledger.precision(principal, CreditType.LOCAL)
    added = EVENT_FOR_ACTION[Action.ADD]
    account_id, actor, actor_name = principal.account_id, principal.actor, principal.actor_name
    entries, events = written.entries, written.events
    for index, entry_uuid in zip(due, time_ordered_uuids(len(due)), strict=True):
        opening = openings[index]
        wallet = figures.get(opening.wallet_uuid)
        if wallet is None:
            raise NotFound(f"no wallet with uuid '{opening.wallet_uuid}'", field="walletUuid")
        column = "global_balance" if opening.credit_type is CreditType.GLOBAL else "local_balance"
        if opening.amount <= 0:
            raise InvalidInput("amount must be greater than 0", field="amount")
        if wallet[column] + opening.amount > MAX_MINOR_UNITS:
            error = InvalidInput("the balance would exceed the maximum", field="amount")
            results[index] = OpeningResult("refused", error=error)
            continue
        balance = wallet[column] = wallet[column] + opening.amount
        seq = wallet["entry_count"] = wallet["entry_count"] + 1
        credit_type = opening.credit_type
        # The type's text: ``_value_`` is a plain attribute (``value`` a property, a call).
        type_text = credit_type._value_
        places = currency_places if credit_type is CreditType.GLOBAL else points_places
        # The row ``insert_entries`` writes of the CreditEntry below, built directly.
        entries.append(
            (
                account_id,
                entry_uuid,
                opening.wallet_uuid,
                seq,
                "ADD",
                type_text,
                opening.amount,
                balance,
                "IMPORT",
                opening.note,
                opening.idempotency_key,
                None,
                None,
                None,
                None,
                None,
                now,
                actor,
                actor_name,
            )
        )
        wallet_json = _json_string(opening.wallet_uuid)
        # The payload ``_record``'s EntryEvent completes to, in its order, as the text
        # ``json.dumps`` writes of it (every value in it is plain).
        events.append(
            (
                added,
                f'{{"entry_uuid": "{entry_uuid}", "wallet_uuid": {wallet_json}, '
                f'"action": "ADD", "credit_type": "{type_text}", '
                f'"amount": "{minor_text(opening.amount, places)}", '
                f'"balance_after": "{minor_text(balance, places)}", '
                '"reason": "IMPORT"}',
            )
        )
        entry = (
            CreditEntry(
                uuid=entry_uuid,
                wallet_uuid=opening.wallet_uuid,
                seq=seq,
                action=Action.ADD,
                credit_type=credit_type,
                amount=opening.amount,
                balance_after=balance,
                reason=Reason.IMPORT,
                note=opening.note,
                idempotency_key=opening.idempotency_key,
                conversion_uuid=None,
                redemption_uuid=None,
                order_uuid=None,
                reverses_uuid=None,
                expires_at=None,
                created_at=now,
                actor=actor,
                actor_name=actor_name,
            )
            if with_entries
            else None
        )
        results[index] = OpeningResult("posted", entry=entry) if with_entries else _POSTED
    return written


# A posted result without its entry: every one alike (a bulk import's), so shared.
_POSTED = OpeningResult("posted")
