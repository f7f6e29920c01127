"""Variable types a client may declare under either of two names (the vendor's and Patron's).

GraphQL lets a variable be used only where its declared type is the position's type (or a
stricter one). The native schema names a position as the seed vendor publishes it (``Float`` for
amounts and balances, ``CreditEntryType`` for an entry's action), while clients written for
Patron declare its own names (``Decimal``, ``CreditAction``) — and a client may also declare the
vendor's name for a position that only Patron has. The two names of each pair below read the
same values into the same Python values, so this rule, which replaces graphql-core's
``VariablesInAllowedPositionRule``, accepts either name of a pair wherever the other one is
expected (with the usual non-null and list rules); every other usage is checked exactly as
before, with the same message.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLType,
    OperationDefinitionNode,
    VariablesInAllowedPositionRule,
    is_input_object_type,
    is_nullable_type,
    type_from_ast,
)
from graphql.validation.rules.variables_in_allowed_position import allowed_variable_usage
from strawberry.extensions import SchemaExtension

# Each pair: the vendor's published name, and the name Patron gave the same values first.
INTERCHANGEABLE: tuple[frozenset[str], ...] = (
    frozenset({"Float", "Decimal"}),
    frozenset({"CreditEntryType", "CreditAction"}),
)


def _named(type_: GraphQLType) -> GraphQLNamedType | None:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_ if isinstance(type_, GraphQLNamedType) else None


def _rewrap(type_: GraphQLType, named: GraphQLNamedType) -> GraphQLType:
    if isinstance(type_, GraphQLNonNull):
        return GraphQLNonNull(_rewrap(type_.of_type, named))  # type: ignore[type-var]
    if isinstance(type_, GraphQLList):
        return GraphQLList(_rewrap(type_.of_type, named))
    return named


def as_position_name(var_type: GraphQLType, location_type: GraphQLType) -> GraphQLType:
    """``var_type`` under the position's name when the two names are one pair's."""
    declared, expected = _named(var_type), _named(location_type)
    if declared is None or expected is None or declared.name == expected.name:
        return var_type
    for pair in INTERCHANGEABLE:
        if declared.name in pair and expected.name in pair:
            return _rewrap(var_type, expected)
    return var_type


class CompatibleVariablesRule(VariablesInAllowedPositionRule):
    """``VariablesInAllowedPositionRule`` with the pairs of :data:`INTERCHANGEABLE`."""

    def leave_operation_definition(self, operation: OperationDefinitionNode, *_args: Any) -> None:
        schema: GraphQLSchema = self.context.schema
        for usage in self.context.get_recursive_variable_usages(operation):
            node, location_type = usage.node, usage.type
            var_name = node.name.value
            var_def = usage.fragment_variable_definition or self.var_def_map.get(var_name)
            if not var_def or not location_type:
                continue
            declared = type_from_ast(schema, var_def.type)
            if not declared:
                continue
            var_type = as_position_name(declared, location_type)
            if not allowed_variable_usage(
                schema, var_type, var_def.default_value, location_type, usage.default_value
            ):
                self.report_error(
                    GraphQLError(
                        f"Variable '${var_name}' of type '{declared}' used"
                        f" in position expecting type '{location_type}'.",
                        [var_def, node],
                    )
                )
            parent_type = usage.parent_type
            if (
                is_input_object_type(parent_type)
                and parent_type.is_one_of
                and is_nullable_type(declared)
            ):
                self.report_error(
                    GraphQLError(
                        f"Variable '${var_name}' is of type '{declared}'"
                        " but must be non-nullable to be used for OneOf"
                        f" Input Object '{parent_type}'.",
                        [var_def, node],
                    )
                )


class CompatibleVariables(SchemaExtension):
    """Puts :class:`CompatibleVariablesRule` in the place of graphql-core's rule."""

    def on_operation(self) -> Any:
        context = self.execution_context
        context.validation_rules = tuple(
            CompatibleVariablesRule if rule is VariablesInAllowedPositionRule else rule
            for rule in context.validation_rules
        )
        yield
