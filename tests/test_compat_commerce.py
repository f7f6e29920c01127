"""The commerce RPC dialect (seed 004): ``POST /compat/commerce/api/v6/commerce.contacts.*``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from patron.core.db import Database
from tests.support.client import Api
from tests.support.contact_persons import make_contact_person, outbox_types, snapshot
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, make_contact

BASE = "/compat/commerce/api/v6/commerce.contacts."
EVERY_FIELD = ["id", "customer", "name", "phone", "email", "note"]


def call(
    api: Api, method: str, body: Any, *, token: str | None, x_key: bool = False
) -> httpx.Response:
    if x_key and token is not None:
        return api.http.post(BASE + method, json=body, headers={"X-Key": token})
    return api.post(BASE + method, body, token=token)


def ok(api: Api, method: str, body: Any, *, token: str, x_key: bool = False) -> dict[str, Any]:
    response = call(api, method, body, token=token, x_key=x_key)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "ok", answer
    return answer


def refused(api: Api, method: str, body: Any, *, token: str) -> dict[str, Any]:
    response = call(api, method, body, token=token)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "error", answer
    error: dict[str, Any] = answer["error"]
    return error


# --- each request of the seed, with its example values --------------------------------------


def test_seed_requests_run_with_real_values(api: Api, db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer.number

    # contacts.create, as printed (comments dropped): phone and email empty
    created = ok(
        api,
        "create",
        {
            "contact": {
                "customer": customer,
                "name": "John Smith",
                "phone": "",
                "email": "",
                "note": "",
            }
        },
        token=tenant.token,
    )
    person = created["id"]
    assert created == {"status": "ok", "id": 1}

    # contacts.get
    assert ok(api, "get", {"id": person, "fields": ["id", "customer"]}, token=tenant.token) == {
        "status": "ok",
        "contact": {"id": person, "customer": customer},
    }
    assert ok(api, "get", {"id": person}, token=tenant.token)["contact"] == {
        "id": person,
        "customer": customer,
        "name": "John Smith",
        "phone": "",
        "email": None,
        "note": "",
    }

    # contacts.find
    found = ok(
        api,
        "find",
        {
            "conditions": {"customer": customer, "after": 0},
            "fields": ["id", "customer"],
            "order": ["id"],
            "limit": 10,
            "first": 0,
        },
        token=tenant.token,
    )
    assert found == {"status": "ok", "contacts": [{"id": person, "customer": customer}]}

    # contacts.count
    assert ok(
        api, "count", {"conditions": {"customer": customer, "after": 0}}, token=tenant.token
    ) == {"status": "ok", "count": 1}

    # contacts.update
    assert ok(
        api,
        "update",
        {
            "id": person,
            "contact": {
                "customer": customer,
                "name": "John Smith",
                "phone": "",
                "email": "john@example.com",
                "note": "",
            },
        },
        token=tenant.token,
    ) == {"status": "ok"}
    assert ok(api, "get", {"id": person}, token=tenant.token)["contact"]["email"] == (
        "john@example.com"
    )

    # contacts.delete
    assert ok(api, "delete", {"ids": [person]}, token=tenant.token) == {"status": "ok"}
    assert ok(api, "get", {"id": person}, token=tenant.token) == {"status": "ok", "contact": None}
    assert outbox_types(db, tenant.uuid)[-3:] == [
        "contact_person.created",
        "contact_person.updated",
        "contact_person.deleted",
    ]


def test_seed_requests_with_the_seeds_own_numbers(api: Api, db: Database, tenant: Tenant) -> None:
    """Customer 37091 and contact 59068 do not exist here: answers the original documents."""
    make_contact(db, tenant)
    before = snapshot(db, tenant.uuid)
    contact = {"customer": 37091, "name": "John Smith", "phone": "", "email": "", "note": ""}

    assert ok(
        api,
        "find",
        {
            "conditions": {"customer": 37091, "after": 59068},
            "fields": ["id", "customer"],
            "order": ["id"],
            "limit": 10,
            "first": 0,
        },
        token=tenant.token,
    ) == {"status": "ok", "contacts": []}
    assert ok(api, "get", {"id": 59068, "fields": ["id", "customer"]}, token=tenant.token) == {
        "status": "ok",
        "contact": None,
    }
    assert ok(
        api, "count", {"conditions": {"customer": 37091, "after": 59068}}, token=tenant.token
    ) == {"status": "ok", "count": 0}
    assert refused(api, "create", {"contact": contact}, token=tenant.token) == {
        "field": "customer",
        "type": "NotFound",
        "description": "Customer 37091 does not exist",
    }
    assert refused(api, "update", {"id": 59068, "contact": contact}, token=tenant.token) == {
        "field": "id",
        "type": "NotFound",
        "description": "Contact 59068 does not exist",
    }
    assert refused(api, "delete", {"ids": [59068, 12078, 23939]}, token=tenant.token) == {
        "field": "ids",
        "type": "NotFound",
        "description": "Contacts 59068, 12078, 23939 do not exist",
    }
    assert snapshot(db, tenant.uuid) == before


def test_x_key_and_bearer_both_authenticate(api: Api, db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer.number
    make_contact_person(db, tenant, customer)

    by_key = ok(api, "count", {}, token=tenant.token, x_key=True)
    by_bearer = ok(api, "count", {}, token=tenant.token)

    assert by_key == by_bearer == {"status": "ok", "count": 1}


# --- the four callers, on every method ------------------------------------------------------


def _requests(customer: int, person: int) -> dict[str, dict[str, Any]]:
    return {
        "find": {"conditions": {"customer": customer}},
        "get": {"id": person},
        "count": {"conditions": None},
        "create": {"contact": {"customer": customer, "name": "Intruder"}},
        "update": {"id": person, "contact": {"name": "Changed"}},
        "delete": {"ids": [person]},
    }


@pytest.mark.parametrize("method", ["find", "get", "count", "create", "update", "delete"])
def test_no_key_or_a_bad_key_is_403(api: Api, db: Database, tenant: Tenant, method: str) -> None:
    customer = make_contact(db, tenant).customer.number
    person = make_contact_person(db, tenant, customer).id
    body = _requests(customer, person)[method]
    before = snapshot(db, tenant.uuid)

    answers = [
        api.http.post(BASE + method, json=body),
        api.http.post(BASE + method, json=body, headers={"X-Key": "patron_wrong"}),
        api.http.post(BASE + method, json=body, headers={"X-Key": "not-a-token"}),
        api.http.post(BASE + method, json=body, headers={"Authorization": "Basic abc"}),
        api.http.post(BASE + method, json=body, headers={"Authorization": "Bearer patron_x"}),
    ]

    assert answers[0].json()["error"]["description"] == (
        "an API key is required: send 'X-Key: <key>' or 'Authorization: Bearer <key>'"
    )
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert answer.json()["status"] == "error"
        assert answer.json()["error"]["type"] == "Forbidden"
    assert snapshot(db, tenant.uuid) == before


def test_another_accounts_key_sees_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer.number
    person = make_contact_person(db, tenant, customer, name="Secret").id
    requests = _requests(customer, person)
    before = snapshot(db, tenant.uuid)
    theirs = snapshot(db, other_tenant.uuid)
    token = other_tenant.token

    assert ok(api, "find", requests["find"], token=token) == {"status": "ok", "contacts": []}
    assert ok(api, "find", {}, token=token) == {"status": "ok", "contacts": []}
    assert ok(api, "get", requests["get"], token=token) == {"status": "ok", "contact": None}
    assert ok(api, "count", requests["count"], token=token) == {"status": "ok", "count": 0}
    assert refused(api, "create", requests["create"], token=token)["type"] == "NotFound"
    assert refused(api, "update", requests["update"], token=token)["type"] == "NotFound"
    assert refused(api, "delete", requests["delete"], token=token)["type"] == "NotFound"
    assert snapshot(db, tenant.uuid) == before
    assert snapshot(db, other_tenant.uuid) == theirs


def test_read_only_key_reads_and_is_refused_writes(api: Api, db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer.number
    person = make_contact_person(db, tenant, customer).id
    requests = _requests(customer, person)
    reader = tenant.with_scope(db, "read")
    before = snapshot(db, tenant.uuid)

    assert [c["id"] for c in ok(api, "find", requests["find"], token=reader.token)["contacts"]] == [
        person
    ]
    assert ok(api, "get", requests["get"], token=reader.token)["contact"]["id"] == person
    assert ok(api, "count", requests["count"], token=reader.token)["count"] == 1
    for method in ("create", "update", "delete"):
        answer = call(api, method, requests[method], token=reader.token)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["type"] == "Forbidden"
        # scope is checked before the request is read: a malformed one is refused the same way
        assert call(api, method, {"nonsense": True}, token=reader.token).status_code == 403
    assert snapshot(db, tenant.uuid) == before


def test_the_right_key_does_everything(api: Api, db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer.number
    writer = tenant.with_scope(db, "write")

    person = ok(
        api, "create", {"contact": {"customer": customer, "name": "Ann"}}, token=writer.token
    )["id"]
    ok(api, "update", {"id": person, "contact": {"note": "call after 6"}}, token=writer.token)
    listed = ok(api, "find", {"fields": ["id", "note"]}, token=writer.token)
    counted = ok(api, "count", {}, token=writer.token)
    ok(api, "delete", {"ids": [person]}, token=writer.token)

    assert listed["contacts"] == [{"id": person, "note": "call after 6"}]
    assert counted["count"] == 1
    assert ok(api, "count", {}, token=writer.token)["count"] == 0


# --- every error type, provoked; nothing changed ---------------------------------------------


def error(field: str | None, type_: str, description: str) -> dict[str, Any]:
    return {"field": field, "type": type_, "description": description}


def _bad_requests(customer: int, person: int) -> list[tuple[str, Any, dict[str, Any]]]:
    long_email = "a" * 61 + "@" + "b" * 55 + ".com"
    return [
        # NotFound
        (
            "create",
            {"contact": {"customer": customer + 50, "name": "X"}},
            error("customer", "NotFound", f"Customer {customer + 50} does not exist"),
        ),
        (
            "update",
            {"id": person, "contact": {"customer": customer + 50}},
            error("customer", "NotFound", f"Customer {customer + 50} does not exist"),
        ),
        (
            "update",
            {"id": person + 50, "contact": {"name": "X"}},
            error("id", "NotFound", f"Contact {person + 50} does not exist"),
        ),
        (
            "delete",
            {"ids": [person, person + 50]},
            error("ids", "NotFound", f"Contact {person + 50} does not exist"),
        ),
        # InvalidValue
        (
            "create",
            {"contact": {"customer": customer, "name": "X", "email": "john@"}},
            error("email", "InvalidValue", "'john@' is not a well formed email address"),
        ),
        (
            "update",
            {"id": person, "contact": {"email": "no at sign"}},
            error("email", "InvalidValue", "'no at sign' is not a well formed email address"),
        ),
        (
            "create",
            {"contact": {"customer": customer, "name": ""}},
            error("name", "InvalidValue", "name must be 1 to 50 characters long, got 0"),
        ),
        (
            "update",
            {"id": person, "contact": {"name": "n" * 51}},
            error("name", "InvalidValue", "name must be 1 to 50 characters long, got 51"),
        ),
        (
            "update",
            {"id": person, "contact": {"phone": "1" * 16}},
            error("phone", "InvalidValue", "phone must be 0 to 15 characters long, got 16"),
        ),
        (
            "update",
            {"id": person, "contact": {"email": "a@b"}},
            error("email", "InvalidValue", "'a@b' is not a well formed email address"),
        ),
        (
            "update",
            {"id": person, "contact": {"email": long_email}},
            error("email", "InvalidValue", "email must be 3 to 120 characters long, got 121"),
        ),
        (
            "update",
            {"id": person, "contact": {"note": "x" * 256}},
            error("note", "InvalidValue", "note must be 0 to 255 characters long, got 256"),
        ),
        (
            "create",
            {"contact": {"customer": 0, "name": "X"}},
            error("customer", "InvalidValue", "customer must be an integer of 1 or more"),
        ),
        (
            "find",
            {"limit": 0},
            error("limit", "InvalidValue", "limit must be an integer of 1 or more"),
        ),
        ("find", {"limit": 251}, error("limit", "InvalidValue", "limit must be 1 to 250, got 251")),
        (
            "find",
            {"first": -1},
            error("first", "InvalidValue", "first must be an integer of 0 or more"),
        ),
        (
            "count",
            {"conditions": {"after": -1}},
            error("after", "InvalidValue", "after must be an integer of 0 or more"),
        ),
        ("get", {"id": 0}, error("id", "InvalidValue", "id must be an integer of 1 or more")),
        (
            "delete",
            {"ids": []},
            error("ids", "InvalidValue", "ids must name at least one contact person"),
        ),
        (
            "find",
            {"order": ["name", "-name"]},
            error("order", "InvalidValue", "order key 'name' is given twice"),
        ),
        # Missing
        ("create", {}, error("contact", "Missing", "contact is required")),
        (
            "create",
            {"contact": {"name": "X"}},
            error("customer", "Missing", "customer is required"),
        ),
        (
            "create",
            {"contact": {"customer": customer}},
            error("name", "Missing", "name is required"),
        ),
        ("update", {"contact": {"name": "X"}}, error("id", "Missing", "id is required")),
        ("update", {"id": person}, error("contact", "Missing", "contact is required")),
        ("get", {"fields": ["id"]}, error("id", "Missing", "id is required")),
        ("delete", {"ids": None}, error("ids", "Missing", "ids is required")),
        # Malformed
        ("create", [1, 2], error(None, "Malformed", "the request must be a JSON object")),
        (
            "create",
            {"contact": {"customer": str(customer), "name": "X"}},
            error("customer", "Malformed", "customer must be an integer"),
        ),
        (
            "create",
            {"contact": {"customer": customer, "name": 5}},
            error("name", "Malformed", "name must be a string"),
        ),
        ("create", {"contact": "John"}, error("contact", "Malformed", "contact must be an object")),
        (
            "update",
            {"id": True, "contact": {"name": "X"}},
            error("id", "Malformed", "id must be an integer"),
        ),
        (
            "update",
            {"id": person, "contact": {"phone": None}},
            error("phone", "Malformed", "phone must be a string"),
        ),
        ("delete", {"ids": person}, error("ids", "Malformed", "ids must be a list of integers")),
        ("delete", {"ids": [str(person)]}, error("ids", "Malformed", "ids must be an integer")),
        ("find", {"limit": "10"}, error("limit", "Malformed", "limit must be an integer")),
        (
            "find",
            {"conditions": [customer]},
            error("conditions", "Malformed", "conditions must be an object"),
        ),
        (
            "find",
            {"fields": "id"},
            error("fields", "Malformed", "fields must be a list of strings"),
        ),
        ("find", {"order": [1]}, error("order", "Malformed", "order must be a list of strings")),
        ("find", {"limit": 1.5}, error("limit", "Malformed", "limit must be an integer")),
        # UnknownField
        (
            "find",
            {"fields": ["id", "age"]},
            error("fields", "UnknownField", "unknown field 'age' in fields"),
        ),
        (
            "get",
            {"id": person, "fields": ["password"]},
            error("fields", "UnknownField", "unknown field 'password' in fields"),
        ),
        (
            "find",
            {"order": ["-age"]},
            error("order", "UnknownField", "unknown field '-age' in order"),
        ),
        (
            "find",
            {"conditions": {"shop": 1}},
            error("conditions", "UnknownField", "conditions has no field 'shop'"),
        ),
        (
            "count",
            {"conditions": {"name": "x"}},
            error("conditions", "UnknownField", "conditions has no field 'name'"),
        ),
        (
            "create",
            {"contact": {"customer": customer, "name": "X", "age": 3}},
            error("contact", "UnknownField", "contact has no field 'age'"),
        ),
        (
            "update",
            {"id": person, "contact": {"id": 9}},
            error("contact", "UnknownField", "contact has no field 'id'"),
        ),
        (
            "delete",
            {"ids": [person], "force": True},
            error("request", "UnknownField", "request has no field 'force'"),
        ),
    ]


def test_every_error_type_is_answered_and_changes_nothing(
    api: Api, db: Database, tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer.number
    person = make_contact_person(db, tenant, customer, email="kept@example.com").id
    before = snapshot(db, tenant.uuid)

    for method, body, expected in _bad_requests(customer, person):
        assert refused(api, method, body, token=tenant.token) == expected, (method, body)

    assert snapshot(db, tenant.uuid) == before


@pytest.mark.parametrize("raw", [b"{", b"", b"{'customer': 1}", b"not json", b"\xff\xfe"])
def test_bad_json_is_malformed(api: Api, db: Database, tenant: Tenant, raw: bytes) -> None:
    before = snapshot(db, tenant.uuid)

    response = api.http.post(
        BASE + "create", content=raw, headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["error"]["type"] == "Malformed"
    assert snapshot(db, tenant.uuid) == before


# --- transport errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "commerce.contacts.frobnicate",
        "commerce.contacts.",
        "commerce.customers.find",
        "commerce.contacts.find.extra",
        "contacts.find",
    ],
)
def test_unknown_method_is_404(api: Api, tenant: Tenant, path: str) -> None:
    response = api.post("/compat/commerce/api/v6/" + path, {}, token=tenant.token)

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "UnknownMethod"


@pytest.mark.parametrize("verb", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_http_methods_are_405(api: Api, tenant: Tenant, verb: str) -> None:
    response = api.http.request(
        verb, BASE + "find", headers={"Authorization": f"Bearer {tenant.token}"}
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_over_the_rate_limit_is_429_with_retry_after(
    database_url: str, db: Database, tenant: Tenant
) -> None:
    limited = ThreadServer(database_url, rate_limit_per_minute=2).start()
    answers: list[httpx.Response] = []
    try:
        client = Api(limited.base_url)
        # A one-minute window may turn over once during the test: then two more get through.
        while len(answers) < 6 and (not answers or answers[-1].status_code != 429):
            answers.append(call(client, "count", {}, token=tenant.token))
        client.close()
    finally:
        limited.stop()
        limited.db.dispose()

    statuses = [answer.status_code for answer in answers]
    assert statuses in ([200, 200, 429], [200, 200, 200, 200, 429])
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json() == {
        "status": "error",
        "error": {
            "field": None,
            "type": "RateLimited",
            "description": "rate limit exceeded for this token",
        },
    }


def test_oversized_body_is_413(api: Api, tenant: Tenant) -> None:
    body = {"contact": {"customer": 1, "name": "x" * 2_000_000}}

    response = call(api, "create", body, token=tenant.token)

    assert response.status_code == 413


# --- ordering, paging, tiling ----------------------------------------------------------------


def test_find_orders_filters_and_pages(api: Api, db: Database, tenant: Tenant) -> None:
    alice = make_contact(db, tenant).customer.number
    bob = make_contact(db, tenant).customer.number
    ids = [
        make_contact_person(db, tenant, alice, name="Carol", phone="3").id,
        make_contact_person(db, tenant, bob, name="Alan", phone="1", email="a@example.com").id,
        make_contact_person(db, tenant, alice, name="Bea", phone="2", note="b").id,
    ]

    def found(body: dict[str, Any]) -> list[int]:
        return [c["id"] for c in ok(api, "find", body, token=tenant.token)["contacts"]]

    assert found({}) == ids
    assert found({"order": ["-id"]}) == ids[::-1]
    assert found({"order": ["name"]}) == [ids[1], ids[2], ids[0]]
    assert found({"order": ["-phone"]}) == [ids[0], ids[2], ids[1]]
    assert found({"order": ["-email", "id"]}) == [ids[1], ids[0], ids[2]]
    assert found({"order": ["customer", "-note"]}) == [ids[2], ids[0], ids[1]]
    assert found({"conditions": {"customer": alice}}) == [ids[0], ids[2]]
    assert found({"conditions": {"after": ids[0]}}) == ids[1:]
    assert found({"limit": 1, "first": 1}) == [ids[1]]
    assert found({"first": 3}) == []
    assert ok(api, "count", {"conditions": {"customer": bob}}, token=tenant.token)["count"] == 1
    assert ok(api, "count", {"conditions": None}, token=tenant.token)["count"] == 3
    assert ok(api, "find", {"fields": []}, token=tenant.token)["contacts"][0].keys() == set(
        EVERY_FIELD
    )


def test_after_tiles_the_list_while_rows_are_inserted(
    api: Api, db: Database, tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer.number
    original = [make_contact_person(db, tenant, customer).id for _ in range(10)]
    seen: list[int] = []
    after = 0
    while True:
        page = ok(
            api,
            "find",
            {"conditions": {"after": after}, "fields": ["id"], "order": ["id"], "limit": 3},
            token=tenant.token,
        )["contacts"]
        make_contact_person(db, tenant, customer, name="Late")
        if not page:
            break
        seen += [contact["id"] for contact in page]
        after = seen[-1]
        if len(seen) > 40:
            break

    assert seen == sorted(set(seen))
    assert set(original) <= set(seen)


# --- no N+1 ------------------------------------------------------------------------------------


@contextmanager
def counted(server: ThreadServer) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Not the token's lookup: a read makes it at most once a second (the principal
        # cache), so not in every request.
        if "api_tokens" not in statement:
            statements.append(statement)

    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)


def test_a_page_of_50_costs_as_many_statements_as_a_page_of_1(
    api: Api, db: Database, server: ThreadServer, tenant: Tenant
) -> None:
    customers = [make_contact(db, tenant).customer.number for _ in range(5)]
    for index in range(50):
        make_contact_person(db, tenant, customers[index % 5])
    ok(api, "count", {}, token=tenant.token)  # the token's last use is recorded once

    with counted(server) as small:
        one = ok(api, "find", {"limit": 1}, token=tenant.token)
    with counted(server) as large:
        fifty = ok(api, "find", {"limit": 50, "order": ["customer"]}, token=tenant.token)

    assert len(one["contacts"]) == 1
    assert len(fifty["contacts"]) == 50
    assert len(large) == len(small)
    # the page with its customers' numbers joined in, without a transaction
    assert len([s for s in large if s.strip().upper().startswith("SELECT")]) == 1
