"""Redemption codes: create (hold), redeem (capture once), cancel or expire (release)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import record_event
from patron.core.ids import is_uuid
from patron.core.money import from_minor
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.redemptions import codes, repository
from patron.redemptions.models import (
    SOURCE_MANUAL,
    CodeFilter,
    NewRedemption,
    Redemption,
    RedemptionStatus,
)
from patron.wallets import ledger, postings
from patron.wallets import service as wallets
from patron.wallets.models import Action, CreditEntry, CreditType, Reason

MAX_QUANTITY = 50


class AlreadyRedeemed(Conflict):
    code = "ALREADY_REDEEMED"


class CodeCancelled(Conflict):
    code = "CODE_CANCELLED"


class CodeExpired(Conflict):
    code = "CODE_EXPIRED"


@dataclass(frozen=True, slots=True)
class Redeemed:
    redemption: Redemption
    entry: CreditEntry


def _payload(principal: Principal, redemption: Redemption) -> dict[str, object]:
    places = ledger.precision(principal, redemption.credit_type)
    return {
        "redemption_uuid": redemption.uuid,
        "wallet_uuid": redemption.wallet_uuid,
        "contact_uuid": redemption.customer_uuid,
        "status": redemption.status.value,
        "credit_type": redemption.credit_type.value,
        "amount": str(from_minor(redemption.amount, places)),
    }


def _wallet_of(
    connection: Connection, principal: Principal, command: NewRedemption
) -> tuple[str, str]:
    """(wallet uuid, customer uuid) from whichever the command names; both must agree."""
    if command.wallet_uuid is None and command.customer_uuid is None:
        raise InvalidInput("give walletUuid or contactUuid", field="walletUuid")
    if command.wallet_uuid is not None:
        wallet = (
            wallets.find_wallet(connection, principal, command.wallet_uuid)
            if is_uuid(command.wallet_uuid)
            else None
        )
        if wallet is None:
            raise NotFound(f"no wallet with uuid '{command.wallet_uuid}'", field="walletUuid")
        if command.customer_uuid is not None and command.customer_uuid != wallet.customer_uuid:
            raise InvalidInput("walletUuid does not belong to contactUuid", field="contactUuid")
        return wallet.uuid, wallet.customer_uuid
    assert command.customer_uuid is not None
    found = (
        wallets.wallet_uuids_for_customers(connection, principal, [command.customer_uuid])
        if is_uuid(command.customer_uuid)
        else {}
    )
    if command.customer_uuid not in found:
        raise NotFound(f"no contact with uuid '{command.customer_uuid}'", field="contactUuid")
    return found[command.customer_uuid], command.customer_uuid


def _unique_code(connection: Connection, account_id: str) -> str:
    for _ in range(5):
        code = codes.new_code()
        if not repository.code_exists(connection, account_id, code):
            return code
    raise Conflict("could not draw an unused code; retry")  # pragma: no cover - 2**74 space


def create_redemptions(
    db: Database, principal: Principal, command: NewRedemption, *, promotion_uuid: str | None = None
) -> list[Redemption]:
    """``quantity`` codes of ``amount`` each, every one holding its amount on the wallet."""
    principal.require("write")
    credit_type = ledger.parse_credit_type(command.credit_type)
    amount = ledger.amount_minor(principal, credit_type, command.amount, field="rewardValue")
    if not 1 <= command.quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be 1 to {MAX_QUANTITY}", field="quantity")
    note = ledger.clean_note(command.note)
    expires_at = as_utc(command.expires_at) if command.expires_at is not None else None
    key = idempotency.validate_key(command.idempotency_key)
    operation = "create_redemptions"
    digest = idempotency.fingerprint(
        operation,
        {
            "wallet": command.wallet_uuid,
            "contact": command.customer_uuid,
            "type": credit_type.value,
            "amount": amount,
            "quantity": command.quantity,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "note": note,
        },
    )

    def write(connection: Connection) -> list[Redemption]:
        if key is not None:
            stored = idempotency.find_result(
                connection, principal.account_id, key, operation, digest
            )
            if stored is not None:
                return repository.get_by_uuids(connection, principal.account_id, stored["uuids"])
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expiresAt must be in the future", field="expiresAt")
        wallet_uuid, customer_uuid = _wallet_of(connection, principal, command)
        created = [
            issue_code(
                connection,
                principal,
                Issue(
                    wallet_uuid=wallet_uuid,
                    customer_uuid=customer_uuid,
                    credit_type=credit_type,
                    amount=amount,
                    note=note,
                    expires_at=expires_at,
                    promotion_uuid=promotion_uuid,
                ),
                now,
            ).uuid
            for _ in range(command.quantity)
        ]
        made = repository.get_by_uuids(connection, principal.account_id, created)
        if key is not None:
            idempotency.store_result(
                connection, principal.account_id, key, operation, digest, {"uuids": created}
            )
        return made

    return run_command(db, write)


@dataclass(frozen=True, slots=True)
class Issue:
    """One code to make inside a caller's transaction; ``amount`` in the smallest unit."""

    wallet_uuid: str
    customer_uuid: str
    credit_type: CreditType
    amount: int
    note: str | None = None
    expires_at: datetime | None = None
    promotion_uuid: str | None = None
    source: str = SOURCE_MANUAL


def issue_code(
    connection: Connection, principal: Principal, issue: Issue, now: datetime
) -> Redemption:
    """Hold ``amount`` on the wallet under a new code, with its outbox event; the caller
    has checked the wallet and the amount and owns the transaction."""
    redemption_uuid = str(uuid.uuid4())
    postings.hold(
        connection,
        principal,
        issue.wallet_uuid,
        issue.credit_type,
        issue.amount,
        redemption_uuid,
        now,
    )
    values = {
        "uuid": redemption_uuid,
        "code": _unique_code(connection, principal.account_id),
        "customer_uuid": issue.customer_uuid,
        "wallet_uuid": issue.wallet_uuid,
        "credit_type": issue.credit_type.value,
        "amount": issue.amount,
        "status": RedemptionStatus.ACTIVE.value,
        "source": issue.source,
        "note": issue.note,
        "expires_at": issue.expires_at,
        "promotion_uuid": issue.promotion_uuid,
        "created_at": now,
        "updated_at": now,
    }
    repository.insert_redemption(connection, principal.account_id, values)
    redemption = repository.redemption_from_row(
        SimpleNamespace(
            **values, redeemed_at=None, released_at=None, release_reason=None, spend_entry_uuid=None
        )
    )
    record_event(
        connection, principal.account_id, "redemption_code.created", _payload(principal, redemption)
    )
    return redemption


def _refusal(connection: Connection, principal: Principal, code: str, now: datetime) -> Exception:
    found = (
        repository.get_by_code(connection, principal.account_id, code)
        if codes.well_formed(code)
        else None
    )
    if found is None:
        return NotFound(
            f"no redemption code '{codes.display(code) if code else code}'", field="code"
        )
    shown = codes.display(found.code)
    if found.status is RedemptionStatus.REDEEMED:
        return AlreadyRedeemed(f"code {shown} was already redeemed", field="code")
    if found.status is RedemptionStatus.CANCELLED:
        return CodeCancelled(f"code {shown} was cancelled", field="code")
    return CodeExpired(f"code {shown} has expired", field="code")


def redeem_code(db: Database, principal: Principal, code: str) -> Redeemed:
    """Capture a code's hold as a SPEND (reason REDEMPTION), exactly once."""
    principal.require("write")
    wanted = codes.normalise(code)

    def write(connection: Connection) -> Redeemed:
        now = utcnow()
        claimed = (
            None
            if not codes.well_formed(wanted)
            else repository.claim(
                connection, principal.account_id, wanted, now, RedemptionStatus.REDEEMED
            )
        )
        if claimed is None:
            raise _refusal(connection, principal, wanted, now)
        entry = postings.capture(
            connection,
            principal,
            postings.Posting(
                wallet_uuid=claimed.wallet_uuid,
                action=Action.SPEND,
                credit_type=claimed.credit_type,
                amount=claimed.amount,
                reason=Reason.REDEMPTION,
                redemption_uuid=claimed.uuid,
                note=f"redemption code {codes.display(claimed.code)}",
            ),
            now,
        )
        repository.set_spend_entry(connection, principal.account_id, claimed.uuid, entry.uuid)
        record_event(
            connection,
            principal.account_id,
            "redemption_code.redeemed",
            {**_payload(principal, claimed), "entry_uuid": entry.uuid},
        )
        return Redeemed(redemption=claimed, entry=entry)

    return run_command(db, write)


def cancel_code(db: Database, principal: Principal, code: str) -> Redemption:
    """Release an unused code's hold; a redeemed, cancelled or expired code is refused."""
    principal.require("write")
    wanted = codes.normalise(code)

    def write(connection: Connection) -> Redemption:
        now = utcnow()
        claimed = (
            None
            if not codes.well_formed(wanted)
            else repository.claim(
                connection, principal.account_id, wanted, now, RedemptionStatus.CANCELLED
            )
        )
        if claimed is None:
            raise _refusal(connection, principal, wanted, now)
        postings.release(
            connection,
            principal,
            claimed.wallet_uuid,
            claimed.credit_type,
            claimed.amount,
            claimed.uuid,
            now,
        )
        record_event(
            connection,
            principal.account_id,
            "redemption_code.cancelled",
            _payload(principal, claimed),
        )
        return claimed

    return run_command(db, write)


def expire_codes(
    connection: Connection, principal: Principal, now: datetime, limit: int = 500
) -> int:
    """Expire up to ``limit`` due codes of the principal's account and release their holds."""
    expired = repository.expire_due(connection, principal.account_id, now, limit)
    for redemption in expired:
        postings.release(
            connection,
            principal,
            redemption.wallet_uuid,
            redemption.credit_type,
            redemption.amount,
            redemption.uuid,
            now,
        )
        record_event(
            connection,
            principal.account_id,
            "redemption_code.expired",
            _payload(principal, redemption),
        )
    return len(expired)


def close_codes_of_wallet(
    connection: Connection, principal: Principal, wallet_uuid: str, now: datetime
) -> int:
    """For a customer being erased, inside its transaction: cancel the wallet's unused codes
    (due ones too) and release their holds; the balances stay. Returns how many."""
    closed = repository.close_for_wallet(connection, principal.account_id, wallet_uuid, now)
    for redemption in closed:
        postings.release(
            connection,
            principal,
            redemption.wallet_uuid,
            redemption.credit_type,
            redemption.amount,
            redemption.uuid,
            now,
        )
        record_event(
            connection,
            principal.account_id,
            "redemption_code.cancelled",
            _payload(principal, redemption),
        )
    return len(closed)


def codes_of_wallet(
    connection: Connection, principal: Principal, wallet_uuid: str
) -> list[Redemption]:
    """Every code of the wallet, oldest first."""
    return repository.all_for_wallet(connection, principal.account_id, wallet_uuid)


def find_code(connection: Connection, principal: Principal, code: str) -> Redemption | None:
    wanted = codes.normalise(code)
    if not codes.well_formed(wanted):
        return None
    return repository.get_by_code(connection, principal.account_id, wanted)


def codes_by_uuids(
    connection: Connection, principal: Principal, uuids: Sequence[str]
) -> list[Redemption]:
    wanted = [uuid for uuid in uuids if is_uuid(uuid)]
    return repository.get_by_uuids(connection, principal.account_id, wanted) if wanted else []


def codes_for_wallets(
    connection: Connection,
    principal: Principal,
    wallet_uuids: Sequence[str],
    *,
    limit: int | None,
    offset: int | None,
    where: CodeFilter | None = None,
) -> dict[str, list[Redemption]]:
    size, start = check_page(limit, offset)
    return repository.for_wallets(
        connection, principal.account_id, wallet_uuids, limit=size, offset=start, where=where
    )


def count_codes_for_wallets(
    connection: Connection,
    principal: Principal,
    wallet_uuids: Sequence[str],
    where: CodeFilter | None = None,
) -> dict[str, int]:
    return repository.count_for_wallets(connection, principal.account_id, wallet_uuids, where)


def list_codes(
    connection: Connection,
    principal: Principal,
    *,
    status: str | None,
    limit: int | None,
    offset: int | None,
) -> list[Redemption]:
    size, start = check_page(limit, offset)
    return repository.list_redemptions(
        connection, principal.account_id, status=status, limit=size, offset=start
    )


def count_codes(connection: Connection, principal: Principal, status: str | None = None) -> int:
    return repository.count_redemptions(connection, principal.account_id, status)
