"""What this dialect forgives that standard GraphQL does not, and nothing more.

Lightfunnels' own ``CustomersQuery`` declares ``$first: Int``, ``$after`` and
``$query: String!`` and then uses literals instead; its clients send it as printed, with or
without values for those variables. And its documentation types ``first`` as a String. So,
before validation, the document is rewritten in two ways:

- a variable that nothing in the document uses is dropped: it can neither be reported as
  unused nor as a required variable that was not provided;
- an Int or String variable used only as a page size is declared as a ``PageSize``, which
  takes an Int or a numeric String.

Everything else is validated and coerced as everywhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    get_named_type,
)
from graphql.language import (
    SKIP,
    DefinitionNode,
    DocumentNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

PAGE_SIZE = "PageSize"
_AS_PAGE_SIZE = frozenset({"Int", "String"})


class _Usages(Visitor):
    """Where each variable is used: the named input types of its positions."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.positions: dict[str, set[str | None]] = {}

    def enter_variable_definition(self, *_args: Any) -> Any:
        return SKIP  # a declaration is not a use

    def enter_variable(self, node: VariableNode, *_args: Any) -> None:
        expected = self.type_info.get_input_type()
        named = get_named_type(expected).name if expected is not None else None
        self.positions.setdefault(node.name.value, set()).add(named)


def _named(type_node: TypeNode) -> NamedTypeNode | None:
    inner = type_node.type if isinstance(type_node, NonNullTypeNode) else type_node
    return inner if isinstance(inner, NamedTypeNode) else None


def _as_page_size(definition: VariableDefinitionNode) -> VariableDefinitionNode:
    page_size = NamedTypeNode(name=NameNode(value=PAGE_SIZE))
    declared = definition.type
    retyped: TypeNode = (
        NonNullTypeNode(type=page_size) if isinstance(declared, NonNullTypeNode) else page_size
    )
    return dataclasses.replace(definition, type=retyped)


def _rewritten(
    definitions: tuple[VariableDefinitionNode, ...], positions: dict[str, set[str | None]]
) -> tuple[VariableDefinitionNode, ...]:
    kept: list[VariableDefinitionNode] = []
    for definition in definitions:
        used = positions.get(definition.variable.name.value)
        if not used:
            continue
        named = _named(definition.type)
        if named is not None and named.name.value in _AS_PAGE_SIZE and used == {PAGE_SIZE}:
            kept.append(_as_page_size(definition))
        else:
            kept.append(definition)
    return tuple(kept)


def forgiving(schema: GraphQLSchema, document: DocumentNode) -> DocumentNode:
    """The document with unused variables dropped and page-size variables retyped."""
    usages = _Usages(TypeInfo(schema))
    visit(document, TypeInfoVisitor(usages.type_info, usages))
    changed = False
    definitions: list[DefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.variable_definitions:
            variables = tuple(definition.variable_definitions)
            rewritten = _rewritten(variables, usages.positions)
            if rewritten != variables:
                changed = True
                definitions.append(dataclasses.replace(definition, variable_definitions=rewritten))
                continue
        definitions.append(definition)
    if not changed:
        return document
    return dataclasses.replace(document, definitions=tuple(definitions))


class _Same:
    """A document as a cache key by identity: the parser cache hands out the same object for
    the same query, and hashing a document by value walks all of it."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.document is self.document


@lru_cache(maxsize=256)
def _forgiving(schema: GraphQLSchema, document: _Same) -> DocumentNode:
    return forgiving(schema, document.document)


class Leniency(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.graphql_document is not None:
            context.graphql_document = _forgiving(
                context.schema._schema, _Same(context.graphql_document)
            )
