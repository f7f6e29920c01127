"""``POST /compat/lightfunnels/api/v2``: one GraphQL endpoint, ``Authorization: Bearer``."""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.routing import BaseRoute, Route

from patron.api.compat.lightfunnels.schema import build_schema
from patron.api.endpoint import Asking, Patron, graphql_endpoint
from patron.api.graphql.context import Context
from patron.api.http import bearer_token

PATH = "/compat/lightfunnels/api/v2"


def lightfunnels_routes(patron: Patron) -> list[BaseRoute]:
    def context(asking: Asking[str], reader: Connection | None) -> Context:
        return Context(
            db=patron.db,
            principal=patron.authenticate(asking.credentials, reader, cached=reader is None),
            request_id=asking.request_id,
            _connection=reader,
            autocommit=reader is None,
        )

    schema = build_schema(patron.settings)
    endpoint = graphql_endpoint(
        patron,
        schema,
        credentials=bearer_token,
        context=context,
        fast_reads=schema.fast_reads,
    )
    return [Route(PATH, endpoint, methods=["POST"])]
