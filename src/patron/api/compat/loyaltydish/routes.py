"""``POST /compat/loyaltydish/graphql`` (a merchant's API token or a consumer's JWT, as
``Authorization: Bearer …`` or ``Authorization: JWT …``) and
``POST /compat/loyaltydish/<account uuid>/graphql`` (the same, and the public: signup and
login without any token)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from patron.accounts.principal import Principal
from patron.accounts.service import TOKEN_PREFIX
from patron.api.compat.loyaltydish.context import Caller, LoyaltydishContext
from patron.api.compat.loyaltydish.schema import build_schema
from patron.api.endpoint import Asking, Patron, graphql_endpoint
from patron.api.http import HttpError, bearer_token
from patron.core.errors import Unauthenticated
from patron.core.settings import Settings
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import TokenPolicy

MERCHANT_PATH = "/compat/loyaltydish/graphql"
PUBLIC_PATH = "/compat/loyaltydish/{account}/graphql"
_SCHEMES = ("bearer", "jwt")
_CHALLENGE = {"WWW-Authenticate": 'Bearer, JWT realm="loyaltydish"'}


def token_policy(settings: Settings) -> TokenPolicy:
    secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else None
    return TokenPolicy(
        secret=secret,
        access_seconds=settings.jwt_access_seconds,
        refresh_days=settings.refresh_token_days,
    )


def _rate_limited(patron: Patron, account_id: str, key: str) -> None:
    wait = patron.limiter.check(account_id, key)
    if wait is not None:
        raise HttpError(
            429, "rate limit exceeded; retry later", "RATE_LIMITED", {"Retry-After": str(wait)}
        )


class _Callers:
    """Who a request is: runs on a worker thread, answers 401/404/429 as HttpError. The
    lookups run on the request's read connection."""

    def __init__(self, patron: Patron) -> None:
        self.patron = patron
        self.policy = token_policy(patron.settings)

    def merchant(
        self, token: str, account_id: str | None, reader: Connection | None
    ) -> tuple[Caller, Principal]:
        principal = self.patron.authenticate(token, reader, cached=reader is None)
        if account_id is not None and principal.account_id != account_id:
            raise HttpError(
                401, "the API token belongs to another account", "UNAUTHENTICATED", _CHALLENGE
            )
        return Caller.MERCHANT, principal

    def consumer(
        self, token: str, account_id: str | None, reader: Connection | None
    ) -> tuple[Caller, Principal]:
        try:
            principal = consumers.authenticate(
                self.patron.db, self.policy, token, account_id=account_id, connection=reader
            )
        except Unauthenticated as error:
            raise HttpError(401, error.message, "UNAUTHENTICATED", _CHALLENGE) from None
        _rate_limited(self.patron, principal.account_id, f"consumer:{principal.customer_uuid}")
        return Caller.CONSUMER, principal

    def public(
        self, account_id: str, client: str | None, reader: Connection | None
    ) -> tuple[Caller, Principal]:
        principal = consumers.public_principal(self.patron.db, account_id, connection=reader)
        if principal is None:
            raise HttpError(404, f"no account '{account_id[:40]}'", "NOT_FOUND")
        _rate_limited(self.patron, principal.account_id, f"address:{client or 'unknown'}")
        return Caller.PUBLIC, principal

    def of(
        self,
        token: str | None,
        account_id: str | None,
        client: str | None,
        reader: Connection | None,
    ) -> tuple[Caller, Principal]:
        if token is None:
            assert account_id is not None
            return self.public(account_id, client, reader)
        if token.startswith(TOKEN_PREFIX):
            return self.merchant(token, account_id, reader)
        return self.consumer(token, account_id, reader)


@dataclass(frozen=True)
class _Presented:
    token: str | None
    account_id: str | None
    client: str | None


def loyaltydish_routes(patron: Patron) -> list[BaseRoute]:
    schema = build_schema(patron.settings)
    callers = _Callers(patron)

    def presented(request: Request, account_id: str | None) -> _Presented:
        token = (
            bearer_token(request, schemes=_SCHEMES)
            if account_id is None or "authorization" in request.headers
            else None
        )
        return _Presented(token, account_id, request.client.host if request.client else None)

    def context(asking: Asking[_Presented], reader: Connection | None) -> LoyaltydishContext:
        # Without a reader: a known read, whose lookups open their own (a merchant's token
        # may be answered from the principal cache) and whose reads need no transaction.
        who = asking.credentials
        caller, principal = callers.of(who.token, who.account_id, who.client, reader)
        return LoyaltydishContext(
            db=patron.db,
            principal=principal,
            request_id=asking.request_id,
            _connection=reader,
            autocommit=reader is None,
            caller=caller,
            policy=callers.policy,
            client_address=who.client,
        )

    def cached_context(asking: Asking[_Presented]) -> LoyaltydishContext | None:
        # A merchant's known read whose API token this process looked up in the last second:
        # answered on the event loop, as the native API's are. Consumers and the public
        # always go through ``context``.
        who = asking.credentials
        if who.token is None or who.account_id is not None:
            return None
        if not who.token.startswith(TOKEN_PREFIX):
            return None
        made = patron.known_read_context(
            who.token,
            asking.request_id,
            LoyaltydishContext,
            caller=Caller.MERCHANT,
            policy=callers.policy,
            client_address=who.client,
        )
        assert made is None or isinstance(made, LoyaltydishContext)
        return made

    merchant = graphql_endpoint(
        patron,
        schema,
        credentials=lambda request: presented(request, None),
        context=context,
        fast_reads=schema.fast_reads,
        cached_context=cached_context if patron.settings.reads_on_event_loop else None,
        fast_writes=schema.fast_writes,
    )
    public = graphql_endpoint(
        patron,
        schema,
        credentials=lambda request: presented(request, str(request.path_params["account"])),
        context=context,
        fast_reads=schema.fast_reads,
        fast_writes=schema.fast_writes,
    )
    return [
        Route(MERCHANT_PATH, merchant, methods=["POST"]),
        Route(PUBLIC_PATH, public, methods=["POST"]),
    ]
