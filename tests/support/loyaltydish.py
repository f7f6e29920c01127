"""Builders and a client for the loyaltydish dialect: consumers with passwords, their tokens."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Table, select, update

from patron.accounts.tables import accounts
from patron.core.db import Database
from patron.core.events import audit_events, outbox_events
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import Registration, Session, TokenPolicy
from patron.customers.consumers.tables import (
    consumer_login_failures,
    consumer_profiles,
    consumer_refresh_tokens,
)
from patron.customers.tables import customers
from patron.orders.stamps.tables import order_stamps, stamp_cards
from patron.wallets.tables import credit_entries, wallets
from tests.support.client import Api
from tests.support.tenants import Tenant

MERCHANT_PATH = "/compat/loyaltydish/graphql"
PASSWORD = "Correct-Horse-Battery-9"
# The test server runs in development without PATRON_JWT_SECRET: a key per account, in the store.
POLICY = TokenPolicy(secret=None)

TABLES: tuple[Table, ...] = (
    customers,
    wallets,
    credit_entries,
    consumer_profiles,
    consumer_refresh_tokens,
    stamp_cards,
    order_stamps,
    outbox_events,
    audit_events,
)


def public_path(account_uuid: str) -> str:
    return f"/compat/loyaltydish/{account_uuid}/graphql"


@dataclass(frozen=True)
class Consumer:
    uuid: str
    number: int
    email: str
    token: str
    refresh_token: str


def sign_up(
    db: Database,
    tenant: Tenant,
    *,
    email: str | None = None,
    first_name: str = "John",
    last_name: str = "Doe",
    **fields: Any,
) -> Consumer:
    """A consumer signed up through the core, with its first session."""
    address = email or f"consumer-{secrets.token_hex(5)}@example.com"
    session: Session = consumers.register(
        db,
        POLICY,
        tenant.uuid,
        Registration(
            email=address,
            password=PASSWORD,
            password_confirmation=PASSWORD,
            first_name=first_name,
            last_name=last_name,
            **fields,
        ),
        caller=None,
    )
    return Consumer(
        uuid=session.customer.uuid,
        number=session.customer.number,
        email=address,
        token=session.access_token,
        refresh_token=session.refresh_token,
    )


def number_from(db: Database, tenant: Tenant, number: int) -> None:
    """The account's next customer gets ``number`` (as in an account with a longer history)."""
    with db.write() as connection:
        connection.execute(
            update(accounts)
            .where(accounts.c.account_id == tenant.uuid)
            .values(next_customer_number=number - 1)
        )


def snapshot(db: Database, account_uuid: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the account in the tables the dialect's commands touch."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table in (*TABLES, consumer_login_failures):
            rows = connection.execute(select(table).where(table.c.account_id == account_uuid))
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def changes_of(db: Database, account_uuid: str) -> dict[str, list[tuple[Any, ...]]]:
    """As ``snapshot``, without the failed-login counters (which a refusal may bump)."""
    found = snapshot(db, account_uuid)
    found.pop(consumer_login_failures.name)
    return found


class LoyaltyDish:
    """Requests to the dialect: ``token`` is sent as ``Authorization: JWT <token>``."""

    def __init__(self, api: Api) -> None:
        self.http: httpx.Client = api.http

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        scheme: str = "JWT",
        path: str = MERCHANT_PATH,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
        return self.http.post(path, json=body, headers=headers)

    def body(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response = self.post(*args, **kwargs)
        assert response.status_code == 200, (response.status_code, response.text)
        decoded: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
        return decoded

    def data(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        body = self.body(*args, **kwargs)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result
