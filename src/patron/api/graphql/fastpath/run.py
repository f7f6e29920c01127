"""Executing a plan for one request: a field at a time for all rows, never per-field resolvers.

Fields are collected as graphql-core's executor collects them (``collect_fields`` evaluates
``@include``/``@skip`` and fragments, and keeps the order of first appearance), arguments are
coerced by ``get_argument_values``, and every leaf goes through the schema's own serializer.
A field's values are computed for all the objects of a level at once (one loader call each,
as the normal resolvers make), then the rows are assembled in field order.

Anything that would make the normal executor report an error raises here instead; the caller
then lets the normal executor answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values

from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.fastpath.fields import Field, Types
from patron.api.graphql.fastpath.plan import TYPENAME, Plan

Complete = Callable[[Any], Any]
CompleteColumn = Callable[[list[Any]], list[Any]]


class Unanswerable(Exception):
    """The normal executor would answer this with an error: let it."""


def leaf_completer(output_type: GraphQLOutputType) -> Complete:
    """What graphql-core's ``complete_value`` does to a scalar, an enum or a list of them."""
    if isinstance(output_type, GraphQLNonNull):
        inner = leaf_completer(output_type.of_type)

        def complete_non_null(value: Any) -> Any:
            completed = inner(value)
            if completed is None:
                raise Unanswerable("null in a non-null field")
            return completed

        return complete_non_null
    if isinstance(output_type, GraphQLList):
        item = leaf_completer(output_type.of_type)

        def complete_list(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, list | tuple):
                raise Unanswerable("a list field resolved to something else")
            return [item(element) for element in value]

        return complete_list
    if not is_leaf_type(output_type):
        raise Unanswerable(f"{output_type} is not a leaf type")
    coerce = output_type.coerce_output_value

    def complete_leaf(value: Any) -> Any:
        if value is None:
            return None
        completed = coerce(value)
        if completed is None or completed is Undefined:
            raise Unanswerable("a scalar serialized to nothing")
        return completed

    return complete_leaf


# Built-in scalars whose serializer returns a value of exactly this Python type unchanged.
_UNCHANGED: dict[GraphQLNamedType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
}


def column_completer(output_type: GraphQLOutputType) -> CompleteColumn:
    """``leaf_completer`` over a column; values the serializer would return as they are
    skip the call."""
    complete = leaf_completer(output_type)
    nullable = get_nullable_type(output_type)
    unchanged = _UNCHANGED.get(nullable) if isinstance(nullable, GraphQLNamedType) else None
    if unchanged is None:

        def complete_all(values: list[Any]) -> list[Any]:
            return [complete(value) for value in values]

        return complete_all

    def complete_changed(values: list[Any]) -> list[Any]:
        return [value if type(value) is unchanged else complete(value) for value in values]

    return complete_changed


class Run:
    """One request's execution of a plan."""

    def __init__(
        self,
        schema: GraphQLSchema,
        plan: Plan,
        context: Context,
        variables: VariableValues,
        completers: dict[tuple[str, str], CompleteColumn],
        types: Types,
    ) -> None:
        self.schema = schema
        self.types = types
        self.plan = plan
        self.context = context
        self.principal: Principal = context.principal
        self.variables = variables
        self.completers = completers  # per (type, field), shared by the requests of a plan

    def data(self) -> dict[str, Any]:
        query = self.schema.query_type
        if query is None:  # pragma: no cover - the native schema has a query type
            raise Unanswerable("no query type")
        grouped = collect_fields(
            self.schema, self.plan.fragments, self.variables, query, self.plan.operation
        ).grouped_field_set
        [row] = self.objects(query, [None], grouped)
        return row

    def objects(
        self, parent: GraphQLObjectType, sources: list[Any], grouped: dict[str, FieldDetailsList]
    ) -> list[dict[str, Any]]:
        """The rows of a level: every selected field of every source, in selection order."""
        keys = list(grouped)
        if not keys:  # every field skipped
            return [{} for _ in sources]
        columns = [self.values(parent, sources, details) for details in grouped.values()]
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]

    def values(
        self, parent: GraphQLObjectType, sources: list[Any], details: FieldDetailsList
    ) -> list[Any]:
        """One field's completed values for every source of a level."""
        name = details[0].node.name.value
        if name == TYPENAME:
            return [parent.name] * len(sources)
        field = self.types[parent.name][name]
        if field.attribute is not None:
            return self.completer(parent, name)(list(map(field.attribute, sources)))
        if field.get is not None:
            get, principal = field.get, self.principal
            return self.completer(parent, name)([get(source, principal) for source in sources])
        return self.column(parent, field, sources, details)

    def completer(self, parent: GraphQLObjectType, name: str) -> CompleteColumn:
        key = (parent.name, name)
        complete = self.completers.get(key)
        if complete is None:
            complete = column_completer(parent.fields[name].type)
            self.completers[key] = complete
        return complete

    def column(
        self,
        parent: GraphQLObjectType,
        field: Field,
        sources: list[Any],
        details: FieldDetailsList,
    ) -> list[Any]:
        """A resolved field's completed values for every source of the level."""
        name = details[0].node.name.value
        definition = parent.fields[name]
        first = details[0]
        arguments = (
            get_argument_values(
                definition, first.node, self.variables, first.fragment_variable_values
            )
            if definition.args or first.node.arguments
            else {}
        )
        if field.project is not None:
            columns = self.columns(definition.type, details)
            values = field.project(self.context, sources, arguments, columns)
        else:
            assert field.resolve is not None
            values = field.resolve(self.context, sources, arguments)
        if field.type_name is None:
            return self.completer(parent, name)(values)
        return self.complete(definition.type, values, details)

    def columns(self, output_type: GraphQLOutputType, details: FieldDetailsList) -> tuple[str, ...]:
        """What the selected fields of a projected object read, sorted (one statement per
        set of columns, whatever order or aliases the document gives its fields)."""
        named = get_named_type(output_type)
        if not isinstance(named, GraphQLObjectType):
            raise Unanswerable(f"{output_type} is not an object type")
        grouped = collect_subfields(
            self.schema, self.plan.fragments, self.variables, self.plan.operation, named, details
        ).grouped_field_set
        fields = self.types[named.name]
        wanted: set[str] = set()
        for group in grouped.values():
            name = group[0].node.name.value
            if name == TYPENAME:
                continue
            field = fields[name]
            wanted.update(field.columns)
            if field.join is not None:  # read by the same statement
                wanted.update(field.join(self.columns(named.fields[name].type, group)))
        return tuple(sorted(wanted))

    def complete(
        self, output_type: GraphQLOutputType, values: list[Any], details: FieldDetailsList
    ) -> list[Any]:
        """Objects (or lists of them) completed with the field's sub-selection, column-wise."""
        if isinstance(output_type, GraphQLNonNull):
            completed = self.complete(output_type.of_type, values, details)
            if any(value is None for value in completed):
                raise Unanswerable("null in a non-null field")
            return completed
        if isinstance(output_type, GraphQLList):
            return self._complete_lists(output_type.of_type, values, details)
        if not isinstance(output_type, GraphQLObjectType):
            raise Unanswerable(f"{output_type} is not an object type")
        present = [value for value in values if value is not None]
        grouped = collect_subfields(
            self.schema,
            self.plan.fragments,
            self.variables,
            self.plan.operation,
            output_type,
            details,
        ).grouped_field_set
        rows = iter(self.objects(output_type, present, grouped))
        return [None if value is None else next(rows) for value in values]

    def _complete_lists(
        self, item_type: GraphQLOutputType, values: list[Any], details: FieldDetailsList
    ) -> list[Any]:
        items: list[Any] = []
        for value in values:
            if value is not None:
                if not isinstance(value, list | tuple):
                    raise Unanswerable("a list field resolved to something else")
                items.extend(value)
        completed = iter(self.complete(item_type, items, details))
        return [None if value is None else [next(completed) for _ in value] for value in values]
