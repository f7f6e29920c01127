"""``POST /compat/lightfunnels/api/v2``: one GraphQL endpoint, ``Authorization: Bearer``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from patron.api.compat.lightfunnels.schema import build_schema
from patron.api.endpoint import (
    Patron,
    cached_token_context,
    graphql_endpoint,
    loop_token_context,
    token_context,
)
from patron.api.http import bearer_token

PATH = "/compat/lightfunnels/api/v2"


def lightfunnels_routes(patron: Patron) -> list[BaseRoute]:
    schema = build_schema(patron.settings)
    endpoint = graphql_endpoint(
        patron,
        schema,
        credentials=bearer_token,
        context=token_context(patron),
        fast_reads=schema.fast_reads,
        fast_writes=schema.fast_writes,
        cached_context=cached_token_context(patron)
        if patron.settings.reads_on_event_loop
        else None,
        loop_context=loop_token_context(patron) if patron.writes_on_event_loop else None,
    )
    return [Route(PATH, endpoint, methods=["POST"])]
