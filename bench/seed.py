"""Accounts, contacts and funded wallets, made through the service layer (not measured)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from bench.server import patron_json
from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.wallets import service as wallets
from patron.wallets.models import EntryCommand

T = TypeVar("T")
R = TypeVar("R")

WALLET_GLOBAL = Decimal("1000.00")
WALLET_LOCAL = Decimal("1000")
HOT_GLOBAL = Decimal("1000000.00")


@dataclass(frozen=True)
class Tenant:
    uuid: str
    token: str
    principal: Principal


@dataclass(frozen=True)
class Seeded:
    contact_uuid: str
    wallet_uuid: str
    number: int = 0


def create_tenant(db: Database, database_url: str, name: str) -> Tenant:
    """``patron account create``, as a merchant would run it, then its principal."""
    created = patron_json("account", "create", "--name", name, "--database", database_url)
    return Tenant(created["uuid"], created["token"], accounts.authenticate(db, created["token"]))


def _map(work: Callable[[T], R], items: Iterable[T], threads: int) -> list[R]:
    if threads <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads, thread_name_prefix="seed") as pool:
        return list(pool.map(work, items))


def create_contacts(
    db: Database, tenant: Tenant, count: int, *, tag: str, threads: int, shopify_base: int
) -> list[Seeded]:
    """``count`` contacts like seed 000's: name, email, phone and a Shopify id each."""

    def create(number: int) -> Seeded:
        created = customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={
                    "email": f"{tag}-{number}@example.com",
                    "name": f"Seeded Contact {number}",
                    "phone": f"+1415555{number % 10000:04d}",
                },
                identities={"SHOPIFY": str(shopify_base + number)},
            ),
        )
        return Seeded(created.customer.uuid, created.wallet_uuid, created.customer.number)

    return _map(create, range(count), threads)


def fund(
    db: Database,
    tenant: Tenant,
    wallet_uuids: Sequence[str],
    *,
    threads: int,
    global_amount: Decimal = WALLET_GLOBAL,
    local_amount: Decimal | None = WALLET_LOCAL,
) -> None:
    """An ADD of GLOBAL (and LOCAL) credit on each wallet."""

    def add(wallet_uuid: str) -> None:
        for credit_type, amount in (("GLOBAL", global_amount), ("LOCAL", local_amount)):
            if amount is None:
                continue
            wallets.post_entry(
                db,
                tenant.principal,
                EntryCommand(
                    wallet_uuid=wallet_uuid,
                    action="ADD",
                    credit_type=credit_type,
                    amount=amount,
                    note="bench funding",
                ),
            )

    _map(add, wallet_uuids, threads)


class Progress:
    """One line per step with its rate: seeding is not measured but should not be a mystery."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say

    def step(self, what: str, count: int, work: Callable[[], T]) -> T:
        started = time.monotonic()
        result = work()
        elapsed = time.monotonic() - started
        self._say(f"{what}: {count:,} in {elapsed:.1f} s ({count / max(elapsed, 1e-9):,.0f}/s)")
        return result
