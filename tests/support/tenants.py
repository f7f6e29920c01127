"""Typed builders: tenants, contacts and funded wallets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.wallets import service as wallets
from patron.wallets.models import CreditEntry, EntryCommand


@dataclass(frozen=True)
class Tenant:
    uuid: str
    token: str
    principal: Principal

    def with_scope(self, db: Database, scope: str) -> Tenant:
        issued = accounts.create_token(db, account_uuid=self.uuid, scope=scope)
        return Tenant(self.uuid, issued.token, accounts.authenticate(db, issued.token))


def new_tenant(
    db: Database, *, name: str = "Test merchant", currency: str = "USD", points_precision: int = 0
) -> Tenant:
    account, issued = accounts.create_account(
        db, name=name, currency=currency, points_precision=points_precision
    )
    return Tenant(account.uuid, issued.token, accounts.authenticate(db, issued.token))


def make_contact(
    db: Database, tenant: Tenant, *, email: str | None = None, **profile: object
) -> customers.CreatedCustomer:
    values: dict[str, object] = {
        "email": email or f"c-{secrets.token_hex(6)}@example.com",
        **profile,
    }
    return customers.create_customer(db, tenant.principal, NewCustomer(profile=values))


def fund(
    db: Database, tenant: Tenant, wallet_uuid: str, amount: str | int, credit_type: str = "GLOBAL"
) -> CreditEntry:
    return wallets.post_entry(
        db,
        tenant.principal,
        EntryCommand(
            wallet_uuid=wallet_uuid,
            action="ADD",
            credit_type=credit_type,
            amount=Decimal(str(amount)),
        ),
    )
