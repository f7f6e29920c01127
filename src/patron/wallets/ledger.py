"""Pure ledger rules: parsing commands into exact minor-unit amounts. No I/O here."""

from __future__ import annotations

from decimal import Decimal, localcontext

from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.errors import Conflict, InvalidInput
from patron.core.money import MAX_MINOR_UNITS, from_minor, round_down, to_decimal, to_minor
from patron.wallets.models import Action, CreditType

MAX_NOTE_LENGTH = 500


class InsufficientCredit(Conflict):
    code = "INSUFFICIENT_CREDIT"


class ConversionRateMismatch(Conflict):
    code = "CONVERSION_RATE_MISMATCH"


def parse_action(value: str) -> Action:
    try:
        return Action(value)
    except ValueError:
        raise InvalidInput(
            f"action must be one of ADD, SPEND, REMOVE, got '{value}'", field="action"
        ) from None


def parse_credit_type(value: str, *, field: str = "creditType") -> CreditType:
    try:
        return CreditType(value)
    except ValueError:
        raise InvalidInput(
            f"{field} must be one of GLOBAL, LOCAL, got '{value}'", field=field
        ) from None


def precision(principal: Principal, credit_type: CreditType) -> int:
    """GLOBAL follows the account currency's minor units; LOCAL the account's points precision."""
    if credit_type is CreditType.GLOBAL:
        return principal.currency_precision
    return principal.points_precision


def amount_minor(
    principal: Principal, credit_type: CreditType, value: object, *, field: str = "amount"
) -> int:
    number = to_decimal(value, field=field)
    if number <= 0:
        raise InvalidInput(f"{field} must be greater than 0, got {number}", field=field)
    return to_minor(number, precision(principal, credit_type), field=field)


def clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"note must be at most {MAX_NOTE_LENGTH} characters", field="note")
    return note or None


def rate_key(from_type: CreditType, to_type: CreditType) -> str:
    return f"{from_type.value}_TO_{to_type.value}"


def conversion_rate(
    principal: Principal, from_type: CreditType, to_type: CreditType, given: object | None
) -> Decimal:
    """The account's configured rate wins; without one the client's rate is used."""
    configured_rates = account_settings.conversion_rates(principal.settings)
    configured = configured_rates.get(rate_key(from_type, to_type))
    client = account_settings.parse_conversion_rate(given) if given is not None else None
    if configured is not None:
        rate = Decimal(str(configured))
        if client is not None and client != rate:
            raise ConversionRateMismatch(
                f"conversionRate {client} differs from the account's rate {rate} "
                f"for {from_type.value} to {to_type.value}",
                field="conversionRate",
            )
        return rate
    if client is None:
        raise InvalidInput(
            "conversionRate is required: the account has no rate for "
            f"{from_type.value} to {to_type.value}",
            field="conversionRate",
        )
    return client


def converted_minor(
    principal: Principal,
    amount: int,
    from_type: CreditType,
    to_type: CreditType,
    rate: Decimal,
) -> int:
    """``amount × rate`` in the target type, rounded down to its precision, in minor units."""
    source = Decimal(amount).scaleb(-precision(principal, from_type))
    target_precision = precision(principal, to_type)
    with localcontext() as context:
        context.prec = 60
        exact = source * rate
        # A huge rate would overflow the store's integers (or the rounding) further on.
        if exact.scaleb(target_precision) > MAX_MINOR_UNITS:
            raise InvalidInput(
                f"converting {source} at rate {rate} gives more than the maximum of "
                f"{from_minor(MAX_MINOR_UNITS, target_precision)} {to_type.value}",
                field="amount",
            )
        target = round_down(exact, target_precision)
    return int(target.scaleb(target_precision))
