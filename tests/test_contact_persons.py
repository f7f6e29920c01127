"""Contact persons in the core (SPEC §2, seed 004): commands, reads, rules, tenant scoping."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from patron.contact_persons import service
from patron.contact_persons.errors import ContactPersonNotFound, CustomerNotFound
from patron.contact_persons.models import (
    ContactPersonChanges,
    ContactPersonConditions,
    ContactPersonQuery,
    NewContactPerson,
    OrderKey,
)
from patron.core.db import Database
from patron.core.errors import Forbidden, InvalidInput
from patron.customers import service as customers
from tests.support.contact_persons import make_contact_person, outbox_types, snapshot
from tests.support.tenants import Tenant, make_contact


def _find(db: Database, tenant: Tenant, **query: object) -> list[int]:
    with db.read() as connection:
        found = service.find_contact_persons(
            connection, tenant.principal, ContactPersonQuery(**query)
        )
    return [person.id for person in found]


def _count(db: Database, tenant: Tenant, **conditions: int) -> int:
    with db.read() as connection:
        return service.count_contact_persons(
            connection, tenant.principal, ContactPersonConditions(**conditions)
        )


def test_create_gives_per_account_ids_and_writes_an_event(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    customer = make_contact(db, tenant).customer
    elsewhere = make_contact(db, other_tenant).customer

    first = make_contact_person(
        db, tenant, customer.number, name=" John Smith ", phone="+1 555", email="j@example.com"
    )
    second = make_contact_person(db, tenant, customer.number, name="Jane", note="nights")
    theirs = make_contact_person(db, other_tenant, elsewhere.number)

    assert (first.id, second.id, theirs.id) == (1, 2, 1)
    assert first.customer_uuid == customer.uuid
    assert first.customer_number == customer.number
    assert (first.name, first.phone, first.email, first.note) == (
        "John Smith",
        "+1 555",
        "j@example.com",
        "",
    )
    assert (second.email, second.note) == (None, "nights")
    assert outbox_types(db, tenant.uuid).count("contact_person.created") == 2


def test_boundary_lengths_are_accepted(db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer

    person = make_contact_person(
        db,
        tenant,
        customer.number,
        name="n" * 50,
        phone="1" * 15,
        email="a" * 60 + "@" + "b" * 55 + ".com",
        note="x" * 255,
    )

    assert (len(person.name), len(person.phone), len(person.email or ""), len(person.note)) == (
        50,
        15,
        120,
        255,
    )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 51}, "name"),
        ({"phone": "1" * 16}, "phone"),
        ({"email": "not an email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 61 + "@" + "b" * 55 + ".com"}, "email"),
        ({"note": "x" * 256}, "note"),
        ({"name": "bell\x07"}, "name"),
    ],
)
def test_create_refuses_values_out_of_their_rules(
    db: Database, tenant: Tenant, values: dict[str, str], field: str
) -> None:
    customer = make_contact(db, tenant).customer
    before = snapshot(db, tenant.uuid)
    fields: dict[str, object] = {"name": "John Smith", **values}

    with pytest.raises(InvalidInput) as raised:
        service.create_contact_person(
            db, tenant.principal, NewContactPerson(customer=customer.number, **fields)
        )

    assert raised.value.field == field
    assert snapshot(db, tenant.uuid) == before


def test_malformed_email_message_names_the_address(db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer

    with pytest.raises(InvalidInput) as raised:
        make_contact_person(db, tenant, customer.number, email="nope@")

    assert raised.value.message == "'nope@' is not a well formed email address"


def test_create_for_an_unknown_or_foreign_customer_is_not_found(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    # Numbers are per account: the other account's customer 1 is nobody here.
    foreign = make_contact(db, other_tenant).customer
    before = snapshot(db, tenant.uuid)

    for number in (foreign.number + 1000, foreign.number):
        with pytest.raises(CustomerNotFound) as raised:
            make_contact_person(db, tenant, number)
        assert raised.value.field == "customer"
        assert raised.value.message == f"customer {number} does not exist"

    assert snapshot(db, tenant.uuid) == before


def test_read_only_token_cannot_write(db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer
    person = make_contact_person(db, tenant, customer.number)
    reader = tenant.with_scope(db, "read")
    before = snapshot(db, tenant.uuid)

    with pytest.raises(Forbidden):
        make_contact_person(db, reader, customer.number)
    with pytest.raises(Forbidden):
        service.update_contact_person(
            db, reader.principal, person.id, ContactPersonChanges({"name": "X"})
        )
    with pytest.raises(Forbidden):
        service.delete_contact_persons(db, reader.principal, [person.id])

    assert snapshot(db, tenant.uuid) == before
    assert _find(db, reader) == [person.id]


def test_get_is_scoped_by_account(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer
    person = make_contact_person(db, tenant, customer.number, name="Mine")

    with db.read() as connection:
        assert service.get_contact_person(connection, tenant.principal, person.id) == person
        with pytest.raises(ContactPersonNotFound) as raised:
            service.get_contact_person(connection, other_tenant.principal, person.id)

    assert raised.value.message == f"contact person {person.id} does not exist"


def test_find_filters_orders_and_pages(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    alice = make_contact(db, tenant).customer
    bob = make_contact(db, tenant).customer
    make_contact_person(db, other_tenant, make_contact(db, other_tenant).customer.number)
    ids = [
        make_contact_person(db, tenant, alice.number, name="Carol", email="c@example.com").id,
        make_contact_person(db, tenant, bob.number, name="Alan").id,
        make_contact_person(db, tenant, alice.number, name="Bea", email="b@example.com").id,
        make_contact_person(db, tenant, bob.number, name="Alan").id,
    ]

    assert _find(db, tenant) == ids
    assert _find(db, tenant, conditions=ContactPersonConditions(customer=alice.number)) == [
        ids[0],
        ids[2],
    ]
    assert _find(db, tenant, conditions=ContactPersonConditions(after=ids[1])) == ids[2:]
    assert _find(db, tenant, order=(OrderKey("name"),)) == [ids[1], ids[3], ids[2], ids[0]]
    assert _find(db, tenant, order=(OrderKey("name", True), OrderKey("id", True))) == [
        ids[0],
        ids[2],
        ids[3],
        ids[1],
    ]
    assert _find(db, tenant, order=(OrderKey("email"),)) == [ids[1], ids[3], ids[2], ids[0]]
    assert _find(db, tenant, order=(OrderKey("customer", True),)) == [
        ids[1],
        ids[3],
        ids[0],
        ids[2],
    ]
    assert _find(db, tenant, limit=2, first=1) == ids[1:3]
    assert _find(db, tenant, first=10) == []
    assert _count(db, tenant) == 4
    assert _count(db, tenant, customer=bob.number) == 2
    assert _count(db, tenant, customer=bob.number, after=ids[1]) == 1
    assert _count(db, tenant, customer=999_999) == 0


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        (ContactPersonQuery(limit=0), "limit", "INVALID"),
        (ContactPersonQuery(limit=251), "limit", "INVALID"),
        (ContactPersonQuery(first=-1), "first", "INVALID"),
        (ContactPersonQuery(conditions=ContactPersonConditions(customer=0)), "customer", "INVALID"),
        (ContactPersonQuery(conditions=ContactPersonConditions(after=-1)), "after", "INVALID"),
        (ContactPersonQuery(order=(OrderKey("age"),)), "order", "UNKNOWN_KEY"),
        (ContactPersonQuery(order=(OrderKey("id"), OrderKey("id", True))), "order", "INVALID"),
    ],
)
def test_find_refuses_bad_queries(
    db: Database, tenant: Tenant, query: ContactPersonQuery, field: str, code: str
) -> None:
    with db.read() as connection, pytest.raises(InvalidInput) as raised:
        service.find_contact_persons(connection, tenant.principal, query)

    assert (raised.value.field, raised.value.code) == (field, code)


def test_update_changes_only_the_fields_given(db: Database, tenant: Tenant) -> None:
    alice = make_contact(db, tenant).customer
    bob = make_contact(db, tenant).customer
    person = make_contact_person(
        db, tenant, alice.number, name="John", phone="123", email="j@example.com", note="n"
    )

    updated = service.update_contact_person(
        db, tenant.principal, person.id, ContactPersonChanges({"name": "Johnny"})
    )
    moved = service.update_contact_person(
        db,
        tenant.principal,
        person.id,
        ContactPersonChanges({"customer": bob.number, "email": None}),
    )

    assert (updated.name, updated.phone, updated.email, updated.note) == (
        "Johnny",
        "123",
        "j@example.com",
        "n",
    )
    assert (moved.customer_uuid, moved.customer_number, moved.email, moved.name) == (
        bob.uuid,
        bob.number,
        None,
        "Johnny",
    )
    assert outbox_types(db, tenant.uuid).count("contact_person.updated") == 2


def test_refused_updates_change_nothing(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer
    person = make_contact_person(db, tenant, customer.number)
    before = snapshot(db, tenant.uuid)

    with pytest.raises(ContactPersonNotFound):
        service.update_contact_person(
            db, tenant.principal, person.id + 1, ContactPersonChanges({"name": "X"})
        )
    with pytest.raises(ContactPersonNotFound):
        service.update_contact_person(
            db, other_tenant.principal, person.id, ContactPersonChanges({"name": "X"})
        )
    with pytest.raises(CustomerNotFound):
        service.update_contact_person(
            db,
            tenant.principal,
            person.id,
            ContactPersonChanges({"name": "X", "customer": customer.number + 100}),
        )
    with pytest.raises(InvalidInput) as raised:
        service.update_contact_person(
            db, tenant.principal, person.id, ContactPersonChanges({"age": 3})
        )

    assert raised.value.code == "UNKNOWN_KEY"
    assert snapshot(db, tenant.uuid) == before


def test_delete_is_all_or_nothing(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer
    ids = [make_contact_person(db, tenant, customer.number).id for _ in range(3)]
    theirs = make_contact_person(db, other_tenant, make_contact(db, other_tenant).customer.number)
    before = snapshot(db, tenant.uuid)

    with pytest.raises(ContactPersonNotFound) as raised:
        service.delete_contact_persons(db, tenant.principal, [ids[0], 77, ids[1], 78])
    assert raised.value.ids == [77, 78]
    assert raised.value.field == "ids"
    with pytest.raises(ContactPersonNotFound):
        service.delete_contact_persons(db, other_tenant.principal, [ids[0], theirs.id + 5])
    with pytest.raises(InvalidInput):
        service.delete_contact_persons(db, tenant.principal, [])
    assert snapshot(db, tenant.uuid) == before

    service.delete_contact_persons(db, tenant.principal, [ids[0], ids[2], ids[0]])

    assert _find(db, tenant) == [ids[1]]
    assert _find(db, other_tenant) == [theirs.id]
    assert outbox_types(db, tenant.uuid)[-1] == "contact_person.deleted"


def test_deleting_a_customer_deletes_its_contact_persons(db: Database, tenant: Tenant) -> None:
    kept = make_contact(db, tenant).customer
    gone = make_contact(db, tenant).customer
    mine = make_contact_person(db, tenant, kept.number)
    make_contact_person(db, tenant, gone.number)

    customers.delete_customer(db, tenant.principal, gone.uuid)

    assert _find(db, tenant) == [mine.id]


def test_concurrent_creates_get_distinct_ids(db: Database, tenant: Tenant) -> None:
    customer = make_contact(db, tenant).customer

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(
            pool.map(
                lambda index: make_contact_person(db, tenant, customer.number, name=f"P{index}"),
                range(16),
            )
        )

    assert sorted(person.id for person in created) == list(range(1, 17))
    assert _count(db, tenant) == 16
