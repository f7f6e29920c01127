"""Exact amounts: Decimal inside, integers of the smallest unit in storage, never floats."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

from patron.core.errors import InvalidInput

# ISO 4217 active codes. Most have two minor-unit digits; the exceptions are listed below.
_ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    ]
)
_ZERO_DECIMALS = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMALS = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])

MAX_PRECISION = 6
# A ceiling far above any real wallet, far below 2**63: keeps arithmetic and JSON exact.
MAX_MINOR_UNITS = 10**15


def normalise_currency(code: str) -> str:
    value = code.strip().upper()
    if value not in _ISO_4217:
        raise InvalidInput(f"currency '{code}' is not an ISO 4217 code", field="currency")
    return value


def currency_precision(code: str) -> int:
    """The number of minor-unit digits of an ISO 4217 currency."""
    if code in _ZERO_DECIMALS:
        return 0
    if code in _THREE_DECIMALS:
        return 3
    return 2


# What a number may look like on the wire: ASCII digits, at most one point, an optional sign
# and an exponent (a JSON number such as 1e-05 arrives that way). No "1_0", no "１", no
# "0x10": Python's Decimal would read some of those.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,9})?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|snan|inf|infinity)", re.IGNORECASE)
MAX_NUMBER_LENGTH = 64
# Far beyond any amount, rate or multiplier Patron keeps (10^15 smallest units at most),
# and far inside what exact decimal arithmetic can carry without overflow. Tiny numbers
# are left to the caller, which refuses more decimal places than it keeps.
MAX_MAGNITUDE_DIGITS = 40


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Convert an edge value (int, float from JSON, numeric string, Decimal) once, exactly."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number, not a boolean", field=field)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float | str):
        written = value.strip() if isinstance(value, str) else repr(value)
        if _NOT_FINITE.fullmatch(written):
            raise InvalidInput(f"{field} must be a finite number, got '{value}'", field=field)
        if len(written) > MAX_NUMBER_LENGTH or not _NUMBER.fullmatch(written):
            shown = written if len(written) <= MAX_NUMBER_LENGTH else written[:20] + "…"
            raise InvalidInput(f"{field} must be a number, got '{shown}'", field=field)
        number = Decimal(written)
    else:
        raise InvalidInput(f"{field} must be a number", field=field)
    if not number.is_finite():
        raise InvalidInput(f"{field} must be a finite number, got '{value}'", field=field)
    # Read from the exponent, without arithmetic: 1e999999999 would overflow the context.
    if number and number.adjusted() >= MAX_MAGNITUDE_DIGITS:
        raise InvalidInput(f"{field} {number} is above the maximum", field=field)
    return number


def _decimal_places(amount: Decimal) -> int:
    """How many decimal places ``amount`` needs (1.50 needs 1), read from its digits."""
    if not amount:
        return 0
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by to_decimal
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def to_minor(amount: Decimal, precision: int, *, field: str = "amount") -> int:
    """Exact integer of the smallest unit; refuses more decimal places than ``precision``."""
    # Judged from the digits before any arithmetic: an exponent far out (1e999999,
    # 1e-9999999) would overflow or underflow the decimal context instead.
    too_big = bool(amount) and amount.adjusted() >= len(str(MAX_MINOR_UNITS))
    if not too_big and _decimal_places(amount) > precision:
        raise InvalidInput(
            f"{field} {amount} has more than {precision} decimal place(s)", field=field
        )
    if too_big or abs(minor := int(amount.scaleb(precision))) > MAX_MINOR_UNITS:
        raise InvalidInput(
            f"{field} {amount} is above the maximum of {from_minor(MAX_MINOR_UNITS, precision)}",
            field=field,
        )
    return minor


def positive_minor(value: object, precision: int, *, field: str = "amount") -> int:
    """A strictly positive amount from an edge value, as minor units."""
    number = to_decimal(value, field=field)
    if number <= 0:
        raise InvalidInput(f"{field} must be greater than 0, got {number}", field=field)
    return to_minor(number, precision, field=field)


def from_minor(minor: int, precision: int) -> Decimal:
    """The exact decimal of ``minor`` smallest units, written with ``precision`` places."""
    return Decimal(minor).scaleb(-precision).quantize(Decimal(1).scaleb(-precision))


# A plain decimal as files write amounts: digits, and at most six decimal places.
_PLAIN = re.compile(r"([0-9]{1,16})(?:\.([0-9]{1,6}))?")


def plain_minor(value: str, precision: int) -> int | None:
    """``to_minor(to_decimal(value), precision)`` for the plain decimals files are made of
    ("10.50", "7"), in integer arithmetic; None for anything else, and for what those rules
    refuse (too many decimal places, above the maximum), so that the caller takes the full
    path and its message."""
    found = _PLAIN.fullmatch(value)
    if found is None:
        return None
    whole, part = found.groups()
    if part is None:
        part = ""
    if len(part) > precision:
        return None
    minor = int(whole) * 10**precision + (int(part) * 10 ** (precision - len(part)) if part else 0)
    return minor if minor <= MAX_MINOR_UNITS else None


def minor_text(minor: int, precision: int) -> str:
    """``str(from_minor(minor, precision))``, written without decimal arithmetic when it can
    be (a bulk job writes two for each of its entries)."""
    if precision == 0:
        return str(minor)
    if minor >= 0 and precision <= 6:
        whole, part = divmod(minor, 10**precision)
        return f"{whole}.{part:0{precision}d}"
    return str(from_minor(minor, precision))


def round_down(amount: Decimal, precision: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_DOWN)
