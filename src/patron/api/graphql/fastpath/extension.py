"""Hooking the fast path into Strawberry: after parsing and validation, before execution.

``on_execute`` runs once the document has been parsed (through the parser cache), checked
against the limits and validated (through the validation cache). When the plan answers, the
result it sets makes Strawberry skip its executor; otherwise nothing is set and the normal
executor runs as it always did.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSchema
from graphql.execution.values import get_variable_values
from sqlalchemy.exc import SQLAlchemyError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from patron.api.graphql.context import Context
from patron.api.graphql.fastpath.fields import Types
from patron.api.graphql.fastpath.plan import Plan, compile_plan
from patron.api.graphql.fastpath.run import CompleteColumn, Run, Unanswerable
from patron.core.errors import DomainError

log = logging.getLogger("patron.api")

# Failures that are answers (the client's input, the store): the normal executor reports
# them. Anything else is a fault of the fast path, logged, and still answered correctly.
EXPECTED = (DomainError, SQLAlchemyError, GraphQLError, Unanswerable)


@dataclass
class FastReadCounts:
    """How requests went: answered by a plan, outside the subset, or handed back on an error."""

    answered: int = 0
    unsupported: int = 0
    fell_back: int = 0


@dataclass
class _Compiled:
    plan: Plan | None
    completers: dict[tuple[str, str], CompleteColumn] = field(default_factory=dict)
    # Set once the full pipeline (parse, limits, validation) has passed this document: a
    # property of the text alone, so later requests with it may skip straight to the plan.
    validated: bool = False


class FastReads:
    """The plans of one schema (an LRU per query text and operation name) and their counts."""

    def __init__(self, types: Types, cache_size: int = 512) -> None:
        self.types = types
        self.cache_size = cache_size
        self.counts = FastReadCounts()
        self._schema: GraphQLSchema | None = None
        self._plans: OrderedDict[tuple[str, str | None], _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def bind(self, schema: GraphQLSchema) -> None:
        self._schema = schema

    def extension(self) -> Callable[[], SchemaExtension]:
        reads = self

        class FastReadExtension(SchemaExtension):
            def on_execute(self) -> Iterator[None]:
                reads.answer(self.execution_context)
                yield

        return FastReadExtension

    def answer(self, execution: ExecutionContext) -> None:
        """Set the request's result from its plan, or leave it to the normal executor."""
        context = execution.context
        schema = self._schema
        if schema is None or not isinstance(context, Context) or execution.query is None:
            return
        compiled = self._compiled(schema, execution)
        compiled.validated = True
        if compiled.plan is None:
            self._count("unsupported")
            return
        data = self._answered(schema, compiled, context, execution.variables)
        if data is not None:
            execution.result = GraphQLExecutionResult(data=data, errors=None)

    def known(self, query: str, operation_name: str | None) -> bool:
        """Whether the full pipeline has passed this document and a plan can answer it."""
        compiled = self._plans.get((query, operation_name))
        return compiled is not None and compiled.validated and compiled.plan is not None

    def answer_known(
        self,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Context,
    ) -> dict[str, Any] | None:
        """The data of a document the full pipeline has passed before, straight from its plan
        (no parse, limits or validation again: they depend on the text alone); None sends the
        request through the full pipeline, which answers it as it always would."""
        schema = self._schema
        compiled = self._plans.get((query, operation_name))
        if schema is None or compiled is None or not compiled.validated or compiled.plan is None:
            return None
        return self._answered(schema, compiled, context, variables)

    def _answered(
        self,
        schema: GraphQLSchema,
        compiled: _Compiled,
        context: Context,
        variables: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        try:
            data = self._run(schema, compiled, context, variables)
        except Exception as error:
            if not isinstance(error, EXPECTED):
                log.warning(
                    "fast read path fell back in request %s", context.request_id, exc_info=error
                )
            context.start_over()
            self._count("fell_back")
            return None
        self._count("answered")
        return data

    def _run(
        self,
        schema: GraphQLSchema,
        compiled: _Compiled,
        context: Context,
        variables: dict[str, Any] | None,
    ) -> dict[str, Any]:
        assert compiled.plan is not None
        coerced = get_variable_values(
            schema, compiled.plan.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            raise Unanswerable("variables the normal executor reports")
        run = Run(schema, compiled.plan, context, coerced, compiled.completers, self.types)
        return run.data()

    def _compiled(self, schema: GraphQLSchema, execution: ExecutionContext) -> _Compiled:
        # Keyed as the request names it: what the client sent, not the name Strawberry reads
        # off a document of one operation, so that ``answer_known`` finds it from the body.
        provided = getattr(execution, "_provided_operation_name", execution.operation_name)
        key = (execution.query or "", provided)
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
                return found
        document = execution.graphql_document
        plan = None if document is None else compile_plan(schema, document, key[1], self.types)
        compiled = _Compiled(plan)
        with self._lock:
            self._plans[key] = compiled
            if len(self._plans) > self.cache_size:
                self._plans.popitem(last=False)
        return compiled

    def _count(self, outcome: str) -> None:
        with self._lock:
            setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
