"""The Lightfunnels customers page on the fast path answers the same bytes as the executor.

Both schemas run the same documents on the same store: one with the plan-based fast path,
one without. A document the full pipeline passed is then answered again as a known
document (straight from its plan), and must still be the same.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from patron.api.compat.lightfunnels.schema import LightfunnelsSchema, build_schema
from patron.api.graphql.context import Context
from patron.api.graphql.executor import execute
from patron.core.db import Database
from patron.core.settings import Settings
from tests.support.clock import FrozenClock
from tests.support.orders import record
from tests.support.tenants import Tenant, make_contact, new_tenant
from tests.test_compat_lightfunnels import CUSTOMERS_QUERY

NORMAL = build_schema(Settings(fast_reads=False))
FAST = build_schema(Settings(fast_reads=True))

PAGE = """query Page($q: String!, $first: PageSize, $after: String) {
  customers(query: $q, first: $first, after: $after) {
    edges { cursor node { __typename id _id email phone first_name last_name full_name avatar
      accepts_marketing notes location expenses orders_count
      created_at updated_at iso: created_at(format: "iso") day: updated_at(format: "YYYY-MM-DD") } }
    pageInfo { endCursor hasNextPage startCursor hasPreviousPage }
  }
}"""
FRAGMENTS = """query { customers(query: "order_by:email", first: 3) {
  edges { node { ...on Node { id } ...Who } } pageInfo { hasNextPage } } }
fragment Who on Customer { _id full_name email }"""


@pytest.fixture(scope="module")
def shop(db: Database) -> Tenant:
    tenant = new_tenant(db)
    for number in range(7):
        created = make_contact(
            db,
            tenant,
            email=f"lf-{number}@example.com",
            first_name=f"Ann{number}",
            last_name="Lee" if number % 2 else None,
            city="Oslo" if number % 3 else None,
            country="NO",
            phone=f"+4791234{number:03d}",
        )
        if number % 2:
            record(db, tenant, f"{number}.50", customer=created.customer.uuid)
    return tenant


def _body(
    schema: LightfunnelsSchema, db: Database, tenant: Tenant, query: str, variables: Any
) -> bytes:
    context = Context(db=db, principal=tenant.principal, request_id="differential")
    return orjson.dumps(execute(schema, context, query, variables, None))


def _known(db: Database, tenant: Tenant, query: str, variables: Any) -> bytes | None:
    assert FAST.fast_reads is not None
    context = Context(db=db, principal=tenant.principal, request_id="known", autocommit=True)
    try:
        data = FAST.fast_reads.answer_known(query, None, variables, context)
    finally:
        context.close()
    return None if data is None else orjson.dumps({"data": data})


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (CUSTOMERS_QUERY, None),
        (PAGE, {"q": "order_by:id order_dir:desc", "first": 3}),
        (PAGE, {"q": "order_by:created_at order_dir:asc", "first": "2"}),
        (PAGE, {"q": "ann", "first": 50}),
        (PAGE, {"q": "city:oslo order_by:full_name", "first": 10}),
        (FRAGMENTS, None),
    ],
)
def test_the_customers_page_answers_the_same_bytes_on_both_paths(
    db: Database,
    shop: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    variables: Any,
) -> None:
    FrozenClock(monkeypatch)  # relative times ("an hour ago") alike on both paths
    assert FAST.fast_reads is not None
    before = FAST.fast_reads.counts.answered

    normal = _body(NORMAL, db, shop, query, variables)
    fast = _body(FAST, db, shop, query, variables)
    known = _known(db, shop, query, variables)

    assert b'"errors"' not in normal
    assert fast == normal
    assert known == normal
    assert FAST.fast_reads.counts.answered == before + 2


def test_a_next_page_by_cursor_is_the_same_on_both_paths(db: Database, shop: Tenant) -> None:
    first = orjson.loads(_body(NORMAL, db, shop, PAGE, {"q": "order_by:email", "first": 2}))
    after = first["data"]["customers"]["pageInfo"]["endCursor"]
    variables = {"q": "order_by:email", "first": 2, "after": after}

    assert _body(FAST, db, shop, PAGE, variables) == _body(NORMAL, db, shop, PAGE, variables)


@pytest.mark.parametrize(
    "variables",
    [
        {"q": "order_by:nope", "first": 2},
        {"q": "", "first": 900},
        {"q": "", "first": 2, "after": "bm90IGEgY3Vyc29y"},
    ],
)
def test_a_refused_page_is_left_to_the_executor_and_answered_the_same(
    db: Database, shop: Tenant, variables: Any
) -> None:
    assert FAST.fast_reads is not None
    before = FAST.fast_reads.counts.fell_back

    normal = _body(NORMAL, db, shop, PAGE, variables)
    fast = _body(FAST, db, shop, PAGE, variables)

    assert b'"errors"' in normal
    assert fast == normal
    assert FAST.fast_reads.counts.fell_back == before + 1
    assert _known(db, shop, PAGE, variables) is None


def test_other_fields_take_the_normal_path(db: Database, shop: Tenant) -> None:
    query = '{ node(id: "Q3VzdG9tZXI6MQ==") { id } }'
    assert FAST.fast_reads is not None
    before = FAST.fast_reads.counts.unsupported

    assert _body(FAST, db, shop, query, None) == _body(NORMAL, db, shop, query, None)
    assert FAST.fast_reads.counts.unsupported == before + 1
