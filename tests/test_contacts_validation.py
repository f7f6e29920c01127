"""The contacts API beyond the seed's text: list arguments, updateContact, per-account numbers,
and every refused input, each with its message and proof that nothing changed."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from email_validator import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.customers import service as customers
from patron.customers import validation
from patron.customers.models import NewCustomer
from tests.support.client import Api
from tests.support.store import account_rows, outbox
from tests.support.tenants import Tenant, make_contact

CREATE = """
mutation Create($contact: ContactInput!) {
  createContact(contact: $contact) {
    success
    errors
    userErrors { field code message }
    contact { uuid number name email phone identities { shopify klaviyo lightspeed } }
  }
}
"""

UPDATE = """
mutation Update($uuid: String!, $contact: UpdateContactInput!) {
  updateContact(uuid: $uuid, contact: $contact) {
    success
    errors
    userErrors { field code message }
    contact { uuid number name email phone identities { shopify klaviyo lightspeed } }
  }
}
"""

DELETE = """
mutation Delete($uuid: String!) {
  deleteContact(uuid: $uuid) { success errors userErrors { field code message } }
}
"""

LIST = """
query List($limit: Int, $offset: Int, $uuid: String, $email: String, $shopifyId: String) {
  account {
    contacts(limit: $limit, offset: $offset, uuid: $uuid, email: $email, shopifyId: $shopifyId) {
      uuid
      email
    }
  }
}
"""


def create(api: Api, tenant: Tenant, **contact: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data(CREATE, {"contact": contact}, token=tenant.token)[
        "createContact"
    ]
    return result


def update(api: Api, tenant: Tenant, contact_uuid: str, **contact: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.data(
        UPDATE, {"uuid": contact_uuid, "contact": contact}, token=tenant.token
    )["updateContact"]
    return result


def listed(api: Api, tenant: Tenant, **arguments: Any) -> list[str]:
    data = api.data(LIST, arguments, token=tenant.token)
    return [contact["uuid"] for contact in data["account"]["contacts"]]


def refused(message: str, field: str, code: str = "INVALID") -> dict[str, Any]:
    return {
        "success": False,
        "errors": [message],
        "userErrors": [{"field": field, "code": code, "message": message}],
        "contact": None,
    }


# --- contacts(limit, offset, uuid, email, shopifyId) ---------------------------------------


def test_contacts_are_listed_newest_first(api: Api, db: Database, tenant: Tenant) -> None:
    first = make_contact(db, tenant).customer.uuid
    second = make_contact(db, tenant).customer.uuid
    third = make_contact(db, tenant).customer.uuid

    assert listed(api, tenant) == [third, second, first]


def test_contacts_default_to_a_page_of_50(api: Api, db: Database, tenant: Tenant) -> None:
    created = [make_contact(db, tenant).customer.uuid for _ in range(51)]

    page = listed(api, tenant)

    assert page == list(reversed(created))[:50]


def test_contacts_limit_and_offset_page_through_all(api: Api, db: Database, tenant: Tenant) -> None:
    created = [make_contact(db, tenant).customer.uuid for _ in range(5)]
    newest_first = list(reversed(created))

    assert listed(api, tenant, limit=2, offset=0) == newest_first[0:2]
    assert listed(api, tenant, limit=2, offset=2) == newest_first[2:4]
    assert listed(api, tenant, limit=2, offset=4) == newest_first[4:5]
    assert listed(api, tenant, limit=0) == []
    assert listed(api, tenant, limit=250, offset=5) == []


def test_contacts_limit_of_250_is_allowed(api: Api, db: Database, tenant: Tenant) -> None:
    only = make_contact(db, tenant).customer.uuid

    assert listed(api, tenant, limit=250) == [only]


@pytest.mark.parametrize(
    ("arguments", "message", "field"),
    [
        ({"limit": 251}, "limit must be between 0 and 250, got 251", "limit"),
        ({"limit": 10_000}, "limit must be between 0 and 250, got 10000", "limit"),
        ({"limit": -1}, "limit must be between 0 and 250, got -1", "limit"),
        ({"offset": -1}, "offset must be 0 or more, got -1", "offset"),
    ],
)
def test_contacts_page_out_of_range_is_a_clear_error(
    api: Api,
    db: Database,
    tenant: Tenant,
    arguments: dict[str, int],
    message: str,
    field: str,
) -> None:
    make_contact(db, tenant)

    body = api.graphql(LIST, arguments, token=tenant.token)

    assert body["data"] is None
    assert [(error["message"], error["extensions"]) for error in body["errors"]] == [
        (message, {"code": "INVALID", "field": field})
    ]


def test_contacts_filter_by_uuid(api: Api, db: Database, tenant: Tenant) -> None:
    wanted = make_contact(db, tenant).customer.uuid
    make_contact(db, tenant)

    assert listed(api, tenant, uuid=wanted) == [wanted]
    assert listed(api, tenant, uuid=str(uuid.uuid4())) == []
    assert listed(api, tenant, uuid="not-a-uuid") == []


def test_contacts_filter_by_email_ignores_case(api: Api, db: Database, tenant: Tenant) -> None:
    wanted = make_contact(db, tenant, email="Mixed.Case@Example.COM").customer.uuid
    make_contact(db, tenant, email="other@example.com")

    assert listed(api, tenant, email="mixed.case@example.com") == [wanted]
    assert listed(api, tenant, email="MIXED.CASE@EXAMPLE.COM") == [wanted]
    assert listed(api, tenant, email="Mixed.Case@Example.COM") == [wanted]
    assert listed(api, tenant, email="mixed@example.com") == []


def test_contacts_keep_the_email_as_written(api: Api, db: Database, tenant: Tenant) -> None:
    make_contact(db, tenant, email="Mixed.Case@Example.COM")

    data = api.data(LIST, {"email": "mixed.case@example.com"}, token=tenant.token)

    assert data["account"]["contacts"][0]["email"] == "Mixed.Case@Example.COM"


@pytest.mark.parametrize(
    ("stored", "searched"),
    [
        ("gid://shopify/Customer/7001", "gid://shopify/Customer/7001"),
        ("gid://shopify/Customer/7001", "7001"),
        ("7001", "gid://shopify/Customer/7001"),
        ("7001", "7001"),
    ],
)
def test_contacts_filter_by_shopify_id_as_gid_or_number(
    api: Api, db: Database, tenant: Tenant, stored: str, searched: str
) -> None:
    wanted = customers.create_customer(
        db, tenant.principal, NewCustomer(identities={"SHOPIFY": stored})
    ).customer.uuid
    customers.create_customer(db, tenant.principal, NewCustomer(identities={"SHOPIFY": "7002"}))

    assert listed(api, tenant, shopifyId=searched) == [wanted]
    assert listed(api, tenant, shopifyId="7003") == []


def test_contacts_filter_by_malformed_shopify_id_is_a_clear_error(api: Api, tenant: Tenant) -> None:
    body = api.graphql(LIST, {"shopifyId": "gid://shopify/Order/1"}, token=tenant.token)

    assert body["data"] is None
    assert [(error["message"], error["extensions"]) for error in body["errors"]] == [
        (
            "shopifyId must be a Shopify customer GID (gid://shopify/Customer/123) or number",
            {"code": "INVALID", "field": "shopifyId"},
        )
    ]


def test_contacts_filters_combine(api: Api, db: Database, tenant: Tenant) -> None:
    wanted = customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(profile={"email": "both@example.com"}, identities={"SHOPIFY": "81"}),
    ).customer.uuid

    assert listed(api, tenant, email="both@example.com", shopifyId="81") == [wanted]
    assert listed(api, tenant, email="both@example.com", shopifyId="82") == []
    assert listed(api, tenant, uuid=wanted, email="other@example.com") == []


# --- number: per account, from 1 ------------------------------------------------------------


def test_number_starts_at_1_in_each_account(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    first = create(api, tenant, email="one@example.com")
    second = create(api, tenant, email="two@example.com")
    elsewhere = create(api, other_tenant, email="one@example.com")

    assert first["contact"]["number"] == 1
    assert second["contact"]["number"] == 2
    assert elsewhere["contact"]["number"] == 1


def test_number_is_not_reused_after_a_delete(api: Api, tenant: Tenant) -> None:
    first = create(api, tenant, email="one@example.com")
    api.data(DELETE, {"uuid": first["contact"]["uuid"]}, token=tenant.token)

    second = create(api, tenant, email="two@example.com")

    assert second["contact"]["number"] == 2


def test_a_refused_create_does_not_use_up_a_number(api: Api, tenant: Tenant) -> None:
    create(api, tenant, email="bad")

    created = create(api, tenant, email="good@example.com")

    assert created["contact"]["number"] == 1


# --- updateContact ---------------------------------------------------------------------------


def test_update_contact_changes_only_the_fields_given(api: Api, tenant: Tenant) -> None:
    created = create(
        api,
        tenant,
        email="before@example.com",
        name="Before",
        phone="+14155550100",
        identities={"shopifyId": "500", "klaviyoId": "K-1"},
    )
    contact_uuid = created["contact"]["uuid"]

    updated = update(api, tenant, contact_uuid, name="After", identities={"lightspeedId": "LS-9"})

    assert updated == {
        "success": True,
        "errors": [],
        "userErrors": [],
        "contact": {
            "uuid": contact_uuid,
            "number": 1,
            "name": "After",
            "email": "before@example.com",
            "phone": "+14155550100",
            "identities": {
                "shopify": "gid://shopify/Customer/500",
                "klaviyo": "K-1",
                "lightspeed": "LS-9",
            },
        },
    }


def test_update_contact_with_null_clears_a_field_and_an_identity(api: Api, tenant: Tenant) -> None:
    created = create(
        api, tenant, email="clear@example.com", phone="+14155550100", identities={"shopifyId": "5"}
    )
    contact_uuid = created["contact"]["uuid"]

    updated = update(api, tenant, contact_uuid, phone=None, identities={"shopifyId": None})

    assert updated["success"] is True
    assert updated["contact"]["phone"] is None
    assert updated["contact"]["identities"] == {
        "shopify": None,
        "klaviyo": None,
        "lightspeed": None,
    }
    assert listed(api, tenant, shopifyId="5") == []


def test_update_contact_may_change_the_case_of_its_own_email(api: Api, tenant: Tenant) -> None:
    contact_uuid = create(api, tenant, email="case@example.com")["contact"]["uuid"]

    updated = update(api, tenant, contact_uuid, email="CASE@example.com")

    assert updated["success"] is True
    assert updated["contact"]["email"] == "CASE@example.com"


def test_update_contact_queues_contact_updated_with_the_changed_fields(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact_uuid = create(api, tenant, email="events@example.com")["contact"]["uuid"]

    update(api, tenant, contact_uuid, name="New", identities={"shopifyId": "77"})

    events = outbox(db, tenant.uuid)
    assert [event_type for event_type, _ in events] == ["contact.created", "contact.updated"]
    assert events[1][1] == {
        "contact_uuid": contact_uuid,
        "number": 1,
        "connected_services": [],
        "changed_fields": ["identities.SHOPIFY", "name"],
    }


def test_update_contact_moves_updated_at_but_not_created_at(api: Api, tenant: Tenant) -> None:
    contact_uuid = create(api, tenant, email="times@example.com")["contact"]["uuid"]
    query = "query($u: String) { account { contacts(uuid: $u) { createdAt updatedAt } } }"
    before = api.data(query, {"u": contact_uuid}, token=tenant.token)["account"]["contacts"][0]

    update(api, tenant, contact_uuid, name="Later")

    after = api.data(query, {"u": contact_uuid}, token=tenant.token)["account"]["contacts"][0]
    assert before["createdAt"] == before["updatedAt"]
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]


# --- refused input: a message naming the field and rule, and nothing changed -----------------


@pytest.mark.parametrize(
    ("contact", "message", "field"),
    [
        ({"email": "not-an-email"}, "email 'not-an-email' is not a valid email address", "email"),
        ({"email": "a@b"}, "email 'a@b' is not a valid email address", "email"),
        (
            {"email": "ok@example.com", "phone": "4155550100"},
            "phone '4155550100' must be in E.164 form: '+', country code and number, 8-16 chars",
            "phone",
        ),
        (
            {"email": "ok@example.com", "phone": "+1 (415) 555-0100"},
            "phone '+1 (415) 555-0100' must be in E.164 form: '+', country code and number, "
            "8-16 chars",
            "phone",
        ),
        (
            {"email": "ok@example.com", "name": "x" * 201},
            "name must be 0 to 200 characters, got 201",
            "name",
        ),
        (
            {"email": "ok@example.com", "firstName": "y" * 101},
            "firstName must be 0 to 100 characters, got 101",
            "firstName",
        ),
        (
            {"email": "ok@example.com", "identities": {"shopifyId": "gid://shopify/Order/1"}},
            "identities.shopifyId must be a Shopify customer GID (gid://shopify/Customer/123) "
            "or number",
            "identities.shopifyId",
        ),
        (
            {"identities": {"klaviyoId": "k\u0001"}},
            "identities.klaviyoId must not contain control characters",
            "identities.klaviyoId",
        ),
        (
            {"name": "Bell\u0007Byte"},
            "name must not contain control characters",
            "name",
        ),
    ],
)
def test_create_contact_refuses_bad_input_and_writes_nothing(
    api: Api,
    db: Database,
    tenant: Tenant,
    contact: dict[str, Any],
    message: str,
    field: str,
) -> None:
    make_contact(db, tenant, email="existing@example.com")
    before = account_rows(db, tenant.uuid)

    result = create(api, tenant, **contact)

    assert result == refused(message, field)
    assert account_rows(db, tenant.uuid) == before


def test_create_contact_reports_every_bad_field_at_once(
    api: Api, db: Database, tenant: Tenant
) -> None:
    before = account_rows(db, tenant.uuid)

    result = create(api, tenant, email="nope", phone="12", name="z" * 300)

    assert result["success"] is False
    assert sorted((e["field"], e["message"]) for e in result["userErrors"]) == [
        ("email", "email 'nope' is not a valid email address"),
        ("name", "name must be 0 to 200 characters, got 300"),
        ("phone", "phone '12' must be in E.164 form: '+', country code and number, 8-16 chars"),
    ]
    assert sorted(result["errors"]) == sorted(e["message"] for e in result["userErrors"])
    assert account_rows(db, tenant.uuid) == before


@pytest.mark.parametrize(
    "duplicate", ["taken@example.com", "TAKEN@Example.com", " taken@example.com "]
)
def test_create_contact_refuses_a_duplicate_email_whatever_its_case(
    api: Api, db: Database, tenant: Tenant, duplicate: str
) -> None:
    make_contact(db, tenant, email="taken@example.com")
    before = account_rows(db, tenant.uuid)

    result = create(api, tenant, email=duplicate)

    assert result == refused(
        f"email '{duplicate.strip()}' is already used by another contact", "email", "EMAIL_TAKEN"
    )
    assert account_rows(db, tenant.uuid) == before


def test_the_same_email_is_allowed_in_another_account(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    make_contact(db, tenant, email="shared@example.com")

    result = create(api, other_tenant, email="Shared@example.com")

    assert result["success"] is True
    assert result["contact"]["email"] == "Shared@example.com"


@pytest.mark.parametrize(
    ("taken", "duplicate"),
    [
        ("gid://shopify/Customer/900", "gid://shopify/Customer/900"),
        ("gid://shopify/Customer/900", "900"),
        ("900", "gid://shopify/Customer/900"),
    ],
)
def test_create_contact_refuses_a_duplicate_shopify_id_in_the_same_account(
    api: Api, db: Database, tenant: Tenant, taken: str, duplicate: str
) -> None:
    customers.create_customer(db, tenant.principal, NewCustomer(identities={"SHOPIFY": taken}))
    before = account_rows(db, tenant.uuid)

    result = create(api, tenant, email="second@example.com", identities={"shopifyId": duplicate})

    assert result == refused(
        "shopify id 'gid://shopify/Customer/900' is already linked to another contact",
        "identities.shopifyId",
        "IDENTITY_TAKEN",
    )
    assert account_rows(db, tenant.uuid) == before


def test_create_contact_refuses_a_duplicate_klaviyo_id_in_the_same_account(
    api: Api, db: Database, tenant: Tenant
) -> None:
    customers.create_customer(db, tenant.principal, NewCustomer(identities={"KLAVIYO": "K-7"}))
    before = account_rows(db, tenant.uuid)

    result = create(api, tenant, identities={"klaviyoId": "K-7"})

    assert result == refused(
        "klaviyo id 'K-7' is already linked to another contact",
        "identities.klaviyoId",
        "IDENTITY_TAKEN",
    )
    assert account_rows(db, tenant.uuid) == before


def test_the_same_identity_is_allowed_in_another_account(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    customers.create_customer(db, tenant.principal, NewCustomer(identities={"SHOPIFY": "901"}))

    result = create(api, other_tenant, identities={"shopifyId": "gid://shopify/Customer/901"})

    assert result["success"] is True
    assert result["contact"]["identities"]["shopify"] == "gid://shopify/Customer/901"


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            CREATE,
            {"contact": {"email": "enum@example.com", "connectedServices": ["SHOPIFYY"]}},
            "Variable '$contact' has invalid value at .connectedServices[0]: "
            "Value 'SHOPIFYY' does not exist in 'ConnectedServiceType' enum. "
            "Did you mean the enum value 'SHOPIFY'?",
        ),
        (
            CREATE,
            {"contact": {"email": "enum@example.com", "gender": "WOMAN"}},
            "Variable '$contact' has invalid value at .gender: "
            "Value 'WOMAN' does not exist in 'Gender' enum.",
        ),
        (
            'mutation { createContact(contact: {email: "enum@example.com", gender: WOMAN}) '
            "{ success } }",
            None,
            "Value 'WOMAN' does not exist in 'Gender' enum.",
        ),
    ],
)
def test_an_unknown_enum_value_is_a_top_level_error_and_writes_nothing(
    api: Api,
    db: Database,
    tenant: Tenant,
    query: str,
    variables: dict[str, Any] | None,
    message: str,
) -> None:
    before = account_rows(db, tenant.uuid)

    body = api.graphql(query, variables, token=tenant.token)

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [message]
    assert body["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert account_rows(db, tenant.uuid) == before


@pytest.mark.parametrize(
    ("contact", "message", "field", "code"),
    [
        ({"email": "bad@"}, "email 'bad@' is not a valid email address", "email", "INVALID"),
        (
            {"email": "OTHER@example.com"},
            "email 'OTHER@example.com' is already used by another contact",
            "email",
            "EMAIL_TAKEN",
        ),
        (
            {"phone": "+0123"},
            "phone '+0123' must be in E.164 form: '+', country code and number, 8-16 chars",
            "phone",
            "INVALID",
        ),
        (
            {"lastName": "l" * 101},
            "lastName must be 0 to 100 characters, got 101",
            "lastName",
            "INVALID",
        ),
        (
            {"identities": {"shopifyId": "333"}},
            "shopify id 'gid://shopify/Customer/333' is already linked to another contact",
            "identities.shopifyId",
            "IDENTITY_TAKEN",
        ),
        (
            {"acceptsMarketing": None},
            "acceptsMarketing must not be null",
            "acceptsMarketing",
            "INVALID",
        ),
    ],
)
def test_update_contact_refuses_bad_input_and_changes_nothing(
    api: Api,
    db: Database,
    tenant: Tenant,
    contact: dict[str, Any],
    message: str,
    field: str,
    code: str,
) -> None:
    customers.create_customer(
        db,
        tenant.principal,
        NewCustomer(profile={"email": "other@example.com"}, identities={"SHOPIFY": "333"}),
    )
    target = make_contact(db, tenant, email="target@example.com", name="Target").customer.uuid
    before = account_rows(db, tenant.uuid)

    result = update(api, tenant, target, **contact)

    assert result == refused(message, field, code)
    assert account_rows(db, tenant.uuid) == before


@pytest.mark.parametrize(
    "unknown", ["5f0c3c1e-7a1b-4c2d-8e3f-000000000001", "not-a-uuid", "", "\u0001"]
)
def test_update_and_delete_of_an_unknown_contact_are_not_found(
    api: Api, db: Database, tenant: Tenant, unknown: str
) -> None:
    make_contact(db, tenant)
    before = account_rows(db, tenant.uuid)

    updated = update(api, tenant, unknown, name="Ghost")
    deleted = api.data(DELETE, {"uuid": unknown}, token=tenant.token)["deleteContact"]

    message = f"no contact with uuid '{unknown}'"
    assert updated == refused(message, "uuid", "NOT_FOUND")
    assert deleted == {
        "success": False,
        "errors": [message],
        "userErrors": [{"field": "uuid", "code": "NOT_FOUND", "message": message}],
    }
    assert account_rows(db, tenant.uuid) == before


def test_another_accounts_contact_is_not_found_and_nothing_is_revealed(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = make_contact(db, other_tenant, email="private@example.com", name="Private")
    their_uuid = theirs.customer.uuid
    never_existed = str(uuid.uuid4())
    mine_before = account_rows(db, tenant.uuid)
    theirs_before = account_rows(db, other_tenant.uuid)

    updated = update(api, tenant, their_uuid, name="Stolen")
    deleted = api.data(DELETE, {"uuid": their_uuid}, token=tenant.token)["deleteContact"]
    updated_unknown = update(api, tenant, never_existed, name="Stolen")

    assert updated == refused(f"no contact with uuid '{their_uuid}'", "uuid", "NOT_FOUND")
    assert deleted["success"] is False
    assert deleted["errors"] == [f"no contact with uuid '{their_uuid}'"]
    assert updated_unknown == refused(
        f"no contact with uuid '{never_existed}'", "uuid", "NOT_FOUND"
    )
    assert "private" not in str(updated).lower() + str(deleted).lower()
    assert account_rows(db, tenant.uuid) == mine_before
    assert account_rows(db, other_tenant.uuid) == theirs_before


def test_an_email_taken_in_another_account_is_not_revealed_on_update(
    api: Api, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    make_contact(db, other_tenant, email="theirs@example.com")
    mine = make_contact(db, tenant, email="mine@example.com").customer.uuid

    result = update(api, tenant, mine, email="theirs@example.com")

    assert result["success"] is True
    assert result["contact"]["email"] == "theirs@example.com"


# The plain-address shortcut may only accept what email-validator accepts.
PLAIN = st.from_regex(validation._PLAIN_EMAIL, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.one_of(PLAIN, st.emails(), st.text(max_size=80)))
def test_every_address_the_plain_form_accepts_email_validator_accepts(address: str) -> None:
    if validation.is_plain_email(address) and len(address) <= 254:
        validate_email(address, check_deliverability=False)


def test_the_plain_form_leaves_what_it_does_not_know_to_the_library() -> None:
    for address in ("a@foo.test", "a@x.invalid", "a@xn--abc.com", "a..b@x.com", "a@x.y"):
        assert not validation.is_plain_email(address)
    assert validation.is_plain_email("someone.name+tag@example.com")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_text_refuses_exactly_the_control_characters_but_tab_and_newline(value: str) -> None:
    """The printable shortcut decides as the character-by-character rule does."""
    stripped = value.strip()
    if any(ord(char) < 32 and char not in "\t\n" for char in stripped):
        with pytest.raises(InvalidInput, match="control characters"):
            validation.text(value, field="name", max_length=100)
    else:
        assert validation.text(value, field="name", max_length=100) == stripped


def test_a_birthday_up_to_today_passes_and_a_later_one_or_before_1900_does_not() -> None:
    today = date.today()
    for day in (today, today - timedelta(days=1), date(1900, 1, 1)):
        assert validation.birthday(day) == day
    for day in (today + timedelta(days=1), date(2999, 1, 1), date(1899, 12, 31)):
        with pytest.raises(InvalidInput, match="between 1900-01-01 and today"):
            validation.birthday(day)
