"""A field's arguments converted to their Python values by a converter built once per field.

Strawberry's ``convert_arguments`` walks each argument's type at every request: it asks the
name converter for every input field's GraphQL name (camel-casing it again each time) and
tests the type's kind at every level. A known mutation's arguments are converted here by a
function compiled from the same types, by the same rules, once: optional levels let None
and UNSET through, leaves and enums are taken as graphql-core coerced them, lists are
copied, input objects are built from their fields with None for those without a default.

Whatever the compiler does not take as it is (``Maybe``, ``GlobalID``, an input type that
builds itself with ``from_input``, a type referring to itself) is left to Strawberry's own
``convert_argument`` for that argument, so the result is always Strawberry's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import (
    _is_leaf_type,
    _is_optional_leaf_type,
    convert_argument,
)
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


class _Compiler:
    def __init__(self, scalars: Any, config: StrawberryConfig) -> None:
        self.scalars = scalars
        self.config = config
        self.visiting: set[int] = set()

    def value(self, type_: Any) -> Convert | None:
        """A converter of one value of ``type_`` (None and UNSET pass), or None: not
        compiled."""
        if isinstance(type_, StrawberryMaybe):
            return None
        if isinstance(type_, StrawberryOptional):
            return self.value(type_.of_type)
        core = self.core(type_)
        if core is None:
            return None
        if core is _identity:
            return _identity

        def convert(value: Any) -> Any:
            if value is None or value is UNSET:
                return value
            return core(value)

        return convert

    def core(self, type_: Any) -> Convert | None:
        """A converter of a value of ``type_`` that is neither None nor UNSET."""
        if isinstance(type_, StrawberryList):
            return self.list_of(type_.of_type)
        if _is_leaf_type(type_, self.scalars):
            return None if type_ is GlobalID else _identity
        if isinstance(type_, LazyType):
            return self.core(type_.resolve_type())
        if has_enum_definition(type_):
            return _identity  # its definition is a leaf: the value as coerced
        if has_object_definition(type_):
            return self.input_object(type_)
        return None

    def list_of(self, of_type: Any) -> Convert | None:
        skip = (GlobalID,)
        if _is_leaf_type(of_type, self.scalars, skip_classes=skip) or _is_optional_leaf_type(
            of_type, self.scalars, skip_classes=skip
        ):
            return list  # the items as they are; the list copied (graphql-core shares defaults)
        item = self.value(of_type)
        if item is None:
            return None
        return lambda values: [item(value) for value in values]

    def input_object(self, type_: Any) -> Convert | None:
        definition = type_.__strawberry_definition__
        if definition.from_input is not None or id(type_) in self.visiting:
            return None
        self.visiting.add(id(type_))
        try:
            defaults: dict[str, Any] = {}
            if definition.is_input:
                defaults = {
                    field.python_name: None
                    for field in definition.fields
                    if field.default_value is MISSING and field.default_factory is MISSING
                }
            fields: list[tuple[str, str, Convert]] = []
            for field in definition.fields:
                convert = self.value(field.resolve_type(type_definition=definition))
                if convert is None:
                    return None
                name = self.config.name_converter.from_field(field)
                fields.append((name, field.python_name, convert))
        finally:
            self.visiting.discard(id(type_))

        def build(value: Mapping[str, Any]) -> Any:
            kwargs = dict(defaults)
            for name, python_name, convert in fields:
                if name in value:
                    kwargs[python_name] = convert(value[name])
            return type_(**kwargs)

        return build


class ArgumentConverter:
    """The converter of one field's arguments: ``convert_arguments``' result, built once."""

    __slots__ = ("_config", "_scalars", "_steps")

    def __init__(self, field: StrawberryField, scalars: Any, config: StrawberryConfig) -> None:
        compiler = _Compiler(scalars, config)
        self._scalars = scalars
        self._config = config
        self._steps: list[tuple[str, str, Convert | None, Any]] = []
        for argument in field.arguments:
            assert argument.python_name
            name = config.name_converter.from_argument(argument)
            convert = compiler.value(argument.type)
            self._steps.append((name, argument.python_name, convert, argument.type))

    @property
    def whole(self) -> bool:
        """Every argument compiled: none is left to Strawberry's converter."""
        return all(convert is not None for _, _, convert, _ in self._steps)

    def __call__(self, values: Mapping[str, Any], info: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, python_name, convert, type_ in self._steps:
            if name not in values:
                continue
            value = values[name]
            if convert is None:
                kwargs[python_name] = convert_argument(
                    value, type_, self._scalars, self._config, info, path=(name,)
                )
            else:
                kwargs[python_name] = convert(value)
        return kwargs
