"""The ledger's one way to change a balance, inside the caller's transaction.

Every command that moves credit (manual entries, conversions, redemption codes, orders,
refunds, reversals, expiry) goes through here, so the rules live in one place: the guarded
row update, the entry with its running balance, spends drawing on expiring lots soonest
first, lazy expiry of lots that are due, and the outbox event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from patron.accounts.principal import Principal
from patron.core import idempotency, metrics
from patron.core.errors import InvalidInput, NotFound
from patron.core.events import record_events
from patron.core.ids import is_uuid, new_uuid, time_ordered_uuids
from patron.core.money import MAX_MINOR_UNITS, from_minor, minor_text
from patron.wallets import bulk_repository, ledger, lots, repository
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import Action, CreditEntry, CreditType, Reason, Wallet
from patron.wallets.tables import wallets

EVENT_FOR_ACTION = {
    Action.ADD: "wallet.credit_added",
    Action.SPEND: "wallet.credit_spent",
    Action.REMOVE: "wallet.credit_removed",
}


@dataclass(frozen=True, slots=True)
class Posting:
    wallet_uuid: str
    action: Action
    credit_type: CreditType
    amount: int
    reason: Reason
    note: str | None = None
    idempotency_key: str | None = None
    order_uuid: str | None = None
    redemption_uuid: str | None = None
    reverses_uuid: str | None = None
    conversion_uuid: str | None = None
    expires_at: datetime | None = None
    # The entry's uuid, when the caller has named it already (a redemption code records it
    # as it is claimed); a new one otherwise.
    entry_uuid: str | None = None


class CreditAlreadySpent(InsufficientCredit):
    code = "CREDIT_ALREADY_SPENT"


def event_payload(principal: Principal, entry: CreditEntry) -> dict[str, object]:
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


def load_wallet(
    connection: Connection, principal: Principal, wallet_uuid: str, now: datetime
) -> Wallet:
    """The wallet with its unswept expired credit counted out, or NotFound."""
    wallet = (
        repository.get_wallet(connection, principal.account_id, wallet_uuid)
        if is_uuid(wallet_uuid)
        else None
    )
    if wallet is None:
        raise NotFound(f"no wallet with uuid '{wallet_uuid}'", field="walletUuid")
    return repository.with_expired(connection, principal.account_id, [wallet], now)[0]


def insufficient(
    principal: Principal, wallet: Wallet, credit_type: CreditType, amount: int
) -> InsufficientCredit:
    places = ledger.precision(principal, credit_type)
    available = from_minor(max(wallet.available(credit_type), 0), places)
    held = wallet.held(credit_type)
    held_note = f" ({from_minor(held, places)} held by redemption codes)" if held else ""
    return InsufficientCredit(
        f"insufficient {credit_type.value} credit: available balance {available}{held_note}, "
        f"amount {from_minor(amount, places)}",
        field="amount",
    )


def _refused(
    connection: Connection, principal: Principal, posting: Posting, now: datetime
) -> Exception:
    wallet = load_wallet(connection, principal, posting.wallet_uuid, now)
    if posting.action is Action.ADD:
        return InvalidInput("the balance would exceed the maximum", field="amount")
    return insufficient(principal, wallet, posting.credit_type, posting.amount)


def _record(
    connection: Connection,
    principal: Principal,
    posting: Posting,
    now: datetime,
    *,
    balance_delta: int,
    held_delta: int = 0,
    open_lots_delta: int = 0,
    also: tuple[str, dict[str, Any]] | None = None,
) -> tuple[repository.Moved, CreditEntry] | None:
    """Move the balance and write the posting's entry and outbox event (and the event
    ``also``, after it); None if refused."""
    if not is_uuid(posting.wallet_uuid):
        raise NotFound(f"no wallet with uuid '{posting.wallet_uuid}'", field="walletUuid")
    draft = CreditEntry(
        uuid=posting.entry_uuid or new_uuid(),
        wallet_uuid=posting.wallet_uuid,
        seq=0,
        action=posting.action,
        credit_type=posting.credit_type,
        amount=posting.amount,
        balance_after=0,
        reason=posting.reason,
        note=posting.note,
        idempotency_key=posting.idempotency_key,
        conversion_uuid=posting.conversion_uuid,
        redemption_uuid=posting.redemption_uuid,
        order_uuid=posting.order_uuid,
        reverses_uuid=posting.reverses_uuid,
        expires_at=posting.expires_at,
        created_at=now,
        actor=principal.actor,
        actor_name=principal.actor_name,
    )
    places = ledger.precision(principal, posting.credit_type)
    recorded = repository.move_and_record(
        connection,
        principal.account_id,
        draft,
        now,
        balance_delta=balance_delta,
        held_delta=held_delta,
        open_lots_delta=open_lots_delta,
        event=repository.EntryEvent(
            EVENT_FOR_ACTION[posting.action],
            {
                "entry_uuid": draft.uuid,
                "wallet_uuid": draft.wallet_uuid,
                "action": draft.action.value,
                "credit_type": draft.credit_type.value,
                "amount": str(from_minor(draft.amount, places)),
                "reason": draft.reason.value,
            },
            places,
        ),
        also=also,
    )
    if recorded is not None:
        metrics.ledger_entry(
            connection, draft.action.value, draft.credit_type.value, draft.amount, places
        )
    return recorded


def post(
    connection: Connection,
    principal: Principal,
    posting: Posting,
    now: datetime,
    *,
    from_lots: bool = True,
) -> CreditEntry:
    """Write one entry and move its balance; a debit above what is available writes nothing.

    A debit draws on expiring lots first, unless ``from_lots`` is False (the caller has made
    sure that lasting credit covers it)."""
    if posting.amount <= 0:
        raise InvalidInput("amount must be greater than 0", field="amount")
    if posting.action is Action.ADD:
        return _add(connection, principal, posting, now)
    if posting.expires_at is not None:
        raise InvalidInput("only an ADD can carry expiresAt", field="expiresAt")
    recorded = _record(connection, principal, posting, now, balance_delta=-posting.amount)
    if recorded is None:
        raise _refused(connection, principal, posting, now)
    moved, entry = recorded
    if moved.open_lots and from_lots:
        _draw_on_lots(
            connection,
            principal,
            posting.wallet_uuid,
            posting.credit_type,
            posting.amount,
            entry.uuid,
            moved.balance - moved.held,
            now,
        )
    return entry


def _add(
    connection: Connection, principal: Principal, posting: Posting, now: datetime
) -> CreditEntry:
    if posting.expires_at is not None and posting.expires_at <= now:
        raise InvalidInput("expiresAt must be in the future", field="expiresAt")
    recorded = _record(
        connection,
        principal,
        posting,
        now,
        balance_delta=posting.amount,
        open_lots_delta=1 if posting.expires_at else 0,
    )
    if recorded is None:
        raise _refused(connection, principal, posting, now)
    entry = recorded[1]
    if posting.expires_at is not None:
        lots.insert_lot(
            connection,
            principal.account_id,
            posting.wallet_uuid,
            posting.credit_type,
            entry.uuid,
            posting.amount,
            posting.expires_at,
            now,
        )
    return entry


def post_up_to(
    connection: Connection, principal: Principal, posting: Posting, now: datetime
) -> CreditEntry | None:
    """A debit of what is there, at most ``posting.amount``; None when nothing is available."""
    lock_wallet(connection, principal, posting.wallet_uuid)
    wallet = load_wallet(connection, principal, posting.wallet_uuid, now)
    amount = min(posting.amount, max(wallet.available(posting.credit_type), 0))
    if amount <= 0:
        return None
    return post(connection, principal, _with_amount(posting, amount), now)


def _with_amount(posting: Posting, amount: int) -> Posting:
    from dataclasses import replace

    return replace(posting, amount=amount)


def lock_wallet(
    connection: Connection, principal: Principal, wallet_uuid: str, *, skip_locked: bool = False
) -> bool:
    """Take the wallet row's lock before reading it (PostgreSQL; SQLite writers are serial).

    With ``skip_locked`` a wallet busy in another transaction is skipped: False is returned.
    """
    if connection.dialect.name == "sqlite":
        return True
    locked = connection.execute(
        select(wallets.c.uuid)
        .where(wallets.c.account_id == principal.account_id, wallets.c.uuid == wallet_uuid)
        .with_for_update(skip_locked=skip_locked)
    ).first()
    return locked is not None


def _draw_on_lots(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str,
    credit_type: CreditType,
    amount: int,
    source_uuid: str,
    available_after: int,
    now: datetime,
    *,
    holding: bool = False,
) -> None:
    """After a debit or hold of ``amount``: take it from live lots soonest-expiring first,
    refuse it if it could only be covered by expired credit, and expire lots that are due.
    The caller's guarded update holds the wallet row's lock."""
    account_id = principal.account_id
    open_lots = lots.open_lots(connection, account_id, wallet_uuid, credit_type)
    due = [lot for lot in open_lots if lot.expires_at <= now]
    due_credit = sum(lot.remaining for lot in due)
    if available_after < due_credit:
        wallet = load_wallet(connection, principal, wallet_uuid, now)
        # The debit or hold already left the row; report the figures from before it.
        before = _before(wallet, credit_type, amount, holding=holding)
        raise insufficient(principal, before, credit_type, amount)
    left = amount
    draws: list[tuple[str, int]] = []
    exhausted = 0
    for lot in open_lots:
        if left == 0:
            break
        if lot.expires_at <= now:
            continue
        take = min(left, lot.remaining)
        lots.set_remaining(connection, account_id, lot.uuid, lot.remaining - take)
        draws.append((lot.uuid, take))
        exhausted += lot.remaining == take
        left -= take
    lots.record_draws(connection, account_id, wallet_uuid, source_uuid, draws)
    lots.adjust_open_lots(connection, account_id, wallet_uuid, -exhausted)
    expire_lots(connection, principal, wallet_uuid, due, now)


def _before(wallet: Wallet, credit_type: CreditType, amount: int, *, holding: bool) -> Wallet:
    from dataclasses import replace

    if holding and credit_type is CreditType.GLOBAL:
        return replace(wallet, global_held=wallet.global_held - amount)
    if holding:
        return replace(wallet, local_held=wallet.local_held - amount)
    if credit_type is CreditType.GLOBAL:
        return replace(wallet, global_balance=wallet.global_balance + amount)
    return replace(wallet, local_balance=wallet.local_balance + amount)


def expire_lots(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str,
    due: list[lots.Lot],
    now: datetime,
) -> list[CreditEntry]:
    """One REMOVE (reason EXPIRY) per due lot, for what is left in it."""
    written: list[CreditEntry] = []
    for lot in due:
        if lot.remaining <= 0:
            continue
        posting = Posting(
            wallet_uuid=wallet_uuid,
            action=Action.REMOVE,
            credit_type=lot.credit_type,
            amount=lot.remaining,
            reason=Reason.EXPIRY,
            note=f"expired lot of entry {lot.entry_uuid}",
        )
        recorded = _record(
            connection, principal, posting, now, balance_delta=-lot.remaining, open_lots_delta=-1
        )
        if recorded is None:  # pragma: no cover - a lot's credit is always available credit
            raise InsufficientCredit(f"lot {lot.uuid} holds more than the wallet's available")
        entry = recorded[1]
        lots.set_remaining(connection, principal.account_id, lot.uuid, 0, entry.uuid)
        written.append(entry)
    return written


def hold(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str,
    credit_type: CreditType,
    amount: int,
    source_uuid: str,
    now: datetime,
) -> None:
    """Reserve ``amount`` of available credit (a redemption code's hold); no entry is written."""
    if not is_uuid(wallet_uuid):
        raise NotFound(f"no wallet with uuid '{wallet_uuid}'", field="walletUuid")
    moved = repository.move(
        connection,
        principal.account_id,
        wallet_uuid,
        credit_type,
        now,
        held_delta=amount,
        entries=0,
    )
    if moved is None:
        wallet = load_wallet(connection, principal, wallet_uuid, now)
        raise insufficient(principal, wallet, credit_type, amount)
    if moved.open_lots:
        _draw_on_lots(
            connection,
            principal,
            wallet_uuid,
            credit_type,
            amount,
            source_uuid,
            moved.balance - moved.held,
            now,
            holding=True,
        )


def capture(
    connection: Connection,
    principal: Principal,
    posting: Posting,
    now: datetime,
    *,
    also: tuple[str, dict[str, Any]] | None = None,
) -> CreditEntry:
    """Turn a hold into a SPEND: the balance and the hold go down together. ``also``: an
    event (its type and payload) queued with the entry's own, in the same statement."""
    recorded = _record(
        connection,
        principal,
        posting,
        now,
        balance_delta=-posting.amount,
        held_delta=-posting.amount,
        also=also,
    )
    if recorded is None:  # pragma: no cover - a hold always covers its own capture
        raise InsufficientCredit("the held credit is no longer there", field="amount")
    return recorded[1]


def release(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str,
    credit_type: CreditType,
    amount: int,
    source_uuid: str,
    now: datetime,
) -> None:
    """Give a hold back to the available balance, and its lots back to what they were."""
    moved = repository.move(
        connection,
        principal.account_id,
        wallet_uuid,
        credit_type,
        now,
        held_delta=-amount,
        entries=0,
    )
    if moved is None:  # pragma: no cover - a hold is released once, under the row lock
        raise InvalidInput("the hold was already released")
    restore_draws(connection, principal, wallet_uuid, source_uuid, amount)


def restore_draws(
    connection: Connection, principal: Principal, wallet_uuid: str, source_uuid: str, amount: int
) -> int:
    """Put up to ``amount`` back into the lots a debit or hold drew on (expired ones included:
    what comes back into an expired lot is expired and swept like the rest of it); returns
    how much went back into lots."""
    account_id = principal.account_id
    left = amount
    reopened = 0
    for draw in lots.draws_of(connection, account_id, source_uuid):
        if left == 0:
            break
        give = min(left, draw.amount - draw.restored)
        if give <= 0:
            continue
        lots.set_remaining(connection, account_id, draw.lot_uuid, draw.remaining + give)
        lots.mark_restored(connection, account_id, source_uuid, draw.lot_uuid, give)
        reopened += draw.remaining == 0
        left -= give
    lots.adjust_open_lots(connection, account_id, wallet_uuid, reopened)
    return amount - left


def remove_from_lot(
    connection: Connection, principal: Principal, posting: Posting, lot: lots.Lot, now: datetime
) -> CreditEntry:
    """A REMOVE taken from one named lot (reversing the ADD that created it)."""
    if lot.remaining < posting.amount or lot.expires_at <= now:
        left = lot.remaining if lot.expires_at > now else 0
        places = ledger.precision(principal, lot.credit_type)
        raise CreditAlreadySpent(
            "the credit of this entry is already spent or expired: "
            f"{from_minor(left, places)} of it left",
            field="amount",
        )
    recorded = _record(
        connection,
        principal,
        posting,
        now,
        balance_delta=-posting.amount,
        open_lots_delta=-1 if lot.remaining == posting.amount else 0,
    )
    if recorded is None:
        raise _refused(connection, principal, posting, now)
    lots.set_remaining(connection, principal.account_id, lot.uuid, lot.remaining - posting.amount)
    return recorded[1]


# An import's opening balances: many ADDs at once, each applied once per idempotency key.

IMPORT_OPERATION = "import_balance"
# Where an entry's row (``bulk_repository.ENTRY_ROW``) has its wallet.
_WALLET_AT = bulk_repository.ENTRY_ROW.index("wallet_uuid")


@dataclass(frozen=True, slots=True)
class OpeningBalance:
    """An ADD (reason IMPORT) to apply once: ``idempotency_key`` names it for good."""

    wallet_uuid: str
    credit_type: CreditType
    amount: int
    idempotency_key: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OpeningResult:
    """``posted``: written now; ``already``: this key was applied before with this amount;
    ``differs``: it was applied before with ``previous`` (nothing is written again);
    ``refused``: the balance would exceed the maximum (``error``)."""

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


def _opening_digest(opening: OpeningBalance, wallet_json: str | None = None) -> str:
    """``idempotency.fingerprint(IMPORT_OPERATION, {"wallet": ..., "type": ..., "amount":
    ...})``: the same text hashed, written out rather than through a sorting JSON encoder.
    ``wallet_json``: the wallet's uuid as JSON, when the caller has it already."""
    wallet = wallet_json if wallet_json is not None else _json_string(opening.wallet_uuid)
    body = (
        f'{{"op": "{IMPORT_OPERATION}", "request": {{"amount": {opening.amount}, '
        f'"type": "{opening.credit_type.value}", "wallet": {wallet}}}}}'
    )
    return hashlib.sha256(body.encode()).hexdigest()


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
    the wallet's balance and counter, the outbox event) and each key claimed, in a few
    statements for the whole batch.

    A key already claimed writes nothing again: a re-run or a resumed import never doubles a
    balance. Keys must be distinct within a call (the importer sees to it).

    ``with_entries=False``: a posted result carries no ``entry`` (a caller that needs only
    its opening's own figures is spared building one per balance)."""
    principal.require("write")
    account_id = principal.account_id
    claimed = idempotency.find_results(
        connection, account_id, [opening.idempotency_key for opening in openings]
    )
    results: list[OpeningResult | None] = [None] * len(openings)
    due: list[int] = []
    for index, opening in enumerate(openings):
        found = claimed.get(opening.idempotency_key)
        if found is None:
            due.append(index)
        elif found[0] == IMPORT_OPERATION and found[1] == _opening_digest(opening):
            results[index] = OpeningResult("already")
        else:
            previous = found[2].get("amount") if isinstance(found[2], dict) else None
            results[index] = OpeningResult(
                "differs", previous=int(previous) if previous is not None else None
            )
    wanted = sorted({openings[index].wallet_uuid for index in due})
    figures = {
        row.uuid: {
            "uuid": row.uuid,
            "global_balance": int(row.global_balance),
            "local_balance": int(row.local_balance),
            "entry_count": int(row.entry_count),
        }
        for row in (bulk_repository.lock_wallets(connection, account_id, wanted) if wanted else [])
    }
    written = _apply_openings(principal, openings, due, figures, results, now, with_entries)
    touched = {row[_WALLET_AT] for row in written.entries}
    bulk_repository.set_wallet_figures(
        connection, account_id, [figures[uuid_] for uuid_ in sorted(touched)], now
    )
    written.record(connection, account_id)
    return [result if result is not None else OpeningResult("already") for result in results]


def open_wallets(
    connection: Connection,
    principal: Principal,
    pairs: Sequence[tuple[str, str]],
    openings: Sequence[OpeningBalance],
    now: datetime,
    *,
    with_entries: bool = True,
) -> list[OpeningResult]:
    """Open the wallets of customers created in this transaction, (wallet uuid, customer
    uuid) each, with their opening balances: each wallet's row is written with the balances
    and counter its openings give, and each opening's entry, event and key as
    ``post_openings`` writes them. Nothing is read or updated: the wallets are new, and so are
    the customers the keys name (no key of theirs can have been claimed)."""
    principal.require("write")
    account_id = principal.account_id
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
    bulk_repository.insert_wallets(
        connection,
        account_id,
        [
            (
                wallet_uuid,
                customer_uuid,
                figures[wallet_uuid]["global_balance"],
                figures[wallet_uuid]["local_balance"],
                figures[wallet_uuid]["entry_count"],
            )
            for wallet_uuid, customer_uuid in pairs
        ],
        now,
    )
    written.record(connection, account_id)
    return [result if result is not None else OpeningResult("already") for result in results]


@dataclass
class _Openings:
    """What applying opening balances writes: entries, their outbox events, the keys."""

    # The entries' rows (``bulk_repository.ENTRY_ROW``), the events' payloads and the keys'
    # results as their JSON text (see ``_apply_openings``).
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    claims: list[tuple[str, str, str, str]] = field(default_factory=list)

    def record(self, connection: Connection, account_id: str) -> None:
        bulk_repository.insert_entry_rows(connection, account_id, self.entries)
        record_events(connection, account_id, self.events, encoded=True)
        idempotency.store_results(connection, account_id, self.claims, encoded=True)


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
    running balance (``figures`` move with them), their events and keys; an opening that
    would take a balance past the maximum is refused in ``results``. The entries are
    written as rows; each posted result has its ``CreditEntry`` if ``with_entries``."""
    written = _Openings()
    places = {
        CreditType.GLOBAL: ledger.precision(principal, CreditType.GLOBAL),
        CreditType.LOCAL: ledger.precision(principal, CreditType.LOCAL),
    }
    added = EVENT_FOR_ACTION[Action.ADD]
    account_id, actor, actor_name = principal.account_id, principal.actor, principal.actor_name
    entries, events, claims = written.entries, written.events, written.claims
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
        # The row ``insert_entries`` writes of the CreditEntry below, built directly.
        entries.append(
            (
                account_id,
                entry_uuid,
                opening.wallet_uuid,
                seq,
                "ADD",
                credit_type.value,
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
        # The payload ``_record``'s EntryEvent completes to, in its order, and the key's
        # result, as the text ``json.dumps`` writes of them (every value in them is plain).
        events.append(
            (
                added,
                f'{{"entry_uuid": "{entry_uuid}", "wallet_uuid": {wallet_json}, '
                f'"action": "ADD", "credit_type": "{credit_type.value}", '
                f'"amount": "{minor_text(opening.amount, places[credit_type])}", '
                f'"balance_after": "{minor_text(balance, places[credit_type])}", '
                '"reason": "IMPORT"}',
            )
        )
        claims.append(
            (
                opening.idempotency_key,
                IMPORT_OPERATION,
                _opening_digest(opening, wallet_json),
                f'{{"entries": ["{entry_uuid}"], "amount": {opening.amount}}}',
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
        results[index] = OpeningResult("posted", entry=entry)
    return written
