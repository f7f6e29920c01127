"""The fast write path's argument converters give what Strawberry's ``convert_arguments``
gives, for every mutation of every surface: all fields given, only the required ones, and
every nullable one null."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
)
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from patron.api.compat.lightfunnels.schema import build_schema as build_lightfunnels_schema
from patron.api.compat.loyaltydish.schema import build_schema as build_loyaltydish_schema
from patron.api.graphql.fastpath.arguments import ArgumentConverter
from patron.api.graphql.fastpath.writes import BACKREF
from patron.api.graphql.schema import build_schema
from patron.core.settings import Settings

SCHEMAS = {
    "native": build_schema(Settings()),
    "lightfunnels": build_lightfunnels_schema(Settings()),
    "loyaltydish": build_loyaltydish_schema(Settings()),
}


class _Leaf:
    """A leaf value as graphql-core would have coerced it: converters take it as it is."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _sample(kind: GraphQLInputType, mode: str, depth: int = 0) -> Any:
    """A coerced value of ``kind``: every field (``all``), required ones only
    (``required``), or nullable ones null (``nulls``)."""
    required = isinstance(kind, GraphQLNonNull)
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if mode == "nulls" and not required and depth > 0:
        return None
    if isinstance(kind, GraphQLList):
        return [_sample(kind.of_type, mode, depth + 1), _sample(kind.of_type, "all", depth + 1)]
    if isinstance(kind, GraphQLInputObjectType):
        if depth > 4:
            return {}
        return {
            name: _sample(field.type, mode, depth + 1)
            for name, field in kind.fields.items()
            if mode != "required" or isinstance(field.type, GraphQLNonNull)
        }
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values.values())).value
    return _Leaf(kind.name)


def _mutations() -> list[tuple[str, str, strawberry.Schema]]:
    found = []
    for surface, schema in SCHEMAS.items():
        mutation = schema._schema.mutation_type
        assert mutation is not None
        found += [(surface, name, schema) for name in mutation.fields]
    return found


@pytest.mark.parametrize("mode", ["all", "required", "nulls"])
@pytest.mark.parametrize(
    ("surface", "name", "schema"), _mutations(), ids=[f"{s}-{n}" for s, n, _ in _mutations()]
)
def test_a_compiled_converter_gives_what_strawberry_gives(
    surface: str, name: str, schema: strawberry.Schema, mode: str
) -> None:
    mutation = schema._schema.mutation_type
    assert mutation is not None
    definition = mutation.fields[name]
    field = (definition.extensions or {}).get(BACKREF)
    assert isinstance(field, StrawberryField), surface
    values = {
        argument: _sample(spec.type, mode, 1 if mode != "nulls" else 0)
        for argument, spec in definition.args.items()
        if mode != "required" or isinstance(spec.type, GraphQLNonNull)
    }
    scalars = schema.schema_converter.scalar_registry
    expected = convert_arguments(values, field.arguments, scalars, schema.config, None)

    got = ArgumentConverter(field, scalars, schema.config)(values, None)

    assert got == expected
    assert repr(got) == repr(expected)


def test_the_seed_mutations_are_compiled_whole() -> None:
    """The mutations clients repeat take no fallback to Strawberry's converter."""
    schema = SCHEMAS["native"]
    mutation = schema._schema.mutation_type
    assert mutation is not None
    for name in ("createContact", "addCreditEntry", "convertCredit", "recordOrder"):
        field = mutation.fields[name].extensions[BACKREF]
        converter = ArgumentConverter(field, schema.schema_converter.scalar_registry, schema.config)
        assert converter.whole, name
