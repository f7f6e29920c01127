"""The four-caller test over every query field and every mutation of the native API.

Callers: no token, another account's token, a read-scoped token of the owner, the owner's
write token. Each case asserts what the caller gets, that nothing of the owner leaked, and that
nothing changed that should not have.

The query selects every field the schema has, generated from the schema itself, so a new field
is covered the day it is added. Every mutation of the schema gets the no-token and read-token
cases (with sample arguments where the table below has none); the contact and ledger mutations
also get the other-account and owner cases against real objects.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)

from patron.api.graphql.schema import build_schema
from patron.core.db import Database
from patron.core.errors import NotFound
from patron.core.settings import Settings
from patron.customers import service as customers
from patron.customers.models import CustomerChanges, NewCustomer
from patron.wallets import service as wallets
from tests.support.client import Api
from tests.support.store import account_rows
from tests.support.tenants import Tenant, fund

PAYLOAD = "{ success errors userErrors { field code message } }"
GRAPHQL_SCHEMA = build_schema(Settings())._schema

# What a required argument gets when a test has no better value: an id that names nothing.
NOTHING = "00000000-0000-4000-8000-000000000000"
SCALAR_SAMPLES: dict[str, Any] = {
    "String": NOTHING,
    "ID": base64.b64encode(f"Contact:{NOTHING}".encode()).decode(),  # a global id
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Decimal": "1",
    "BigInt": 1,
    "Date": "2020-01-01",
    "DateTime": "2020-01-01T00:00:00+00:00",
    "JSON": {},
}


def _named(field_type: Any) -> Any:
    while isinstance(field_type, GraphQLNonNull | GraphQLList):
        field_type = field_type.of_type
    return field_type


def sample_value(input_type: Any) -> Any:
    """A JSON value of a GraphQL input type, with only its required fields filled in."""
    if isinstance(input_type, GraphQLNonNull):
        return sample_value(input_type.of_type)
    if isinstance(input_type, GraphQLList):
        return [sample_value(input_type.of_type)]
    if isinstance(input_type, GraphQLEnumType):
        return next(iter(input_type.values))
    if isinstance(input_type, GraphQLInputObjectType):
        return {
            name: sample_value(field.type)
            for name, field in input_type.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(input_type, GraphQLScalarType), input_type
    return SCALAR_SAMPLES.get(input_type.name, "1")


def _selection(type_: Any, path: tuple[str, ...], aliased: frozenset[str] = frozenset()) -> str:
    if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
        parts = ["__typename"]
        possible_types = [
            possible
            for possible in GRAPHQL_SCHEMA.get_possible_types(type_)
            if possible.name not in path
        ]
        # A field name that two of the types give different types cannot be merged in one
        # selection: each type's takes an alias of its own.
        kinds: dict[str, set[str]] = {}
        for possible in possible_types:
            for name, field in possible.fields.items():
                kinds.setdefault(name, set()).add(str(field.type))
        clashing = frozenset(name for name, seen in kinds.items() if len(seen) > 1)
        for possible in possible_types:
            parts.append(f"... on {possible.name} {_selection(possible, path, clashing)}")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(type_, GraphQLObjectType), type_
    parts = []
    for name, field in type_.fields.items():
        alias = f"{type_.name}_{name}" if name in aliased else None
        parts.extend(_field_selection(name, field, path, alias))
    return "{ " + " ".join(parts) + " }"


def _field_selection(
    name: str, field: GraphQLField, path: tuple[str, ...], alias: str | None = None
) -> list[str]:
    required = {
        argument: json.dumps(sample_value(spec.type))
        for argument, spec in field.args.items()
        if isinstance(spec.type, GraphQLNonNull)
    }
    variables = ", ".join(f"{argument}: {value}" for argument, value in required.items())
    arguments = f"({variables})" if variables else ""
    target = _named(field.type)
    selected = f"{alias}: {name}" if alias else name
    if isinstance(target, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        if target.name in path:
            return []
        return [f"{selected}{arguments} {_selection(target, (*path, target.name))}"]
    return [f"{selected}{arguments}"]


def every_query_field() -> str:
    """A query that selects every field reachable from Query (each type once per path)."""
    return "query Everything " + _selection(GRAPHQL_SCHEMA.query_type, ("Query",))


EVERYTHING = every_query_field()
ALL_MUTATIONS = sorted(GRAPHQL_SCHEMA.mutation_type.fields)


def sample_mutation(name: str) -> dict[str, Any]:
    """Any mutation of the schema as a request body, its required arguments as variables."""
    field = GRAPHQL_SCHEMA.mutation_type.fields[name]
    required = {a: spec for a, spec in field.args.items() if isinstance(spec.type, GraphQLNonNull)}
    declared = ", ".join(f"${a}: {spec.type}" for a, spec in required.items())
    passed = ", ".join(f"{a}: ${a}" for a in required)
    return {
        "query": f"mutation Sample{f'({declared})' if declared else ''} "
        f"{{ {name}{f'({passed})' if passed else ''} {PAYLOAD} }}",
        "variables": {a: sample_value(spec.type) for a, spec in required.items()},
    }


@dataclass(frozen=True)
class Scene:
    """The owner's data: one contact with a Shopify id and a funded wallet."""

    owner: Tenant
    contact_uuid: str
    wallet_uuid: str
    email: str = "owner.contact@example.com"
    shopify_id: str = "5550001"


@dataclass(frozen=True)
class Mutation:
    name: str
    text: str
    variables: Callable[[str, str], dict[str, Any]]  # (contact uuid, wallet uuid) -> variables


MUTATIONS = [
    Mutation(
        "createContact",
        f"mutation($c: ContactInput!) {{ createContact(contact: $c) {PAYLOAD} }}",
        lambda contact, wallet: {
            "c": {"email": "fresh@example.com", "identities": {"shopifyId": "5550002"}}
        },
    ),
    Mutation(
        "updateContact",
        "mutation($u: String!, $c: UpdateContactInput!) "
        f"{{ updateContact(uuid: $u, contact: $c) {PAYLOAD} }}",
        lambda contact, wallet: {"u": contact, "c": {"name": "Changed"}},
    ),
    Mutation(
        "upsertContact",
        f"mutation($c: ContactInput!) {{ upsertContact(contact: $c) {PAYLOAD} }}",
        lambda contact, wallet: {"c": {"email": "owner.contact@example.com", "name": "Upserted"}},
    ),
    Mutation(
        "deleteContact",
        f"mutation($u: String!) {{ deleteContact(uuid: $u) {PAYLOAD} }}",
        lambda contact, wallet: {"u": contact},
    ),
    Mutation(
        "eraseContact",
        f"mutation($u: String!) {{ eraseContact(uuid: $u) {PAYLOAD} }}",
        lambda contact, wallet: {"u": contact},
    ),
    Mutation(
        "exportContactData",
        f"mutation($u: String!) {{ exportContactData(uuid: $u) {PAYLOAD} }}",
        lambda contact, wallet: {"u": contact},
    ),
    Mutation(
        "addCreditEntry",
        f"mutation($e: AddCreditEntryInput!) {{ addCreditEntry(creditEntry: $e) {PAYLOAD} }}",
        lambda contact, wallet: {
            "e": {"walletUuid": wallet, "action": "ADD", "creditType": "GLOBAL", "amount": "1.50"}
        },
    ),
    Mutation(
        "convertCredit",
        f"mutation($c: ConvertCreditInput!) {{ convertCredit(credit: $c) {PAYLOAD} }}",
        lambda contact, wallet: {
            "c": {
                "walletUuid": wallet,
                "amount": "1.00",
                "from": "GLOBAL",
                "to": "LOCAL",
                "conversionRate": "100",
            }
        },
    ),
]
BY_NAME = {mutation.name: mutation for mutation in MUTATIONS}
# Account configuration rather than customer data: these need an admin token.
ADMIN_MUTATIONS = frozenset(
    {
        "setEarningRule",
        "updateAccountSettings",
        "createWebhook",
        "updateWebhook",
        "deleteWebhook",
        "rotateWebhookSecret",
        # Irreversible, or everything about a person at once: the account's admins only.
        "eraseContact",
        "exportContactData",
    }
)
MUTATION_NAMES = sorted(BY_NAME)


@pytest.fixture
def scene(db: Database, tenant: Tenant) -> Scene:
    created = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(
            profile={"email": "owner.contact@example.com", "name": "Owner Contact"},
            identities={"SHOPIFY": "5550001"},
        ),
    )
    fund(db, tenant, created.wallet_uuid, "10.00")
    fund(db, tenant, created.wallet_uuid, 100, credit_type="LOCAL")
    return Scene(tenant, created.customer.uuid, created.wallet_uuid)


def secrets_of(scene: Scene) -> list[str]:
    return [scene.owner.uuid, scene.contact_uuid, scene.wallet_uuid, scene.email, "5550001"]


def test_the_mutations_named_here_are_all_in_the_schema() -> None:
    assert set(MUTATION_NAMES) | ADMIN_MUTATIONS <= set(ALL_MUTATIONS)


def test_sample_mutations_are_well_formed() -> None:
    assert sample_mutation("deleteContact") == {
        "query": f"mutation Sample($uuid: String!) {{ deleteContact(uuid: $uuid) {PAYLOAD} }}",
        "variables": {"uuid": NOTHING},
    }


# --- queries ---------------------------------------------------------------------------------


def test_queries_without_a_token_are_401_with_a_json_body(api: Api, scene: Scene) -> None:
    response = api.post("/graphql", {"query": EVERYTHING})

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "errors": [
            {
                "message": "an API token is required: send 'Authorization: Bearer <token>'",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert not any(secret in response.text for secret in secrets_of(scene))


def test_another_accounts_token_sees_only_its_own_empty_account(
    api: Api, scene: Scene, other_tenant: Tenant
) -> None:
    response = api.post("/graphql", {"query": EVERYTHING}, token=other_tenant.token)

    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert body["data"]["account"]["uuid"] == other_tenant.uuid
    assert body["data"]["account"]["name"] == "Other merchant"
    assert body["data"]["account"]["contacts"] == []
    assert body["data"]["account"]["contactsCount"] == 0
    assert not any(secret in response.text for secret in secrets_of(scene))


@pytest.mark.parametrize("argument", ["uuid", "email", "shopifyId"])
def test_another_accounts_token_cannot_find_the_owners_contact_by_any_filter(
    api: Api, scene: Scene, other_tenant: Tenant, argument: str
) -> None:
    value = {"uuid": scene.contact_uuid, "email": scene.email, "shopifyId": scene.shopify_id}
    query = f"query($v: String) {{ account {{ contacts({argument}: $v) {{ uuid }} }} }}"

    data = api.data(query, {"v": value[argument]}, token=other_tenant.token)
    owners_view = api.data(query, {"v": value[argument]}, token=scene.owner.token)

    assert data == {"account": {"contacts": []}}
    assert owners_view == {"account": {"contacts": [{"uuid": scene.contact_uuid}]}}


def test_a_read_token_sees_the_same_as_the_owners_write_token(
    api: Api, db: Database, scene: Scene
) -> None:
    reader = scene.owner.with_scope(db, "read")
    # A write token: the account's own tokens (Account.authTokens) are listed to admin ones only.
    writer = scene.owner.with_scope(db, "write")

    as_reader = api.data(EVERYTHING, token=reader.token)
    as_owner = api.data(EVERYTHING, token=writer.token)

    assert as_reader == as_owner
    assert as_reader["account"]["authTokens"] == []


def test_the_owners_token_sees_every_field_of_its_contact(api: Api, scene: Scene) -> None:
    data = api.data(EVERYTHING, token=scene.owner.token)

    account = data["account"]
    assert (account["uuid"], account["name"], account["currency"]) == (
        scene.owner.uuid,
        "Test merchant",
        "USD",
    )
    assert account["contactsCount"] == 1
    [contact] = account["contacts"]
    assert (contact["uuid"], contact["number"], contact["email"], contact["name"]) == (
        scene.contact_uuid,
        1,
        scene.email,
        "Owner Contact",
    )
    assert contact["identities"] == {
        "shopify": "gid://shopify/Customer/5550001",
        "klaviyo": None,
        "lightspeed": None,
        "salesforce": None,
    }
    wallet = contact["wallet"]
    assert (wallet["uuid"], wallet["globalCreditBalance"], wallet["localCreditBalance"]) == (
        scene.wallet_uuid,
        10,
        100,
    )
    assert sorted(
        (entry["action"], entry["creditType"], entry["amountMinor"])
        for entry in wallet["creditEntries"]
    ) == [("ADD", "GLOBAL", 1000), ("ADD", "LOCAL", 100)]


# --- mutations -------------------------------------------------------------------------------


def send(api: Api, mutation: Mutation, scene: Scene, token: str | None) -> Any:
    variables = mutation.variables(scene.contact_uuid, scene.wallet_uuid)
    return api.post("/graphql", {"query": mutation.text, "variables": variables}, token=token)


def body_of(name: str, scene: Scene) -> dict[str, Any]:
    """The table's request for a mutation it knows (aimed at the owner's objects), else a sample."""
    if name in BY_NAME:
        mutation = BY_NAME[name]
        return {
            "query": mutation.text,
            "variables": mutation.variables(scene.contact_uuid, scene.wallet_uuid),
        }
    return sample_mutation(name)


@pytest.mark.parametrize("name", ALL_MUTATIONS)
def test_every_mutation_without_a_token_is_401_and_changes_nothing(
    api: Api, db: Database, scene: Scene, name: str
) -> None:
    before = account_rows(db, scene.owner.uuid)

    response = api.post("/graphql", body_of(name, scene))

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert account_rows(db, scene.owner.uuid) == before


@pytest.mark.parametrize("name", ALL_MUTATIONS)
def test_every_mutation_with_a_read_token_is_forbidden_and_changes_nothing(
    api: Api, db: Database, scene: Scene, name: str
) -> None:
    reader = scene.owner.with_scope(db, "read")
    before = account_rows(db, scene.owner.uuid)

    response = api.post("/graphql", body_of(name, scene), token=reader.token)

    assert response.status_code == 200
    needed = "admin" if name in ADMIN_MUTATIONS else "write"
    message = f"this token has the 'read' scope; this operation needs '{needed}'"
    assert response.json() == {
        "data": {
            name: {
                "success": False,
                "errors": [message],
                "userErrors": [{"field": None, "code": "FORBIDDEN", "message": message}],
            }
        }
    }
    assert account_rows(db, scene.owner.uuid) == before


@pytest.mark.parametrize("name", sorted(ADMIN_MUTATIONS))
def test_an_admin_mutation_with_a_write_token_is_forbidden_and_changes_nothing(
    api: Api, db: Database, scene: Scene, name: str
) -> None:
    writer = scene.owner.with_scope(db, "write")
    before = account_rows(db, scene.owner.uuid)

    response = api.post("/graphql", body_of(name, scene), token=writer.token)

    message = "this token has the 'write' scope; this operation needs 'admin'"
    assert response.json()["data"][name]["userErrors"] == [
        {"field": None, "code": "FORBIDDEN", "message": message}
    ]
    assert account_rows(db, scene.owner.uuid) == before


# Creating mutations land in the caller's own account: tested on their own below.
CREATING = {"createContact", "upsertContact"}


@pytest.mark.parametrize("name", sorted(set(MUTATION_NAMES) - CREATING))
def test_mutation_on_another_accounts_object_is_not_found_like_a_missing_one(
    api: Api, db: Database, scene: Scene, other_tenant: Tenant, name: str
) -> None:
    mutation = BY_NAME[name]
    owner_before = account_rows(db, scene.owner.uuid)
    other_before = account_rows(db, other_tenant.uuid)
    missing = Scene(scene.owner, str(uuid.uuid4()), str(uuid.uuid4()))

    against_owner = send(api, mutation, scene, token=other_tenant.token)
    against_nothing = send(api, mutation, missing, token=other_tenant.token)

    answer = against_owner.json()["data"][name]
    assert answer["success"] is False
    assert [error["code"] for error in answer["userErrors"]] == ["NOT_FOUND"]
    unmasked = against_nothing.text.replace(missing.contact_uuid, scene.contact_uuid).replace(
        missing.wallet_uuid, scene.wallet_uuid
    )
    assert json.loads(unmasked) == against_owner.json()
    assert scene.email not in against_owner.text
    assert account_rows(db, scene.owner.uuid) == owner_before
    assert account_rows(db, other_tenant.uuid) == other_before


@pytest.mark.parametrize("name", sorted(CREATING))
def test_create_contact_with_another_accounts_token_lands_in_that_account(
    api: Api, db: Database, scene: Scene, other_tenant: Tenant, name: str
) -> None:
    owner_before = account_rows(db, scene.owner.uuid)

    response = send(api, BY_NAME[name], scene, token=other_tenant.token)

    assert response.json() == {"data": {name: {"success": True, "errors": [], "userErrors": []}}}
    assert account_rows(db, scene.owner.uuid) == owner_before
    assert len(account_rows(db, other_tenant.uuid)["customers"]) == 1


@pytest.mark.parametrize(
    ("name", "changed"),
    [
        ("createContact", {"customers": 2, "identities": 2, "wallets": 2, "credit_entries": 2}),
        ("updateContact", {"customers": 1, "identities": 1, "wallets": 1, "credit_entries": 2}),
        # The scene's contact has entries: deleting it erases it, and the books stay.
        ("deleteContact", {"customers": 1, "identities": 0, "wallets": 1, "credit_entries": 2}),
        ("eraseContact", {"customers": 1, "identities": 0, "wallets": 1, "credit_entries": 2}),
        ("exportContactData", {"customers": 1, "identities": 1, "wallets": 1, "credit_entries": 2}),
        ("upsertContact", {"customers": 1, "identities": 1, "wallets": 1, "credit_entries": 2}),
        ("addCreditEntry", {"customers": 1, "identities": 1, "wallets": 1, "credit_entries": 3}),
        ("convertCredit", {"customers": 1, "identities": 1, "wallets": 1, "credit_entries": 4}),
    ],
)
def test_mutation_with_the_owners_token_works(
    api: Api, db: Database, scene: Scene, name: str, changed: dict[str, int]
) -> None:
    before = account_rows(db, scene.owner.uuid)

    response = send(api, BY_NAME[name], scene, token=scene.owner.token)

    assert response.json() == {"data": {name: {"success": True, "errors": [], "userErrors": []}}}
    after = account_rows(db, scene.owner.uuid)
    assert after != before
    assert {table: len(after[table]) for table in changed} == changed


def test_the_owners_mutations_change_exactly_what_they_say(
    api: Api, db: Database, scene: Scene
) -> None:
    send(api, BY_NAME["updateContact"], scene, token=scene.owner.token)
    send(api, BY_NAME["addCreditEntry"], scene, token=scene.owner.token)
    send(api, BY_NAME["convertCredit"], scene, token=scene.owner.token)

    data = api.data(
        "query($u: String) { account { contacts(uuid: $u) { name wallet { "
        "globalCreditBalance localCreditBalance } } } }",
        {"u": scene.contact_uuid},
        token=scene.owner.token,
    )

    assert data == {
        "account": {
            "contacts": [
                {
                    "name": "Changed",
                    "wallet": {
                        "globalCreditBalance": Decimal("10.50"),
                        "localCreditBalance": 200,
                    },
                }
            ]
        }
    }


# --- the core scopes by account, whatever the surface ---------------------------------------


def test_core_reads_are_scoped_by_the_principals_account(
    db: Database, scene: Scene, other_tenant: Tenant
) -> None:
    with db.read() as connection:
        found = customers.find_customers(
            connection, other_tenant.principal, uuid=scene.contact_uuid
        )
        by_email = customers.find_customers(connection, other_tenant.principal, email=scene.email)
        linked = customers.identities_for(connection, other_tenant.principal, [scene.contact_uuid])
        owned = wallets.wallets_for_customers(
            connection, other_tenant.principal, [scene.contact_uuid]
        )
        entries = wallets.entries_for_wallets(
            connection, other_tenant.principal, [scene.wallet_uuid], limit=50, offset=0
        )
        with pytest.raises(NotFound):
            wallets.get_wallet(connection, other_tenant.principal, scene.wallet_uuid)

    assert found == []
    assert by_email == []
    assert linked == {scene.contact_uuid: {}}
    assert owned == {}
    assert entries.get(scene.wallet_uuid, []) == []


def test_core_writes_are_scoped_by_the_principals_account(
    db: Database, scene: Scene, other_tenant: Tenant
) -> None:
    before = account_rows(db, scene.owner.uuid)

    with pytest.raises(NotFound):
        customers.update_customer(
            db, other_tenant.principal, scene.contact_uuid, CustomerChanges(profile={"name": "X"})
        )
    with pytest.raises(NotFound):
        customers.delete_customer(db, other_tenant.principal, scene.contact_uuid)

    assert account_rows(db, scene.owner.uuid) == before
