"""Executing one GraphQL request: domain errors shown, unexpected ones masked and logged."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError

from patron.api.graphql.context import Context
from patron.core.db import Rerun, is_store_unavailable
from patron.core.errors import DomainError

log = logging.getLogger("patron.api")


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    formatted: dict[str, Any]
    original = error.original_error
    if isinstance(original, DomainError):
        formatted = dict(error.formatted)
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code, "field": original.field}
        return formatted
    # Without a path the error came from checking the request (a variable of the wrong
    # type, an unknown enum value) before any resolver ran: the client's mistake, shown.
    if original is not None and error.path is not None:
        log.error("unexpected error in request %s", request_id, exc_info=original)
        return {
            "message": f"Internal server error (request id {request_id})",
            "path": error.path,
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    formatted = dict(error.formatted)
    formatted.setdefault("extensions", {})["code"] = "GRAPHQL_VALIDATION_FAILED"
    return formatted


def execute(
    schema: strawberry.Schema,
    context: Context,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> dict[str, Any]:
    """Run the operation synchronously on the calling thread and shape the response body."""
    try:
        result = schema.execute_sync(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
    finally:
        context.close()
    for error in result.errors or []:
        # The store could not be reached, stayed locked, or was read-only (a standby before
        # its promotion) inside a resolver: the request's handler answers 503 with
        # Retry-After for that, as it does outside the schema.
        original = error.original_error
        if isinstance(original, DBAPIError) and is_store_unavailable(original):
            raise original
        if isinstance(original, Rerun):  # nothing was written: the endpoint runs it again
            raise original
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(error, context.request_id) for error in result.errors]
    body["data"] = result.data
    return body
