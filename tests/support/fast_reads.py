"""Both executors of the native API side by side: the plan-based fast path and the normal one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import event, update

from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.api.graphql.fastpath.extension import FastReadCounts
from patron.api.graphql.schema import PatronSchema, build_schema
from patron.core.db import Database
from patron.core.settings import Settings
from patron.customers import service as customers
from patron.customers.models import NewCustomer
from patron.wallets.tables import wallets as wallet_rows
from tests.support.clock import FrozenClock
from tests.support.holds import fund_until, make_code
from tests.support.tenants import Tenant, fund, new_tenant

NORMAL = build_schema(Settings(fast_reads=False))
FAST = build_schema(Settings(fast_reads=True))


@dataclass(frozen=True)
class Answers:
    normal: bytes
    fast: bytes
    outcome: str  # how the fast schema took it: answered, unsupported or fell_back
    # Sent again: a document the full pipeline passed is answered straight from its plan
    # (no parse, no validation, reads without a transaction); None when it was not.
    known: bytes | None = None


def counts(schema: PatronSchema) -> FastReadCounts:
    assert schema.fast_reads is not None
    return schema.fast_reads.counts


def outcome_of(before: FastReadCounts, after: FastReadCounts) -> str:
    for name in ("answered", "unsupported", "fell_back"):
        if getattr(after, name) != getattr(before, name):
            return name
    return "none"


def body(
    schema: PatronSchema,
    db: Database,
    tenant: Tenant,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> bytes:
    context = Context(db=db, principal=tenant.principal, request_id="differential")
    return orjson.dumps(execute(schema, context, query, variables, operation_name))


def both(
    db: Database,
    tenant: Tenant,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> Answers:
    normal = body(NORMAL, db, tenant, query, variables, operation_name)
    before = FastReadCounts(**vars(counts(FAST)))
    fast = body(FAST, db, tenant, query, variables, operation_name)
    outcome = outcome_of(before, counts(FAST))
    assert FAST.fast_reads is not None
    context = Context(db=db, principal=tenant.principal, request_id="known", autocommit=True)
    try:
        data = FAST.fast_reads.answer_known(query, operation_name, variables, context)
    finally:
        context.close()
    known = None if data is None else orjson.dumps({"data": data})
    return Answers(normal, fast, outcome, known)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


@dataclass(frozen=True)
class Shop:
    """A tenant whose contacts cover every shape the supported fields can take."""

    tenant: Tenant
    contact_uuids: list[str]
    full_email: str


def _full_profile() -> dict[str, object]:
    return {
        "email": "Ada.Full@Example.com",
        "name": "Ada Full",
        "first_name": "Ada",
        "last_name": "Full",
        "phone": "+15550001111",
        "secondary_email": "ada.other@example.com",
        "birthday": datetime(1990, 2, 28).date(),
        "gender": "FEMALE",
        "address_line1": "1 Main St",
        "address_line2": "Flat 2",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
        "loyalty_id": "L-1",
        "picture": "https://example.com/a.png",
        "extra_info": {"tier": "gold", "tags": ["a", "b"], "n": 1.5, "nested": {"x": None}},
        "source": "import",
        "source_id": "S-1",
        "notes": "line one\nline two \u00e9\u2603",
        "accepts_marketing": True,
        "verified": True,
    }


def make_shop(db: Database, *, currency: str, points_precision: int) -> Shop:
    tenant = new_tenant(
        db, name=f"Fast reads {currency}", currency=currency, points_precision=points_precision
    )
    full = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile=_full_profile(),
            identities={"SHOPIFY": "1001", "KLAVIYO": "K-1", "LIGHTSPEED": "LS-1"},
            connected_services=["KLAVIYO", "LIGHTSPEED"],
        ),
    )
    parts = customers.create_customer(
        db, tenant.principal, NewCustomer(profile={"first_name": "Bo", "last_name": "Parts"})
    )
    bare = customers.create_customer(
        db, tenant.principal, NewCustomer(profile={"email": "bare@example.com"})
    )
    more = [
        customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={"email": f"m{number}@example.com", "gender": "OTHER"},
                identities={"SHOPIFY": str(2000 + number)},
            ),
        )
        for number in range(5)
    ]
    _fund_full(db, tenant, full.wallet_uuid)
    fund(db, tenant, more[0].wallet_uuid, "1.5")
    fund(db, tenant, more[0].wallet_uuid, "12", "LOCAL")
    make_code(db, tenant, more[0].wallet_uuid, "0.5")
    uuids = [c.customer.uuid for c in (full, parts, bare, *more)]
    return Shop(tenant, uuids, "ada.full@example.com")


def _fund_full(db: Database, tenant: Tenant, wallet_uuid: str) -> None:
    """Held, expired-but-unswept and expiring credit, so available and raw balances differ."""
    fund(db, tenant, wallet_uuid, "25")
    fund(db, tenant, wallet_uuid, "700", "LOCAL")
    make_code(db, tenant, wallet_uuid, "5")
    make_code(db, tenant, wallet_uuid, "100", "LOCAL")
    fund_until(db, tenant, wallet_uuid, "3", datetime.now(UTC) + timedelta(days=30))
    with pytest.MonkeyPatch.context() as patch:
        clock = FrozenClock(patch, start=datetime.now(UTC) - timedelta(days=2))
        fund_until(db, tenant, wallet_uuid, "4", clock.later(hours=1))
        fund_until(db, tenant, wallet_uuid, "40", clock.later(hours=1), "LOCAL")
    with db.write() as writer:
        writer.execute(
            update(wallet_rows)
            .where(wallet_rows.c.account_id == tenant.uuid, wallet_rows.c.uuid == wallet_uuid)
            .values(
                shopify_balance=1234, shopify_synced_at=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
            )
        )
