"""The account's API tokens on the native API, without their secrets (the seed vendor's
``Account.authTokens``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry
from strawberry.types import Info

from patron.accounts import service as account_service
from patron.api.graphql.contacts import ConnectedServiceType
from patron.api.graphql.context import Context


@strawberry.enum(name="AuthTokenType", description="A token's scope.")
class AuthTokenType(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@strawberry.type(description="An API token of the account: never its secret.")
class AuthToken:
    uuid: str
    name: str | None
    token_type: AuthTokenType = strawberry.field(description="The token's scope.")
    prefix: str = strawberry.field(description="The token's first characters, to recognise it.")
    active: bool = strawberry.field(description="False once revoked.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def account_auth_tokens(
    info: Info[Context, None], token_type: AuthTokenType | None = None
) -> list[AuthToken]:
    principal = info.context.principal
    if principal.customer_uuid is not None or not principal.can("admin"):
        return []
    found = account_service.list_tokens(info.context.db, account_uuid=principal.account_id)
    return [
        AuthToken(
            uuid=token.token_id,
            name=token.name,
            token_type=AuthTokenType(token.scope),
            prefix=token.prefix,
            active=token.revoked_at is None,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )
        for token in found
        if token_type is None or token.scope == token_type.value
    ]


@strawberry.type(description="A service the account is connected to.")
class ConnectedService:
    service_type: ConnectedServiceType
    enabled: bool = strawberry.field(description="Always true: a set connection is in use.")
    name: str | None = strawberry.field(description="The Shopify shop; null for others.")


def account_connected_services(
    info: Info[Context, None],
    service_type: ConnectedServiceType | None = None,
    enabled: bool | None = None,
    exclude: list[ConnectedServiceType] | None = None,
) -> list[ConnectedService]:
    principal = info.context.principal
    if principal.customer_uuid is not None:
        return []
    left_out = {service.value for service in exclude or []}
    return [
        ConnectedService(service_type=ConnectedServiceType(service), enabled=True, name=name)
        for service, name in account_service.connected_services(principal)
        if (service_type is None or service == service_type.value)
        and enabled in (None, True)
        and service not in left_out
    ]
