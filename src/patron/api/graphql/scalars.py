"""Exact numbers on the wire: JSON numbers written from the exact decimal, parsed without floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NewType

import orjson
import strawberry


def _serialize(value: Decimal) -> orjson.Fragment:
    # A raw JSON number: 25.00 stays 25.00, and 0.3 never becomes 0.30000000000000004.
    return orjson.Fragment(format(value, "f").encode())


def _parse_value(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        return value  # checked, with a clear message, by the core
    raise ValueError("expected a number")


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description=(
        "An exact decimal number. Written as a JSON number with the credit type's precision; "
        "accepted as a JSON number or a numeric string."
    ),
    serialize=_serialize,
    parse_value=_parse_value,
)


# GraphQL's Int is 32-bit; amounts in minor units go up to MAX_MINOR_UNITS (10**15), which a
# JSON number and a JavaScript number still hold exactly.
BigInt = NewType("BigInt", int)


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


BigIntScalar = strawberry.scalar(
    name="BigInt",
    description="A whole number beyond GraphQL's 32-bit Int (up to 10^15), as a JSON number.",
    serialize=int,
    parse_value=_parse_big_int,
)
