"""Pure earning and refund arithmetic: exact decimals in, integers of the smallest unit out."""

from __future__ import annotations

from decimal import Decimal, localcontext

from patron.core.errors import DomainError, InvalidInput
from patron.core.money import MAX_MINOR_UNITS, from_minor, round_down, to_decimal

MAX_RATE = Decimal(1_000_000)
MAX_RATE_PLACES = 6


class EarningTooLarge(DomainError):
    """Rate, multipliers and total are each allowed, but their product is not a balance."""

    code = "AMOUNT_TOO_LARGE"


def parse_rate(value: object, *, field: str) -> Decimal:
    """A positive exact decimal (points per currency unit, or a multiplier)."""
    number = to_decimal(value, field=field)
    if number <= 0:
        raise InvalidInput(f"{field} must be greater than 0, got {number}", field=field)
    if number > MAX_RATE:
        raise InvalidInput(f"{field} must be at most {MAX_RATE}, got {number}", field=field)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_RATE_PLACES:
        raise InvalidInput(
            f"{field} must have at most {MAX_RATE_PLACES} decimal places, got {number}",
            field=field,
        )
    return plain(number)


def plain(number: Decimal) -> Decimal:
    """Without trailing zeros and without an exponent: 1.50 is 1.5, 100.0 is 100."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def points_for(
    total: int,
    *,
    currency_precision: int,
    rate: Decimal,
    multiplier: Decimal | None,
    points_precision: int,
) -> int:
    """Points for an order total: total × rate × multiplier, rounded down to the precision."""
    with localcontext() as context:
        context.prec = 60
        amount = Decimal(total).scaleb(-currency_precision) * rate
        if multiplier is not None:
            amount *= multiplier
        points = round_down(amount, points_precision)
        minor = int(points.scaleb(points_precision))
    if minor > MAX_MINOR_UNITS:
        raise EarningTooLarge(
            f"the order would earn {points} points, above the maximum of "
            f"{from_minor(MAX_MINOR_UNITS, points_precision)} for one entry; "
            "lower the earning rule or the store's multiplier",
            field="total",
        )
    return minor


def share(whole: int, part: int, of: int) -> int:
    """``whole × part / of``, rounded down: the cumulative share of a refunded ``part``.

    Working on cumulative amounts makes the refunds of an order add up exactly to the whole
    once everything is refunded, whatever the partial steps were.
    """
    if of <= 0:
        return 0
    return whole * part // of
