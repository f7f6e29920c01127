"""``POST /compat/lightfunnels/api/v2``: one GraphQL endpoint, ``Authorization: Bearer``."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from patron.api.app import Patron, guarded, parse_graphql_body, request_id_of
from patron.api.compat.lightfunnels.schema import build_schema
from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.api.http import HttpError, bearer_token, error_response, read_json

PATH = "/compat/lightfunnels/api/v2"


def lightfunnels_routes(patron: Patron) -> list[BaseRoute]:
    schema = build_schema(patron.settings)

    async def endpoint(request: Request) -> Response:
        request_id = request_id_of(request)
        try:
            token = bearer_token(request)
            query, variables, operation_name = parse_graphql_body(
                await read_json(request, patron.settings.max_body_bytes)
            )
        except HttpError as error:
            return error_response(error)

        def work() -> tuple[int, Any, dict[str, str]]:
            # As on the native API: one read transaction for the token and the request's reads.
            reader = patron.db.engine.connect()
            try:
                reader.begin()
                principal = patron.authenticate(token, reader)
                if patron.db.is_sqlite:
                    reader.commit()  # a mutation's answer must see its own write
            except BaseException:
                reader.close()
                raise
            context = Context(
                db=patron.db, principal=principal, request_id=request_id, _connection=reader
            )
            try:
                return 200, execute(schema, context, query, variables, operation_name), {}
            except CannotGetOperationTypeError:
                problem = (
                    f"the query has no operation named '{operation_name}'"
                    if operation_name is not None
                    else "the query must hold one operation, or 'operationName' must name one"
                )
            except (MissingQueryError, InvalidOperationTypeError):
                problem = "the query must be a query or a mutation"
            raise HttpError(400, problem, "BAD_REQUEST")

        return await run_in_threadpool(guarded, patron, request_id, work)

    return [Route(PATH, endpoint, methods=["POST"])]
