"""LoyaltyDish consumers pages on the fast path answer the same bytes as the executor.

Both schemas run the same documents on the same store, as a merchant and as a consumer:
one with the plan-based fast path, one without. A document the full pipeline passed is
then answered again as a known document (straight from its plan), and must still be the
same.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from patron.api.compat.loyaltydish.context import Caller, LoyaltydishContext
from patron.api.compat.loyaltydish.schema import LoyaltydishSchema, build_schema
from patron.api.graphql.executor import execute
from patron.core.db import Database
from patron.core.settings import Settings
from patron.customers.consumers import service as consumers
from tests.support.loyaltydish import POLICY, Consumer, sign_up
from tests.support.tenants import Tenant, fund, make_contact, new_tenant
from tests.test_compat_loyaltydish import LIST_CUSTOMERS

NORMAL = build_schema(Settings(fast_reads=False))
FAST = build_schema(Settings(fast_reads=True))

PAGE = """query Page($first: Int, $after: String, $last: Int, $email: String) {
  consumers(first: $first, after: $after, last: $last, email_Icontains: $email) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { __typename id pk email firstname lastname phoneNumber birthday gender
      country city street zipCode address picture loyaltyId secondaryEmail extraInfo
      entitySource entitySourceId userType active archived verified deletedAt createdAt
      updatedAt pointsEarned } }
  }
}"""
BENCH = """query Consumers { consumers(first: 50) { edges { node { id firstname lastname email
  pointsEarned } cursor } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture(scope="module")
def shop(db: Database) -> tuple[Tenant, Consumer]:
    tenant = new_tenant(db, points_precision=2)
    for number in range(6):
        created = make_contact(
            db,
            tenant,
            email=f"ld-{number}@example.com",
            first_name=f"Jo{number}",
            last_name="Doe",
            city="Lyon" if number % 2 else None,
            country="FR",
            birthday=date(1990, 1 + number, 3),
            extra_info={"tier": number} if number % 3 == 0 else None,
        )
        fund(db, tenant, created.wallet_uuid, f"{number}5.75", "LOCAL")
    return tenant, sign_up(db, tenant, email="me@example.com", first_name="Me")


def _context(db: Database, tenant: Tenant, caller: Caller, token: str | None) -> LoyaltydishContext:
    if caller is Caller.CONSUMER:
        assert token is not None
        principal = consumers.authenticate(db, POLICY, token, account_id=None)
    else:
        principal = tenant.principal
    return LoyaltydishContext(
        db=db, principal=principal, request_id="differential", caller=caller, policy=POLICY
    )


def _body(
    schema: LoyaltydishSchema, context: LoyaltydishContext, query: str, variables: Any
) -> bytes:
    return orjson.dumps(execute(schema, context, query, variables, None))


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (LIST_CUSTOMERS.replace("lastLogin\n", ""), None),
        (BENCH, None),
        (PAGE, {"first": 3}),
        (PAGE, {"last": 2}),
        (PAGE, {"first": 50, "email": "ld-"}),
    ],
)
@pytest.mark.parametrize("caller", [Caller.MERCHANT, Caller.CONSUMER])
def test_consumers_pages_answer_the_same_bytes_on_both_paths(
    db: Database, shop: tuple[Tenant, Consumer], caller: Caller, query: str, variables: Any
) -> None:
    tenant, me = shop
    assert FAST.fast_reads is not None
    before = FAST.fast_reads.counts.answered

    normal = _body(NORMAL, _context(db, tenant, caller, me.token), query, variables)
    fast = _body(FAST, _context(db, tenant, caller, me.token), query, variables)
    known_context = _context(db, tenant, caller, me.token)
    known_context.autocommit = True
    try:
        data = FAST.fast_reads.answer_known(query, None, variables, known_context)
    finally:
        known_context.close()

    assert b'"errors"' not in normal
    assert fast == normal
    assert orjson.dumps({"data": data}) == normal
    assert FAST.fast_reads.counts.answered == before + 2


def test_a_page_after_a_cursor_is_the_same_on_both_paths(
    db: Database, shop: tuple[Tenant, Consumer]
) -> None:
    tenant, _me = shop
    first = orjson.loads(
        _body(NORMAL, _context(db, tenant, Caller.MERCHANT, None), PAGE, {"first": 2})
    )
    variables = {"first": 2, "after": first["data"]["consumers"]["pageInfo"]["endCursor"]}

    fast = _body(FAST, _context(db, tenant, Caller.MERCHANT, None), PAGE, variables)

    assert fast == _body(NORMAL, _context(db, tenant, Caller.MERCHANT, None), PAGE, variables)


@pytest.mark.parametrize("variables", [{"first": 500}, {"first": 2, "after": "bm9wZQ=="}])
def test_a_refused_page_is_left_to_the_executor(
    db: Database, shop: tuple[Tenant, Consumer], variables: Any
) -> None:
    tenant, _me = shop
    assert FAST.fast_reads is not None
    before = FAST.fast_reads.counts.fell_back

    normal = _body(NORMAL, _context(db, tenant, Caller.MERCHANT, None), PAGE, variables)
    fast = _body(FAST, _context(db, tenant, Caller.MERCHANT, None), PAGE, variables)

    assert b'"errors"' in normal
    assert fast == normal
    assert FAST.fast_reads.counts.fell_back == before + 1


def test_the_public_reads_nothing_on_either_path(
    db: Database, shop: tuple[Tenant, Consumer]
) -> None:
    tenant, _me = shop
    public = _context(db, tenant, Caller.PUBLIC, None)

    fast = _body(FAST, public, BENCH, None)

    assert fast == _body(NORMAL, _context(db, tenant, Caller.PUBLIC, None), BENCH, None)
    assert b'"errors"' in fast
