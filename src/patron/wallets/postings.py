"""The ledger's one way to change a balance, inside the caller's transaction.

Every command that moves credit (manual entries, conversions, redemption codes, orders,
refunds, reversals, expiry) goes through here, so the rules live in one place: the guarded
row update, the entry with its running balance, spends drawing on expiring lots soonest
first, lazy expiry of lots that are due, and the outbox event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from patron.accounts.principal import Principal
from patron.core import metrics
from patron.core.errors import InvalidInput, NotFound
from patron.core.ids import is_uuid, new_uuid
from patron.core.money import from_minor
from patron.wallets import ledger, lots, repository
from patron.wallets.ledger import InsufficientCredit
from patron.wallets.models import (
    EVENT_FOR_ACTION,
    Action,
    CreditEntry,
    CreditType,
    Reason,
    Wallet,
)
from patron.wallets.tables import wallets


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


# An import's opening balances (``openings``), reached from outside the domain through here.
from patron.wallets.openings import (  # noqa: E402
    OpenedWallets,
    OpeningBalance,
    OpeningResult,
    post_openings,
    prepare_opened,
    write_opened,
)

__all__ = [
    "OpenedWallets",
    "OpeningBalance",
    "OpeningResult",
    "post_openings",
    "prepare_opened",
    "write_opened",
]
