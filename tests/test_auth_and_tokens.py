"""API tokens: how a request presents one, what a bad one gets, and how tokens are kept."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from patron.accounts import service as accounts
from patron.accounts.tables import api_tokens
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput, NotFound
from tests.support.client import Api
from tests.support.tenants import Tenant

ACCOUNT = "{ account { uuid } }"
CREATE_CONTACT_MUTATION = (
    'mutation { createContact(contact: {email: "late@example.com"}) { success } }'
)


def last_used(db: Database, token_id: str) -> datetime | None:
    with db.read() as connection:
        value = connection.execute(
            select(api_tokens.c.last_used_at).where(api_tokens.c.token_id == token_id)
        ).scalar_one()
    return as_utc(value) if value is not None else None


def refused_with(message: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer {token}"},
        {"Authorization": "bearer {token}"},
        {"Authorization": "BEARER   {token}"},
        {"X-API-Token": "{token}"},
        {"x-api-token": "{token}"},
    ],
)
def test_a_token_is_accepted_in_either_header(
    api: Api, tenant: Tenant, headers: dict[str, str]
) -> None:
    sent = {name: value.format(token=tenant.token) for name, value in headers.items()}

    response = api.post("/graphql", {"query": ACCOUNT}, headers=sent)

    assert response.status_code == 200
    assert response.json() == {"data": {"account": {"uuid": tenant.uuid}}}


def test_the_authorization_header_wins_over_x_api_token(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = api.post(
        "/graphql",
        {"query": ACCOUNT},
        headers={"Authorization": f"Bearer {tenant.token}", "X-API-Token": other_tenant.token},
    )

    assert response.json() == {"data": {"account": {"uuid": tenant.uuid}}}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "an API token is required: send 'Authorization: Bearer <token>'"),
        ({"X-API-Token": ""}, "an API token is required: send 'Authorization: Bearer <token>'"),
        ({"Authorization": "Token {token}"}, "the Authorization header must be 'Bearer <token>'"),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must be 'Bearer <token>'",
        ),
        ({"Authorization": "Bearer"}, "the Authorization header must be 'Bearer <token>'"),
        ({"Authorization": "{token}"}, "the Authorization header must be 'Bearer <token>'"),
        ({"Authorization": "Bearer not-a-patron-token"}, "the API token is malformed"),
        ({"X-API-Token": "sk_live_123"}, "the API token is malformed"),
        ({"Authorization": "Bearer patron_" + "x" * 300}, "the API token is malformed"),
        ({"Authorization": "Bearer patron_unknownunknownunknown"}, "the API token is not valid"),
        ({"X-API-Token": "{token}x"}, "the API token is not valid"),
    ],
)
def test_a_missing_malformed_or_unknown_token_is_401_with_a_json_body(
    api: Api, tenant: Tenant, headers: dict[str, str], message: str
) -> None:
    sent = {name: value.format(token=tenant.token) for name, value in headers.items()}

    response = api.post("/graphql", {"query": ACCOUNT}, headers=sent)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == refused_with(message)


def test_a_revoked_token_stops_writing_at_once_and_reading_within_a_second(
    api: Api, db: Database, tenant: Tenant
) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="write")
    for _ in range(3):  # a known read, answered with a principal kept for a second
        assert api.data(ACCOUNT, token=issued.token) == {"account": {"uuid": tenant.uuid}}

    revoked = accounts.revoke_token(db, issued.info.token_id)
    revoked_at = time.monotonic()
    write = api.post("/graphql", {"query": CREATE_CONTACT_MUTATION}, token=issued.token)
    reads = []
    while time.monotonic() - revoked_at < 1.5:
        reads.append(
            (
                time.monotonic() - revoked_at,
                api.post("/graphql", {"query": ACCOUNT}, token=issued.token).status_code,
            )
        )
        time.sleep(0.05)

    assert revoked.revoked_at is not None
    assert write.status_code == 401
    assert write.json() == refused_with("the API token has been revoked")
    # Within the documented second every read is refused, and each one after it.
    assert all(status == 401 for elapsed, status in reads if elapsed >= 1.0), reads
    assert api.data(ACCOUNT, token=tenant.token) == {"account": {"uuid": tenant.uuid}}


def test_revoking_twice_keeps_the_first_revocation_time(db: Database, tenant: Tenant) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid)

    first = accounts.revoke_token(db, issued.info.token_id)
    second = accounts.revoke_token(db, issued.info.token_id)

    assert second.revoked_at == first.revoked_at


def test_revoking_an_unknown_token_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="no token with id 'nope'"):
        accounts.revoke_token(db, "nope")


def test_last_used_at_is_set_by_the_first_request(api: Api, db: Database, tenant: Tenant) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="read")
    assert last_used(db, issued.info.token_id) is None
    started = utcnow()

    api.data(ACCOUNT, token=issued.token)

    used = last_used(db, issued.info.token_id)
    assert used is not None
    assert started <= used <= utcnow()


def test_last_used_at_is_not_rewritten_on_every_request(
    api: Api, db: Database, tenant: Tenant
) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="read")
    api.data(ACCOUNT, token=issued.token)
    first = last_used(db, issued.info.token_id)

    for _ in range(3):
        api.data(ACCOUNT, token=issued.token)

    assert last_used(db, issued.info.token_id) == first


def test_last_used_at_moves_once_the_throttle_window_has_passed(
    api: Api, db: Database, tenant: Tenant
) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="read")
    long_ago = utcnow() - timedelta(minutes=5)
    with db.write() as connection:
        connection.execute(
            update(api_tokens)
            .where(api_tokens.c.token_id == issued.info.token_id)
            .values(last_used_at=long_ago)
        )
    started = utcnow()

    api.data(ACCOUNT, token=issued.token)

    used = last_used(db, issued.info.token_id)
    assert used is not None
    assert used >= started


def test_a_token_is_random_prefixed_and_stored_only_as_its_sha256(
    db: Database, tenant: Tenant
) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="write", name="shop")
    another = accounts.create_token(db, account_uuid=tenant.uuid, scope="write", name="shop")

    with db.read() as connection:
        row = connection.execute(
            select(api_tokens).where(api_tokens.c.token_id == issued.info.token_id)
        ).one()

    assert issued.token.startswith("patron_")
    assert len(issued.token) >= len("patron_") + 43  # 32 random bytes, base64url
    assert issued.token != another.token
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert row.prefix == issued.token[:13]
    assert issued.token not in repr(tuple(row))
    assert (row.account_id, row.scope, row.name, row.revoked_at) == (
        tenant.uuid,
        "write",
        "shop",
        None,
    )


def test_token_lists_never_show_the_secret(db: Database, tenant: Tenant) -> None:
    issued = accounts.create_token(db, account_uuid=tenant.uuid, scope="admin")

    listed = accounts.list_tokens(db, account_uuid=tenant.uuid)

    assert issued.info.token_id in [token.token_id for token in listed]
    assert issued.token not in repr(listed)
    assert {token.account_uuid for token in listed} == {tenant.uuid}


@pytest.mark.parametrize("scope", ["owner", "READ", ""])
def test_a_token_scope_must_be_read_write_or_admin(
    db: Database, tenant: Tenant, scope: str
) -> None:
    with pytest.raises(InvalidInput, match="scope must be one of read, write, admin"):
        accounts.create_token(db, account_uuid=tenant.uuid, scope=scope)


def test_a_token_for_an_unknown_account_is_not_found(db: Database) -> None:
    unknown = secrets.token_hex(8)

    with pytest.raises(NotFound, match=f"no account with uuid '{unknown}'"):
        accounts.create_token(db, account_uuid=unknown)


@pytest.mark.parametrize("scope", ["write", "admin"])
def test_write_and_admin_tokens_may_write(
    api: Api, db: Database, tenant: Tenant, scope: str
) -> None:
    writer = tenant.with_scope(db, scope)

    data = api.data(
        "mutation { createContact(contact: {}) { success errors } }", token=writer.token
    )

    assert data == {"createContact": {"success": True, "errors": []}}
