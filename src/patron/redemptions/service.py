"""Redemption codes: create (hold), redeem (capture once), cancel or expire (release)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import record_event
from patron.core.ids import is_uuid, new_uuid
from patron.core.money import from_minor, to_decimal, to_minor
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.customers import validation
from patron.redemptions import codes, repository
from patron.redemptions.models import (
    CREDIT_TYPES,
    PERCENT_PLACES,
    PERCENTAGE_TYPES,
    SOURCE_MANUAL,
    VALUELESS_TYPES,
    CodeFilter,
    DeliveryMethod,
    NewRedemption,
    Redemption,
    RedemptionStatus,
    RedemptionType,
    credit_redemption_type,
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
    # The SPEND that captured a credit code's hold; None for the types that hold nothing.
    entry: CreditEntry | None


def reward_value(principal: Principal, redemption: Redemption) -> Decimal:
    """A code's value as given: credit or a fixed amount in its unit, a percentage (12.5 for
    12.5 %), or 0 for FREE_PRODUCT and FREE_SHIPPING."""
    if redemption.redemption_type in PERCENTAGE_TYPES:
        return from_minor(redemption.amount, PERCENT_PLACES)
    return from_minor(redemption.amount, ledger.precision(principal, redemption.credit_type))


def _payload(principal: Principal, redemption: Redemption) -> dict[str, object]:
    return {
        "redemption_uuid": redemption.uuid,
        "wallet_uuid": redemption.wallet_uuid,
        "contact_uuid": redemption.customer_uuid,
        "status": redemption.status.value,
        "redemption_type": redemption.redemption_type.value,
        "credit_type": redemption.credit_type.value,
        "amount": str(reward_value(principal, redemption)),
    }


def _kind(command: NewRedemption) -> tuple[RedemptionType, CreditType]:
    """The code's type and the credit type it counts in; creditType alone means credit."""
    credit = (
        ledger.parse_credit_type(command.credit_type) if command.credit_type is not None else None
    )
    if command.redemption_type is None:
        if credit is None:
            raise InvalidInput("give redemptionType or creditType", field="redemptionType")
        return credit_redemption_type(credit), credit
    try:
        kind = RedemptionType(command.redemption_type)
    except ValueError:
        raise InvalidInput(
            f"redemptionType must be one of {', '.join(RedemptionType)}, "
            f"got '{command.redemption_type}'",
            field="redemptionType",
        ) from None
    implied = CREDIT_TYPES.get(kind)
    if implied is None:
        if credit is not None:
            raise InvalidInput(
                f"creditType is for credit codes only, not {kind.value}", field="creditType"
            )
        # A fixed value is in the account currency: GLOBAL's precision.
        return kind, CreditType.GLOBAL
    if credit is not None and credit is not implied:
        raise InvalidInput(
            f"creditType {credit.value} does not match redemptionType {kind.value} "
            f"(which is {implied.value})",
            field="creditType",
        )
    return kind, implied


def _value(principal: Principal, kind: RedemptionType, credit: CreditType, value: object) -> int:
    """The code's value in storage: minor units, basis points, or 0 for the free types."""
    field = "rewardValue"
    if kind in VALUELESS_TYPES:
        if value is not None and to_decimal(value, field=field) != 0:
            raise InvalidInput(
                f"{kind.value} carries no value: leave rewardValue out or give 0", field=field
            )
        return 0
    if value is None:
        raise InvalidInput(f"{kind.value} needs a rewardValue", field=field)
    if kind in PERCENTAGE_TYPES:
        number = to_decimal(value, field=field)
        if not 0 < number <= 100:
            raise InvalidInput(
                f"rewardValue of {kind.value} is a percentage above 0 and at most 100, "
                f"got {number}",
                field=field,
            )
        return to_minor(number, PERCENT_PLACES, field=field)
    return ledger.amount_minor(principal, credit, value, field=field)


def _delivery(kind: RedemptionType, value: str | None) -> DeliveryMethod:
    holds = kind in CREDIT_TYPES
    if value is None:
        return DeliveryMethod.CREDIT if holds else DeliveryMethod.LINK
    try:
        method = DeliveryMethod(value)
    except ValueError:
        method = None
    if method is None or (method is DeliveryMethod.CREDIT and not holds):
        raise InvalidInput(
            f"deliveryMethod must be one of EMAIL, PHONE, LINK, got '{value}'",
            field="deliveryMethod",
        )
    return method


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None


def _recipient(command: NewRedemption) -> Recipient:
    """The recipient fields, checked as a contact's are; blank means not given."""

    def given(value: str | None) -> str | None:
        return value if value is not None and value.strip() else None

    name = given(command.recipient_name)
    email = given(command.recipient_email)
    phone = given(command.recipient_phone)
    external = given(command.recipient_external_id)
    return Recipient(
        name=validation.text(name, field="recipientName", max_length=200) if name else None,
        email=validation.email(email, field="recipientEmail") if email else None,
        phone=validation.phone(phone, field="recipientPhone") if phone else None,
        external_id=(
            validation.text(external, field="recipientExternalId", max_length=200)
            if external
            else None
        ),
    )


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
    """``quantity`` codes of ``amount`` each; credit codes hold their amount on the wallet,
    the other types carry their value and hold nothing."""
    principal.require("write")
    kind, credit_type = _kind(command)
    amount = _value(principal, kind, credit_type, command.amount)
    delivery = _delivery(kind, command.delivery_method)
    recipient = _recipient(command)
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
            "redemption_type": kind.value,
            "delivery": delivery.value,
            "recipient": [recipient.name, recipient.email, recipient.phone, recipient.external_id],
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
                    redemption_type=kind,
                    delivery_method=delivery,
                    recipient=recipient,
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
    redemption_type: RedemptionType | None = None  # None: the credit type's own
    delivery_method: DeliveryMethod = DeliveryMethod.CREDIT
    recipient: Recipient = Recipient()


def issue_code(
    connection: Connection, principal: Principal, issue: Issue, now: datetime
) -> Redemption:
    """Hold ``amount`` on the wallet under a new code, with its outbox event; the caller
    has checked the wallet and the amount and owns the transaction."""
    redemption_uuid = new_uuid()
    kind = issue.redemption_type or credit_redemption_type(issue.credit_type)
    if kind in CREDIT_TYPES:
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
        "redemption_type": kind.value,
        "delivery_method": issue.delivery_method.value,
        "recipient_name": issue.recipient.name,
        "recipient_email": issue.recipient.email,
        "recipient_phone": issue.recipient.phone,
        "recipient_external_id": issue.recipient.external_id,
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
    """Capture a code's hold as a SPEND (reason REDEMPTION), exactly once; a code that holds
    no credit (a discount, free product or shipping) is marked redeemed, with no entry."""
    principal.require("write")
    wanted = codes.normalise(code)

    def write(connection: Connection) -> Redeemed:
        now = utcnow()
        # The SPEND's uuid, recorded on the code as it is claimed (when it holds credit).
        entry_uuid = new_uuid()
        claimed = (
            None
            if not codes.well_formed(wanted)
            else repository.claim(
                connection,
                principal.account_id,
                wanted,
                now,
                RedemptionStatus.REDEEMED,
                spend_entry=entry_uuid,
            )
        )
        if claimed is None:
            raise _refusal(connection, principal, wanted, now)
        if not claimed.holds_credit:
            record_event(
                connection,
                principal.account_id,
                "redemption_code.redeemed",
                _payload(principal, claimed),
            )
            return Redeemed(redemption=claimed, entry=None)
        # The code's event goes with the SPEND's, in its statement.
        redeemed = (
            "redemption_code.redeemed",
            {**_payload(principal, claimed), "entry_uuid": entry_uuid},
        )
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
                entry_uuid=entry_uuid,
            ),
            now,
            also=redeemed,
        )
        return Redeemed(redemption=claimed, entry=entry)

    return run_command(db, write)


def _release(
    connection: Connection, principal: Principal, redemption: Redemption, now: datetime
) -> None:
    """Give a closed credit code's hold back; the other types hold nothing."""
    if redemption.holds_credit:
        postings.release(
            connection,
            principal,
            redemption.wallet_uuid,
            redemption.credit_type,
            redemption.amount,
            redemption.uuid,
            now,
        )


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
        _release(connection, principal, claimed, now)
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
        _release(connection, principal, redemption, now)
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
        _release(connection, principal, redemption, now)
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
