"""The Lightfunnels dialect (seed 003) at ``POST /compat/lightfunnels/api/v2``, on both stores."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, update

from patron.api.compat.lightfunnels.schema import printed_schema
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.customers.tables import customers
from patron.orders.models import CustomerOrderStats
from patron.orders.service import order_stats_for_customers
from patron.orders.tables import orders
from tests.support.client import Api
from tests.support.contact_persons import snapshot
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, make_contact

PATH = "/compat/lightfunnels/api/v2"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "lightfunnels.graphql"

# The seed's requests, verbatim (the field selections stand in for "# Customer type fields").
CUSTOMERS_QUERY = """query CustomersQuery($first: Int, $after: String, $query: String!){
	customers(query: "order_by:id order_dir:desc", after: "WzVE4OTA5LDEe/4OTA5XQ==", first: 10){
		edges{
			node{
				id
				_id
				avatar
				full_name
				expenses
				orders_count
				updated_at
				created_at
			}
			cursor
		}
		pageInfo{
			endCursor
			hasNextPage
		}
	}
}"""
CUSTOMER_FIELDS = """
				id
				_id
				avatar
				full_name
				email
				phone
				first_name
				last_name
				accepts_marketing
				notes
				location
				expenses
				orders_count
				created_at
				updated_at
"""
CREATE_CUSTOMER = (
    """mutation mutationName($node: InputCustomer!) {
	createCustomer(node: $node){"""
    + CUSTOMER_FIELDS
    + """	}
}"""
)
CUSTOMER_QUERY = (
    """	query CustomerQuery($id: ID!){
		node(id: $id){
			... on Customer{"""
    + CUSTOMER_FIELDS
    + """			}
		}
	}"""
)
UPDATE_CUSTOMER = (
    """mutation updateCustomerMutation($node: InputUpdateCustomer!, $id: ID!){
		updateCustomer(node: $node, id: $id){"""
    + CUSTOMER_FIELDS
    + """		}
	}"""
)
PAGE = """query Page($query: String!, $first: Int, $after: String){
  customers(query: $query, first: $first, after: $after){
    edges{ node{ _id full_name email } cursor }
    pageInfo{ endCursor hasNextPage }
  }
}"""


def global_id(number: int) -> str:
    return base64.b64encode(f"Customer:{number}".encode()).decode()


def gravatar(email: str) -> str:
    return "//www.gravatar.com/avatar/" + hashlib.md5(email.encode()).hexdigest()


def lf(api: Api, query: str, variables: dict[str, Any] | None = None, *, token: str) -> Any:
    return api.graphql(query, variables, token=token, path=PATH)


def lf_data(api: Api, query: str, variables: dict[str, Any] | None = None, *, token: str) -> Any:
    return api.data(query, variables, token=token, path=PATH)


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" in body, body
    error: dict[str, Any] = body["errors"][0]
    return error


def numbers(page: dict[str, Any]) -> list[int]:
    return [edge["node"]["_id"] for edge in page["customers"]["edges"]]


def add_order(
    db: Database,
    tenant: Tenant,
    customer_uuid: str,
    number: int,
    total: int,
    *,
    status: str = "COMPLETED",
    refunded: int = 0,
) -> None:
    now = utcnow()
    with db.write() as connection:
        connection.execute(
            insert(orders).values(
                account_id=tenant.uuid,
                uuid=str(uuid.uuid4()),
                number=number,
                store_key="",
                external_id=f"order-{number}",
                customer_uuid=customer_uuid,
                total=total,
                currency="USD",
                status=status,
                completed_at=now if status == "COMPLETED" else None,
                refunded=refunded,
                created_at=now,
                updated_at=now,
            )
        )


# --- seed requests, verbatim -------------------------------------------------------------


def test_customers_query_runs_verbatim_without_variables(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = [
        make_contact(db, tenant, email=f"p{i}@example.com", first_name=f"Yassir{i}", last_name="E")
        for i in range(12)
    ]

    body = lf(api, CUSTOMERS_QUERY, token=tenant.token)

    assert "errors" not in body
    page = body["data"]["customers"]
    assert [edge["node"]["_id"] for edge in page["edges"]] == list(range(12, 2, -1))
    newest = made[-1].customer
    assert page["edges"][0] == {
        "node": {
            "id": global_id(newest.number),
            "_id": newest.number,
            "avatar": gravatar("p11@example.com"),
            "full_name": "Yassir11 E",
            "expenses": Decimal("0.00"),
            "orders_count": 0,
            "updated_at": "a few seconds ago",
            "created_at": "a few seconds ago",
        },
        "cursor": base64.b64encode(b"[12,12]").decode(),
    }
    assert page["pageInfo"] == {
        "endCursor": base64.b64encode(b"[3,3]").decode(),
        "hasNextPage": True,
    }


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 10, "after": None, "query": "order_by:id order_dir:asc"},
        {"first": "10", "after": "not even a cursor", "query": ""},
        {"first": 10},
        {"query": "x"},
    ],
)
def test_customers_query_runs_verbatim_with_variables(
    api: Api, db: Database, tenant: Tenant, variables: dict[str, Any]
) -> None:
    for _ in range(3):
        make_contact(db, tenant)

    page = lf_data(api, CUSTOMERS_QUERY, variables, token=tenant.token)

    # The operation uses literals: the variables' values change nothing.
    assert numbers(page) == [3, 2, 1]
    assert page["customers"]["pageInfo"]["hasNextPage"] is False


def test_create_customer_runs_verbatim(api: Api, db: Database, tenant: Tenant) -> None:
    node = {
        "email": "yassir@example.com",
        "first_name": "Yassir",
        "last_name": "Ennazk",
        "phone": "+212600000000",
        "accepts_marketing": True,
        "notes": "met at the fair",
    }

    created = lf_data(api, CREATE_CUSTOMER, {"node": node}, token=tenant.token)["createCustomer"]

    assert created == {
        "id": global_id(1),
        "_id": 1,
        "avatar": gravatar("yassir@example.com"),
        "full_name": "Yassir Ennazk",
        "email": "yassir@example.com",
        "phone": "+212600000000",
        "first_name": "Yassir",
        "last_name": "Ennazk",
        "accepts_marketing": True,
        "notes": "met at the fair",
        "location": None,
        "expenses": Decimal("0.00"),
        "orders_count": 0,
        "created_at": "a few seconds ago",
        "updated_at": "a few seconds ago",
    }
    fetched = lf_data(api, CUSTOMER_QUERY, {"id": created["id"]}, token=tenant.token)
    assert fetched == {"node": created}


def test_create_customer_treats_empty_strings_as_absent(api: Api, tenant: Tenant) -> None:
    node = {"email": "", "first_name": "Ana", "last_name": "", "phone": "", "notes": ""}

    created = lf_data(api, CREATE_CUSTOMER, {"node": node}, token=tenant.token)["createCustomer"]

    assert (created["email"], created["phone"], created["full_name"], created["last_name"]) == (
        None,
        None,
        "Ana",
        None,
    )
    assert created["avatar"] == gravatar("")


def test_customer_query_runs_verbatim(api: Api, db: Database, tenant: Tenant) -> None:
    made = make_contact(
        db, tenant, email="Mia@Example.com", name="Mia Wong", city="Rabat", country="MA"
    ).customer
    add_order(db, tenant, made.uuid, 1, 12_345)

    node = lf_data(api, CUSTOMER_QUERY, {"id": global_id(made.number)}, token=tenant.token)["node"]

    assert node["_id"] == made.number
    assert node["full_name"] == "Mia Wong"
    assert node["avatar"] == gravatar("mia@example.com")
    assert node["location"] == "Rabat, MA"
    assert (node["expenses"], node["orders_count"]) == (Decimal("123.45"), 1)


def test_update_customer_runs_verbatim_and_changes_only_what_is_given(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = make_contact(
        db, tenant, email="a@example.com", first_name="Ann", last_name="Lee", notes="old"
    ).customer

    updated = lf_data(
        api,
        UPDATE_CUSTOMER,
        {"id": global_id(made.number), "node": {"first_name": "Anne", "notes": ""}},
        token=tenant.token,
    )["updateCustomer"]

    assert (updated["first_name"], updated["last_name"], updated["email"]) == (
        "Anne",
        "Lee",
        "a@example.com",
    )
    assert updated["notes"] is None
    assert updated["full_name"] == "Anne Lee"


# --- the four callers ----------------------------------------------------------------------


def test_no_token_is_refused_on_every_operation(api: Api, db: Database, tenant: Tenant) -> None:
    made = make_contact(db, tenant).customer
    before = snapshot(db, tenant.uuid)
    requests = [
        (CUSTOMERS_QUERY, None),
        (CUSTOMER_QUERY, {"id": global_id(made.number)}),
        (CREATE_CUSTOMER, {"node": {"email": "x@example.com"}}),
        (UPDATE_CUSTOMER, {"id": global_id(made.number), "node": {"notes": "x"}}),
    ]

    for query, variables in requests:
        for headers in ({}, {"Authorization": "Bearer patron_nope"}, {"Authorization": "Basic x"}):
            response = api.http.post(
                PATH, json={"query": query, "variables": variables}, headers=headers
            )
            assert response.status_code == 401, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert snapshot(db, tenant.uuid) == before


def test_another_accounts_token_sees_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    made = make_contact(db, tenant, email="mine@example.com").customer
    make_contact(db, other_tenant, email="theirs@example.com")
    make_contact(db, other_tenant, email="theirs2@example.com")
    before = snapshot(db, tenant.uuid)

    listed = lf_data(api, PAGE, {"query": "", "first": 50}, token=other_tenant.token)
    searched = lf_data(api, PAGE, {"query": "mine"}, token=other_tenant.token)
    # Numbers are per account: their customer 1 is not ours.
    node = lf_data(api, CUSTOMER_QUERY, {"id": global_id(3)}, token=other_tenant.token)
    updated = lf(
        api,
        UPDATE_CUSTOMER,
        {"id": global_id(3), "node": {"notes": "x"}},
        token=other_tenant.token,
    )

    assert [edge["node"]["email"] for edge in listed["customers"]["edges"]] == [
        "theirs2@example.com",
        "theirs@example.com",
    ]
    assert searched["customers"]["edges"] == []
    assert node == {"node": None}
    assert error_of(updated)["extensions"]["code"] == "NOT_FOUND"
    assert made.number == 1
    assert snapshot(db, tenant.uuid) == before


def test_read_only_token_reads_but_cannot_write(api: Api, db: Database, tenant: Tenant) -> None:
    made = make_contact(db, tenant).customer
    reader = tenant.with_scope(db, "read")
    before = snapshot(db, tenant.uuid)

    listed = lf_data(api, CUSTOMERS_QUERY, token=reader.token)
    node = lf_data(api, CUSTOMER_QUERY, {"id": global_id(made.number)}, token=reader.token)
    created = lf(api, CREATE_CUSTOMER, {"node": {"email": "n@example.com"}}, token=reader.token)
    updated = lf(
        api,
        UPDATE_CUSTOMER,
        {"id": global_id(made.number), "node": {"notes": "x"}},
        token=reader.token,
    )

    assert numbers(listed) == [made.number]
    assert node["node"]["_id"] == made.number
    assert error_of(created)["extensions"]["code"] == "FORBIDDEN"
    assert error_of(updated)["extensions"]["code"] == "FORBIDDEN"
    assert created["data"] is None
    assert snapshot(db, tenant.uuid) == before


# --- bad input: clear errors, nothing changed, never a 500 ----------------------------------


@pytest.mark.parametrize(
    ("variables", "field", "message"),
    [
        ({"query": "order_by:age"}, "query", "order_by:age is not supported"),
        ({"query": "order_dir:sideways"}, "query", "order_dir:sideways must be asc or desc"),
        ({"query": "colour:red"}, "query", "cannot search by 'colour'"),
        ({"query": "_id:abc"}, "query", "_id:abc must be a number"),
        ({"query": "", "after": "%%%"}, "after", "is not a cursor of this list"),
        ({"query": "", "after": base64.b64encode(b"[1]").decode()}, "after", "not a cursor"),
        (
            {"query": "order_by:created_at", "after": base64.b64encode(b"[1,1]").decode()},
            "after",
            "does not belong to a list ordered by created_at",
        ),
        ({"query": "", "first": 251}, "first", "first must be between 1 and 250, got 251"),
        ({"query": "", "first": 0}, "first", "first must be between 1 and 250, got 0"),
        ({"query": "x" * 1001}, "query", "query must be at most 1000 characters"),
    ],
)
def test_bad_list_arguments_are_clear_errors(
    api: Api, tenant: Tenant, variables: dict[str, Any], field: str, message: str
) -> None:
    body = lf(api, PAGE, variables, token=tenant.token)

    error = error_of(body)
    assert message in error["message"]
    assert error["extensions"]["field"] == field
    assert body["data"] is None


@pytest.mark.parametrize("first", ["ten", "1.5", True])
def test_a_page_size_that_is_not_a_number_is_refused(
    api: Api, tenant: Tenant, first: object
) -> None:
    body = lf(api, PAGE, {"query": "", "first": first}, token=tenant.token)

    assert "first must be a whole number" in error_of(body)["message"]


@pytest.mark.parametrize(
    "bad_id",
    ["nope", base64.b64encode(b"Order:1").decode(), base64.b64encode(b"Customer:x").decode()],
)
def test_bad_ids_are_clear_errors_and_change_nothing(
    api: Api, db: Database, tenant: Tenant, bad_id: str
) -> None:
    make_contact(db, tenant)
    before = snapshot(db, tenant.uuid)

    fetched = lf(api, CUSTOMER_QUERY, {"id": bad_id}, token=tenant.token)
    updated = lf(api, UPDATE_CUSTOMER, {"id": bad_id, "node": {"notes": "x"}}, token=tenant.token)

    for body in (fetched, updated):
        assert error_of(body)["message"] == f"id '{bad_id}' is not a Customer id"
        assert error_of(body)["extensions"] == {"code": "INVALID", "field": "id"}
    assert snapshot(db, tenant.uuid) == before


def test_invalid_email_is_refused_on_create_and_update(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = make_contact(db, tenant, email="kept@example.com").customer
    before = snapshot(db, tenant.uuid)

    created = lf(api, CREATE_CUSTOMER, {"node": {"email": "not-an-email"}}, token=tenant.token)
    updated = lf(
        api,
        UPDATE_CUSTOMER,
        {"id": global_id(made.number), "node": {"email": "still@wrong@"}},
        token=tenant.token,
    )
    missing = lf(
        api, UPDATE_CUSTOMER, {"id": global_id(99), "node": {"notes": "x"}}, token=tenant.token
    )

    assert error_of(created)["extensions"] == {"code": "INVALID", "field": "email"}
    assert "not-an-email" in error_of(created)["message"]
    assert error_of(updated)["extensions"] == {"code": "INVALID", "field": "email"}
    assert error_of(missing)["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    assert snapshot(db, tenant.uuid) == before


def test_bad_requests_are_client_errors_not_500(api: Api, tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {tenant.token}"}
    wrong_operation = api.http.post(
        PATH, json={"query": CUSTOMERS_QUERY, "operationName": "Other"}, headers=headers
    )
    not_json = api.http.post(PATH, content=b"{nope", headers=headers)
    unknown_field = lf(
        api, '{ customers(query: "") { edges { node { age } } } }', token=tenant.token
    )

    assert wrong_operation.status_code == 400
    assert not_json.status_code == 400
    assert error_of(unknown_field)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_query_limits_apply_and_repeat_requests_stay_answered(api: Api, tenant: Tenant) -> None:
    aliases = " ".join(f"a{index}: _id" for index in range(60))
    query = '{ customers(query: "") { edges { node { ' + aliases + " } } } }"

    first = lf(api, query, token=tenant.token)
    second = lf(api, query, token=tenant.token)

    assert first == second
    assert "aliases" in error_of(first)["message"].lower()


# --- the leniency is this dialect's, and only for unused variables ------------------------


def test_variables_still_validated_when_used(api: Api, tenant: Tenant) -> None:
    missing = lf(api, PAGE, {}, token=tenant.token)
    wrong_type = lf(
        api,
        'query($q: Boolean){ customers(query: "", first: $q){ edges { cursor } } }',
        token=tenant.token,
    )

    assert "$query" in error_of(missing)["message"]
    assert "PageSize" in error_of(wrong_type)["message"]


def test_native_api_keeps_standard_validation(api: Api, tenant: Tenant) -> None:
    body = api.graphql(
        "query Q($first: Int, $query: String!){ account { uuid } }", token=tenant.token
    )

    assert "errors" in body


@pytest.mark.parametrize(
    ("declaration", "value"),
    [("Int", 2), ("Int", "2"), ("String", "2"), ("Int!", 2), ("String", 2)],
)
def test_first_takes_an_int_or_a_numeric_string(
    api: Api, db: Database, tenant: Tenant, declaration: str, value: object
) -> None:
    for _ in range(3):
        make_contact(db, tenant)
    query = (
        f'query($first: {declaration}){{ customers(query: "", first: $first)'
        "{ edges { node { _id } } } }"
    )

    literal = lf_data(
        api, '{ customers(query: "", first: "2"){ edges { node { _id } } } }', token=tenant.token
    )
    variable = lf_data(api, query, {"first": value}, token=tenant.token)

    assert numbers(literal) == numbers(variable) == [3, 2]


# --- query strings, ordering and pages -------------------------------------------------------


def test_default_page_is_25_newest_first(api: Api, db: Database, tenant: Tenant) -> None:
    for _ in range(27):
        make_contact(db, tenant)

    page = lf_data(api, PAGE, {"query": ""}, token=tenant.token)

    assert numbers(page) == list(range(27, 2, -1))
    assert page["customers"]["pageInfo"]["hasNextPage"] is True


def test_query_string_orders_and_searches(api: Api, db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant, email="zed@example.com", first_name="Zed", last_name="Alpha")
    make_contact(
        db,
        tenant,
        email="amy@shopmail.org",
        first_name="Amy",
        last_name="Beta",
        phone="+14155550100",
    )
    make_contact(db, tenant, email="bob@example.com", name="Bob Gamma", accepts_marketing=True)
    make_contact(db, tenant, email="cat@example.com", first_name="Cat", notes='Likes "tea" 100%')

    def found(text: str) -> list[int]:
        return numbers(lf_data(api, PAGE, {"query": text}, token=tenant.token))

    assert found("order_by:id order_dir:asc") == [1, 2, 3, 4]
    assert found("order_by:full_name order_dir:asc") == [2, 3, 4, 1]
    assert found("order_by:email order_dir:desc") == [1, 4, 3, 2]
    assert found("order_by:first_name") == [1, 4, 2, 3]
    assert found("order_by:created_at order_dir:asc") == [1, 2, 3, 4]
    assert found("example order_by:id order_dir:asc") == [1, 3, 4]
    assert found("AMY") == [2]
    assert found("4155550100") == [2]
    assert found("email:shopmail") == [2]
    assert found('full_name:"bob gamma"') == [3]
    assert found("last_name:alpha") == [1]
    assert found("accepts_marketing:true") == [3]
    assert found("notes:100%") == [4]
    assert found("notes:1_0") == []
    assert found("_id:2") == [2]
    assert found(f"id:{global_id(4)}") == [4]
    assert found("example zed") == [1]
    assert found("nobody") == []


@pytest.mark.parametrize(
    "query",
    [
        "order_by:id order_dir:asc",
        "order_by:id order_dir:desc",
        "order_by:full_name order_dir:asc",
        "order_by:email order_dir:desc",
        "order_by:created_at order_dir:asc",
        "order_by:updated_at order_dir:desc",
        "order_by:last_name order_dir:asc",
    ],
)
def test_keyset_pages_tile_the_list_while_rows_are_inserted(
    api: Api, db: Database, tenant: Tenant, query: str
) -> None:
    # Few distinct last names and duplicated full names: ties are broken by the number.
    original = {
        make_contact(
            db,
            tenant,
            email=f"m{i:02d}@example.com",
            first_name=f"N{i % 4}",
            last_name=f"L{i % 3}",
        ).customer.number
        for i in range(11)
    }
    seen: list[int] = []
    after: str | None = None
    for round_ in range(20):
        page = lf_data(api, PAGE, {"query": query, "first": 3, "after": after}, token=tenant.token)
        seen += numbers(page)
        # Rows created between two requests land before or after the cursor, never on it.
        make_contact(db, tenant, email=f"new{round_}@example.com", first_name="N1", last_name="L1")
        if not page["customers"]["pageInfo"]["hasNextPage"]:
            break
        after = page["customers"]["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen))
    assert original <= set(seen)


def test_cursors_are_base64_json_positions(api: Api, db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant, email="b@example.com")
    make_contact(db, tenant, email="a@example.com")

    page = lf_data(api, PAGE, {"query": "order_by:email order_dir:asc"}, token=tenant.token)

    cursors = [json.loads(base64.b64decode(edge["cursor"])) for edge in page["customers"]["edges"]]
    assert cursors == [["a@example.com", 2], ["b@example.com", 1]]


def test_empty_list_has_no_cursors(api: Api, tenant: Tenant) -> None:
    page = lf_data(api, PAGE, {"query": ""}, token=tenant.token)

    assert page == {
        "customers": {"edges": [], "pageInfo": {"endCursor": None, "hasNextPage": False}}
    }


# --- timestamps, expenses ----------------------------------------------------------------------


def test_timestamps_are_relative_unless_a_format_is_given(
    api: Api, db: Database, tenant: Tenant
) -> None:
    made = make_contact(db, tenant).customer
    created = utcnow().replace(microsecond=0) - timedelta(minutes=70)
    with db.write() as connection:
        connection.execute(
            update(customers)
            .where(customers.c.account_id == tenant.uuid, customers.c.uuid == made.uuid)
            .values(created_at=created, updated_at=created + timedelta(minutes=65))
        )
    query = """query($id: ID!){ node(id: $id){ ... on Customer {
        relative: created_at
        iso: created_at(format: "iso")
        day: created_at(format: "YYYY-MM-DD [at] HH:mm")
        updated: updated_at
    } } }"""

    node = lf_data(api, query, {"id": global_id(made.number)}, token=tenant.token)["node"]

    assert node == {
        "relative": "an hour ago",
        "iso": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "day": created.strftime("%Y-%m-%d at %H:%M"),
        "updated": "5 minutes ago",
    }


def test_expenses_and_orders_count_come_from_completed_orders(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    buyer = make_contact(db, tenant).customer
    browser = make_contact(db, tenant).customer
    add_order(db, tenant, buyer.uuid, 1, 10_000)
    add_order(db, tenant, buyer.uuid, 2, 2_550, refunded=550)
    add_order(db, tenant, buyer.uuid, 3, 999, status="PENDING")
    add_order(db, tenant, buyer.uuid, 4, 777, status="CANCELLED")
    theirs = make_contact(db, other_tenant).customer
    add_order(db, other_tenant, theirs.uuid, 1, 5_000)

    page = lf_data(
        api,
        '{ customers(query: "order_by:id order_dir:asc") '
        "{ edges { node { _id expenses orders_count } } } }",
        token=tenant.token,
    )
    with db.read() as connection:
        totals = order_stats_for_customers(connection, tenant.principal, [buyer.uuid, browser.uuid])

    assert [edge["node"] for edge in page["customers"]["edges"]] == [
        {"_id": buyer.number, "expenses": Decimal("120.00"), "orders_count": 2},
        {"_id": browser.number, "expenses": Decimal("0.00"), "orders_count": 0},
    ]
    assert totals == {
        buyer.uuid: CustomerOrderStats(orders_count=2, expenses=12_000),
        browser.uuid: CustomerOrderStats(orders_count=0, expenses=0),
    }


# --- no N+1 ------------------------------------------------------------------------------------


@contextmanager
def counted(server: ThreadServer) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)


def test_a_page_of_50_costs_as_many_statements_as_a_page_of_1(
    api: Api, db: Database, server: ThreadServer, tenant: Tenant
) -> None:
    for index in range(50):
        made = make_contact(db, tenant).customer
        add_order(db, tenant, made.uuid, index + 1, 100)
    lf_data(api, CUSTOMERS_QUERY, token=tenant.token)  # the token's last use is recorded once
    query = '{ customers(query: "", first: %d) { edges { node { _id expenses orders_count } } } }'

    with counted(server) as small:
        one = lf_data(api, query % 1, token=tenant.token)
    with counted(server) as large:
        fifty = lf_data(api, query % 50, token=tenant.token)

    assert len(fifty["customers"]["edges"]) == 50
    assert len(one["customers"]["edges"]) == 1
    assert len(large) == len(small)
    # the token, the page, the order totals (plus BEGIN on SQLite)
    assert len([s for s in large if s.strip().upper().startswith("SELECT")]) == 3


# --- the committed SDL ------------------------------------------------------------------------


def test_printed_schema_matches_the_committed_file() -> None:
    assert SCHEMA_FILE.read_text() == printed_schema(), (
        "schema/lightfunnels.graphql is out of date: regenerate it with "
        "python -c 'from patron.api.compat.lightfunnels.schema import printed_schema; "
        'print(printed_schema(), end="")\' > schema/lightfunnels.graphql'
    )
