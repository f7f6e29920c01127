"""Whether a validated document lies inside the fast path's subset: checked once per document.

The check is static and conservative: it walks every selection, also those a variable might
skip, and any field, directive or fragment it does not know sends the document to the normal
executor. Which fields a request then selects (``@include``/``@skip``) and with which
arguments is decided per request by graphql-core's own helpers (:mod:`.run`).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
)
from graphql.execution.collect_fields import FragmentDetails

from patron.api.graphql.fastpath.fields import Types

CONDITIONS = frozenset({"include", "skip"})
TYPENAME = "__typename"


@dataclass(frozen=True, slots=True)
class Plan:
    """A supported operation and its document's fragments, as graphql-core collects them."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDetails]


def compile_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, types: Types
) -> Plan | None:
    """The plan of the named operation, or None when any of it is outside the subset."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    if operation.directives:
        return None
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions or definition.directives:
                return None
            fragments[definition.name.value] = definition
    checker = _Checker(schema, fragments, types)
    if schema.query_type is None or not checker.supports(
        schema.query_type, operation.selection_set
    ):
        return None
    details = {name: FragmentDetails(fragment, None) for name, fragment in fragments.items()}
    return Plan(operation, details)


class _Checker:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], types: Types
    ):
        self.schema = schema
        self.fragments = fragments
        self.types = types
        self.entered: list[str] = []  # fragments being checked: a cycle is not supported

    def supports(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if any(d.name.value not in CONDITIONS for d in selection.directives or ()):
                return False
            if isinstance(selection, FieldNode):
                supported = self._field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                supported = self._applies(parent, selection.type_condition) and self.supports(
                    parent, selection.selection_set
                )
            elif isinstance(selection, FragmentSpreadNode):
                supported = self._spread(parent, selection)
            else:  # pragma: no cover - the three kinds of selection
                supported = False
            if not supported:
                return False
        return True

    def _field(self, parent: GraphQLObjectType, node: FieldNode) -> bool:
        name = node.name.value
        if name == TYPENAME:
            return node.selection_set is None and not node.arguments
        field = self.types.get(parent.name, {}).get(name)
        definition = parent.fields.get(name)
        if field is None or definition is None:
            return False
        if field.type_name is None:
            return node.selection_set is None
        named = get_named_type(definition.type)
        if node.selection_set is None or named.name != field.type_name:
            return False
        if not isinstance(named, GraphQLObjectType):  # pragma: no cover - the table's types
            return False
        return self.supports(named, node.selection_set)

    def _spread(self, parent: GraphQLObjectType, node: FragmentSpreadNode) -> bool:
        name = node.name.value
        fragment = self.fragments.get(name)
        if fragment is None or name in self.entered:
            return False
        self.entered.append(name)
        try:
            return self._applies(parent, fragment.type_condition) and self.supports(
                parent, fragment.selection_set
            )
        finally:
            self.entered.pop()

    def _applies(self, parent: GraphQLObjectType, condition: NamedTypeNode | None) -> bool:
        """A fragment on this very type, or on an interface it implements (``Node``)."""
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is parent:
            return True
        return is_abstract_type(named) and self.schema.is_sub_type(named, parent)
