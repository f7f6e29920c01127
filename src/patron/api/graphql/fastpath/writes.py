"""Mutations that clients repeat, run without the per-request work of the general executor.

A mutation document is *known* once the full pipeline (parse, limits, validation, execution)
has passed it: its plan is then compiled once. A later request with the same text runs from
the plan: its variables are coerced by graphql-core, the root field's arguments converted by
a converter built once per field by Strawberry's rules (``fastpath.arguments``), the same
resolver is called with the request's context, and its answer is completed field by field
with the schema's own serializers. That skips the parser and validation caches, the extension
hooks and graphql-core's per-field resolver machinery, which cost more than a ledger write's
own Python.

The subset is static and small, so that nothing can fail after the write for a reason the
normal executor would not also fail: one root field with no directives or fragments; nested
fields that are plain attributes, or resolvers without arguments (a contact's wallet, a node's
id); no interfaces or unions. Everything a plan cannot take before the resolver runs (variables
that do not coerce, an argument the executor would report) goes to the normal executor, which
answers it as it always did. After the resolver, a failure is answered as graphql-core answers
it: the field is null, the error masked and logged, a null in a non-null field spreads up.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values, get_variable_values
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.field import StrawberryField

from patron.api.graphql.context import Context
from patron.api.graphql.executor import format_error
from patron.api.graphql.fastpath.arguments import ArgumentConverter
from patron.api.graphql.fastpath.plan import TYPENAME
from patron.api.graphql.fastpath.run import Complete, Unanswerable, leaf_completer
from patron.core.db import Rerun, is_store_unavailable

log = logging.getLogger("patron.api")

BACKREF = "strawberry-definition"


class LeanInfo:
    """What a resolver is given in place of Strawberry's ``Info``: the request's context.
    The native API's resolvers read nothing else of it (``tests/test_fast_writes.py`` checks
    their source)."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context


@dataclass(frozen=True, slots=True)
class _Leaf:
    key: str
    output: GraphQLOutputType
    complete: Complete


@dataclass(frozen=True, slots=True)
class _Typename:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class _Object:
    """A field whose values are objects (or lists of them) of ``fields``."""

    key: str
    output: GraphQLOutputType  # the field's type, wrappers included
    fields: tuple[_Selected, ...]


@dataclass(frozen=True, slots=True)
class _Selected:
    """One selected field: how its value is read off its parent, and how it is completed."""

    key: str
    node: FieldNode
    read: Read
    shape: _Leaf | _Object | _Typename
    # A resolver field that takes arguments: its definitions, to convert them per request.
    arguments: tuple[GraphQLField, StrawberryField] | None = None


@dataclass(frozen=True, slots=True)
class WritePlan:
    operation: OperationDefinitionNode
    root: GraphQLField
    root_field: StrawberryField
    root_node: FieldNode
    key: str
    fields: tuple[_Selected, ...] | None  # None: the root field's type is a leaf
    complete_root: Complete | None
    argumented: tuple[_Selected, ...]  # the nested fields whose arguments are converted


# How a field's value is read off its object: (object, info, converted arguments).
Read = Callable[[Any, LeanInfo, dict[str, Any]], Any]


def _attribute(name: str) -> Read:
    def read(source: Any, _info: LeanInfo, _arguments: dict[str, Any]) -> Any:
        return getattr(source, name)

    return read


def _resolver(field: StrawberryField) -> Read | None:
    """A resolver field that needs only its object, its arguments and the context, or None."""
    resolver = field.base_resolver
    if resolver is None or resolver.parent_parameter or resolver.root_parameter:
        return None
    wants_self = resolver.self_parameter is not None
    info_parameter = resolver.info_parameter
    info_name = None if info_parameter is None else info_parameter.name

    def read(source: Any, info: LeanInfo, arguments: dict[str, Any]) -> Any:
        args = [source] if wants_self else []
        kwargs = {**arguments, info_name: info} if info_name is not None else arguments
        return resolver(*args, **kwargs)

    return read


class _Compiler:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.argumented: list[_Selected] = []

    def selection(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> tuple[_Selected, ...] | None:
        selected: list[_Selected] = []
        keys: set[str] = set()
        for node in selection_set.selections:
            if not isinstance(node, FieldNode) or node.directives:
                return None
            key = (node.alias or node.name).value
            if key in keys:  # the same key twice: graphql-core merges them; not here
                return None
            keys.add(key)
            found = self.field(parent, node, key)
            if found is None:
                return None
            selected.append(found)
        return tuple(selected)

    def field(self, parent: GraphQLObjectType, node: FieldNode, key: str) -> _Selected | None:
        name = node.name.value
        if name == TYPENAME:
            if node.selection_set is not None or node.arguments:
                return None
            return _Selected(key, node, _attribute("__class__"), _Typename(key, parent.name))
        definition = parent.fields.get(name)
        field = None if definition is None else (definition.extensions or {}).get(BACKREF)
        if definition is None or not isinstance(field, StrawberryField) or field.extensions:
            return None
        read = _attribute(field.python_name) if field.base_resolver is None else _resolver(field)
        shape = self.shape(definition.type, node, key)
        if read is None or shape is None:
            return None
        if not (definition.args or node.arguments):
            return _Selected(key, node, read, shape)
        selected = _Selected(key, node, read, shape, (definition, field))
        self.argumented.append(selected)
        return selected

    def shape(self, output: GraphQLOutputType, node: FieldNode, key: str) -> _Leaf | _Object | None:
        named: Any = output
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        if is_leaf_type(named):
            if node.selection_set is not None:
                return None
            return _Leaf(key, output, leaf_completer(output))
        if not isinstance(named, GraphQLObjectType) or node.selection_set is None:
            return None  # an interface or a union: the normal executor resolves the type
        fields = self.selection(named, node.selection_set)
        return None if fields is None else _Object(key, output, fields)


def compile_write(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> WritePlan | None:
    """The plan of a mutation inside the subset, or None."""
    operation = get_operation_ast(document, operation_name)
    mutation = schema.mutation_type
    if (
        operation is None
        or mutation is None
        or operation.operation is not OperationType.MUTATION
        or operation.directives
        or len(document.definitions) != 1
    ):
        return None
    node = operation.selection_set.selections[0]
    definition = (
        mutation.fields.get(node.name.value)
        if isinstance(node, FieldNode)
        and len(operation.selection_set.selections) == 1
        and not node.directives
        else None
    )
    if definition is None or not isinstance(node, FieldNode):
        return None
    field = (definition.extensions or {}).get(BACKREF)
    resolver = None if not isinstance(field, StrawberryField) else field.base_resolver
    if (
        not isinstance(field, StrawberryField)
        or resolver is None
        or field.extensions
        or resolver.parent_parameter
        or resolver.root_parameter
        or resolver.is_async
    ):
        return None
    key = (node.alias or node.name).value
    compiler = _Compiler(schema)
    shape = compiler.shape(definition.type, node, key)
    if shape is None:
        return None
    fields = shape.fields if isinstance(shape, _Object) else None
    complete_root = shape.complete if isinstance(shape, _Leaf) else None
    return WritePlan(
        operation, definition, field, node, key, fields, complete_root, tuple(compiler.argumented)
    )


_NONE: dict[str, Any] = {}


class _FieldFailed(Exception):
    """A field's value could not be completed: its error is recorded, null spreads up."""


@dataclass
class FastWriteCounts:
    answered: int = 0
    unsupported: int = 0
    fell_back: int = 0


@dataclass
class _Compiled:
    plan: WritePlan | None
    validated: bool = False


class FastWrites:
    """The mutation plans of one schema (an LRU per query text and operation name)."""

    def __init__(self, cache_size: int = 256) -> None:
        self.config = StrawberryConfig()
        self.cache_size = cache_size
        self.counts = FastWriteCounts()
        self._schema: GraphQLSchema | None = None
        self._scalars: Any = None
        self._plans: OrderedDict[tuple[str, str | None], _Compiled] = OrderedDict()
        self._lock = threading.Lock()
        # Each field's argument converter, by the id of its StrawberryField (the schema's,
        # which lives as long as this): built once, as two threads may both build it.
        self._converters: dict[int, ArgumentConverter] = {}

    def bind(self, schema: strawberry.Schema) -> None:
        self._schema = schema._schema
        self._scalars = schema.schema_converter.scalar_registry
        self.config = schema.config

    def extension(self) -> Callable[[], SchemaExtension]:
        writes = self

        class FastWriteExtension(SchemaExtension):
            def on_execute(self) -> Iterator[None]:
                writes.learn(self.execution_context)
                yield

        return FastWriteExtension

    def learn(self, execution: ExecutionContext) -> None:
        """A mutation that passed the full pipeline: compile its plan for the next time."""
        schema, document = self._schema, execution.graphql_document
        if schema is None or document is None or execution.query is None:
            return
        provided = getattr(execution, "_provided_operation_name", execution.operation_name)
        key = (execution.query, provided)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return
        operation = get_operation_ast(document, provided)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return
        plan = compile_write(schema, document, provided)
        with self._lock:
            self._plans[key] = _Compiled(plan, validated=True)
            if len(self._plans) > self.cache_size:
                self._plans.popitem(last=False)
            if plan is None:
                self.counts.unsupported += 1

    def known(self, query: str, operation_name: str | None) -> bool:
        compiled = self._plans.get((query, operation_name))
        return compiled is not None and compiled.validated and compiled.plan is not None

    def answer_known(
        self,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Context,
    ) -> dict[str, Any] | None:
        """The body of a known mutation from its plan; None (before anything is written)
        sends it to the normal executor."""
        schema = self._schema
        compiled = self._plans.get((query, operation_name))
        if schema is None or compiled is None or compiled.plan is None:
            return None
        plan = compiled.plan
        info = LeanInfo(context)
        try:
            kwargs, nested = self._arguments(schema, plan, variables, info)
        except Exception as error:
            if not isinstance(error, GraphQLError | Unanswerable):
                log.warning(
                    "fast write path fell back in request %s", context.request_id, exc_info=error
                )
            self._count("fell_back")
            return None
        self._count("answered")
        return _Answer(plan, context, info, nested).body(kwargs)

    def _arguments(
        self,
        schema: GraphQLSchema,
        plan: WritePlan,
        variables: dict[str, Any] | None,
        info: LeanInfo,
    ) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
        """The root resolver's keyword arguments, and every nested resolver's (by the id of
        its selection): all converted before anything is written."""
        coerced = get_variable_values(
            schema, plan.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            raise Unanswerable("variables the normal executor reports")

        def converted(definition: GraphQLField, field: StrawberryField, node: FieldNode) -> Any:
            convert = self._converters.get(id(field))
            if convert is None:
                convert = ArgumentConverter(field, self._scalars, self.config)
                self._converters[id(field)] = convert
            return convert(get_argument_values(definition, node, coerced), info)

        kwargs = converted(plan.root, plan.root_field, plan.root_node)
        resolver = plan.root_field.base_resolver
        assert resolver is not None
        if resolver.info_parameter is not None:
            kwargs[resolver.info_parameter.name] = info
        nested = {}
        for selected in plan.argumented:
            assert selected.arguments is not None
            definition, field = selected.arguments
            nested[id(selected)] = converted(definition, field, selected.node)
        return kwargs, nested

    def _count(self, outcome: str) -> None:
        with self._lock:
            setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)


class _Answer:
    """One request's run of a plan: the resolver, then its answer completed."""

    def __init__(
        self,
        plan: WritePlan,
        context: Context,
        info: LeanInfo,
        nested: dict[int, dict[str, Any]],
    ) -> None:
        self.plan = plan
        self.nested = nested
        self.context = context
        self.info = info
        self.errors: list[dict[str, Any]] = []

    def body(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        plan = self.plan
        resolver: Any = plan.root_field.base_resolver
        data: dict[str, Any] | None
        try:
            try:
                # A method of the mutation type gets the root value as ``self``: None, as the
                # executor runs every operation.
                value = resolver(None, **kwargs) if resolver.self_parameter else resolver(**kwargs)
                data = {plan.key: self.complete(plan.root.type, value, plan.fields, [plan.key])}
            except _FieldFailed:
                raise
            except Exception as error:
                data = {plan.key: self.failed(error, plan.root_node, [plan.key], plan.root.type)}
        except _FieldFailed:
            data = None  # null in the non-null payload: the data itself is null
        body: dict[str, Any] = {}
        if self.errors:
            body["errors"] = self.errors
        body["data"] = data
        return body

    def failed(
        self, error: Exception, node: FieldNode, path: list[str | int], output: GraphQLOutputType
    ) -> Any:
        """An error in a field, as graphql-core reports it: the store's trouble is the
        request's (a 503), a ``Rerun`` the endpoint's, anything else is logged and masked, and
        the field is null."""
        if isinstance(error, Rerun) or (
            isinstance(error, DBAPIError) and is_store_unavailable(error)
        ):
            raise error
        located = GraphQLError(str(error), [node], path=path, original_error=error)
        self.errors.append(format_error(located, self.context.request_id))
        if isinstance(output, GraphQLNonNull):
            raise _FieldFailed from error
        return None

    def complete(
        self,
        output: GraphQLOutputType,
        value: Any,
        fields: tuple[_Selected, ...] | None,
        path: list[str | int],
    ) -> Any:
        if fields is None:
            assert self.plan.complete_root is not None
            return self.plan.complete_root(value)
        if isinstance(output, GraphQLNonNull):
            completed = self.complete(output.of_type, value, fields, path)
            if completed is None:
                raise Unanswerable("null in a non-null field")
            return completed
        if value is None:
            return None
        if isinstance(output, GraphQLList):
            if not isinstance(value, list | tuple):
                raise Unanswerable("a list field resolved to something else")
            return [
                self.complete_item(output.of_type, item, fields, [*path, index])
                for index, item in enumerate(value)
            ]
        return self.object(value, fields, path)

    def complete_item(
        self,
        output: GraphQLOutputType,
        value: Any,
        fields: tuple[_Selected, ...],
        path: list[str | int],
    ) -> Any:
        try:
            return self.complete(output, value, fields, path)
        except _FieldFailed:
            if isinstance(output, GraphQLNonNull):
                raise
            return None

    def object(self, source: Any, fields: tuple[_Selected, ...], path: list[str | int]) -> Any:
        row: dict[str, Any] = {}
        info = self.info
        for selected in fields:
            shape = selected.shape
            if isinstance(shape, _Typename):
                row[selected.key] = shape.name
                continue
            where = [*path, selected.key]
            try:
                arguments = _NONE if selected.arguments is None else self.nested[id(selected)]
                value = selected.read(source, info, arguments)
                if isinstance(shape, _Leaf):
                    row[selected.key] = shape.complete(value)
                else:
                    row[selected.key] = self.complete(shape.output, value, shape.fields, where)
            except _FieldFailed:
                if isinstance(shape.output, GraphQLNonNull):
                    raise
                row[selected.key] = None
            except Exception as error:
                row[selected.key] = self.failed(error, selected.node, where, shape.output)
        return row
