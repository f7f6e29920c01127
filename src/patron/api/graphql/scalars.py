"""Exact numbers on the wire: JSON numbers written from the exact decimal, parsed without floats.

Two scalars carry exact amounts on the native API: ``Float``, under the name the seed vendor
publishes for amounts and balances (it replaces GraphQL's binary ``Float`` in that schema), and
``Decimal``, the name Patron's own extensions use. Both read a value from the text the client
wrote: a literal in the document keeps its digits, and a JSON number in the variables arrives as
a :class:`~patron.api.http.JsonNumber` that carries its text, so ``10.1`` becomes
``Decimal("10.1")`` and never passes through binary floating point.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

import orjson
import strawberry
from graphql import (
    FloatValueNode,
    GraphQLNamedType,
    GraphQLScalarType,
    IntValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.scalar import ScalarDefinition

from patron.api.http import JsonNumber


def _serialize(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A raw JSON number: 25.00 stays 25.00, and 0.3 never becomes 0.30000000000000004.
        return orjson.Fragment(format(value, "f").encode())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Float cannot represent {type(value).__name__} value")
    return value  # a ratio the core computes as a float (an error rate): written as it is


def _parse_value(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, JsonNumber):
        return Decimal(value.text)
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return value  # checked, with a clear message, by the core
    raise ValueError("expected a number")


def _parse_literal(node: ValueNode, _variables: Any = None) -> Any:
    if isinstance(node, IntValueNode | FloatValueNode):
        try:
            return Decimal(node.value)  # the literal's own digits
        except InvalidOperation:  # pragma: no cover - the lexer only passes numbers
            raise ValueError(f"'{node.value}' is not a number") from None
    if isinstance(node, StringValueNode):
        return node.value
    return _parse_value(value_from_ast_untyped(node, _variables))  # NaN (an enum value), ...


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description=(
        "An exact decimal number. Written as a JSON number with the credit type's precision; "
        "accepted as a JSON number or a numeric string. Interchangeable with Float in "
        "variables: either may be declared for either."
    ),
    serialize=_serialize,
    parse_value=_parse_value,
    parse_literal=_parse_literal,
)

# Amounts and balances under the type name the seed vendor publishes for them: ``Float``.
ExactFloat = NewType("ExactFloat", Decimal)


class _ExactFloatType(GraphQLScalarType):
    # graphql-core reserves the standard scalars' names so that a schema cannot redefine one
    # by mistake; this schema does it on purpose, for the seed vendor's published type name.
    reserved_types: Mapping[str, GraphQLNamedType] = {}


_FLOAT_DESCRIPTION = (
    "A number. Amounts and balances are exact decimals: written as a JSON number with the "
    "credit type's precision, read from the digits the client sent (a JSON number or a "
    "numeric string), never rounded through binary floating point. Interchangeable with "
    "Decimal in variables: either may be declared for either."
)

FloatScalar = ScalarDefinition(
    name="Float",
    description=_FLOAT_DESCRIPTION,
    specified_by_url=None,
    serialize=_serialize,
    parse_value=_parse_value,
    parse_literal=_parse_literal,
)
FloatScalar.implementation = _ExactFloatType(
    name="Float",
    description=_FLOAT_DESCRIPTION,
    serialize=_serialize,
    parse_value=_parse_value,
    parse_literal=_parse_literal,
    extensions={GraphQLCoreConverter.DEFINITION_BACKREF: FloatScalar},
)


def _plain(value: Any) -> Any:
    if isinstance(value, JsonNumber):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _holds_json_number(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, JsonNumber):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _plain_value(value: Any) -> Any:
    # As it came when it holds no fraction (its depth is then the core's to judge).
    if not _holds_json_number(value):
        return value
    try:
        return _plain(value)
    except RecursionError:
        raise ValueError("the value is nested too deeply") from None


# Free-form JSON (a contact's extraInfo): its numbers are plain JSON numbers, as before.
PlainJSONScalar = strawberry.scalar(
    name="JSON",
    description=(
        "The `JSON` scalar type represents JSON values as specified by "
        "[ECMA-404]"
        "(https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf)."
    ),
    specified_by_url=(
        "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf"
    ),
    serialize=lambda value: value,
    parse_value=_plain_value,
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
