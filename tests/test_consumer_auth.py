"""Consumers' credentials: signup rules, login without enumeration and with slowdown, access
tokens (JWT) per account, rotating refresh tokens with reuse detection, and the settings."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from patron.core import throttle
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Forbidden
from patron.core.settings import Settings
from patron.customers import service as customers
from patron.customers.consumers import service as consumers
from patron.customers.consumers import tokens
from patron.customers.consumers.models import Registration, TokenPolicy
from patron.customers.consumers.tables import (
    consumer_login_failures,
    consumer_refresh_tokens,
    consumer_signing_keys,
)
from patron.customers.models import NewCustomer
from patron.customers.tables import customers as customers_table
from tests.support.client import Api
from tests.support.loyaltydish import (
    MERCHANT_PATH,
    PASSWORD,
    LoyaltyDish,
    changes_of,
    public_path,
    sign_up,
)
from tests.support.tenants import Tenant

REGISTER = """mutation Register($email: String!, $password1: String!, $password2: String!,
  $firstname: String!, $lastname: String!, $userType: String!, $merchantType: String,
  $phoneNumber: String, $birthday: String, $country: String, $gender: String) {
  register(email: $email, password1: $password1, password2: $password2, firstname: $firstname,
    lastname: $lastname, userType: $userType, merchantType: $merchantType,
    phoneNumber: $phoneNumber, birthday: $birthday, country: $country, gender: $gender) {
    success errors token refreshToken } }"""
GOOD = {
    "email": "ada@example.com",
    "password1": PASSWORD,
    "password2": PASSWORD,
    "firstname": "Ada",
    "lastname": "Lovelace",
    "userType": "CONSUMER",
}
LOGIN = """mutation($email: String!, $password: String!) {
  obtainToken(email: $email, password: $password) { token refreshToken success errors } }"""
REFRESH = """mutation($token: String!) {
  refreshToken(refreshToken: $token) { token refreshToken payload success errors } }"""
VERIFY = "mutation($token: String!) { verifyToken(token: $token) { payload success errors } }"
REVOKE = (
    "mutation($token: String!) { revokeToken(refreshToken: $token) { revoked success errors } }"
)
INVALID_CREDENTIALS = {
    "nonFieldErrors": [
        {"message": "Please, enter valid credentials.", "code": "invalid_credentials"}
    ]
}


@pytest.fixture
def ld(api: Api) -> LoyaltyDish:
    return LoyaltyDish(api)


def _register(ld: LoyaltyDish, tenant: Tenant, **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = ld.data(REGISTER, {**GOOD, **changes}, path=public_path(tenant.uuid))[
        "register"
    ]
    return result


def _login(ld: LoyaltyDish, tenant: Tenant, email: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = ld.data(
        LOGIN, {"email": email, "password": password}, path=public_path(tenant.uuid)
    )["obtainToken"]
    return result


# Signup


@pytest.mark.parametrize(
    ("changes", "field", "code", "message"),
    [
        (
            {"password2": PASSWORD + "x"},
            "password2",
            "password_mismatch",
            "The two password fields didn't match.",
        ),
        (
            {"password1": "sh0r!", "password2": "sh0r!"},
            "password2",
            "password_too_short",
            "This password is too short. It must contain at least 6 characters.",
        ),
        (
            {"password1": "iloveyou1", "password2": "iloveyou1"},
            "password2",
            "password_too_common",
            "This password is too common.",
        ),
        (
            {"password1": "8419203746", "password2": "8419203746"},
            "password2",
            "password_entirely_numeric",
            "This password is entirely numeric.",
        ),
        (
            {"password1": "qwerty", "password2": "qwerty"},
            "password2",
            "password_too_common",
            "This password is too common.",
        ),
        (
            {"password1": "Lovelace-1815", "password2": "Lovelace-1815"},
            "password2",
            "password_too_similar",
            "The password is too similar to your name or email.",
        ),
        ({"email": "not-an-email"}, "email", "invalid", "is not a valid email address"),
        ({"phoneNumber": "12345"}, "phoneNumber", "invalid", "must be in E.164 form"),
        ({"birthday": "1990-02-30"}, "birthday", "invalid", "must be a date as YYYY-MM-DD"),
        ({"birthday": "12/03/1990"}, "birthday", "invalid", "must be a date as YYYY-MM-DD"),
        ({"birthday": "2999-01-01"}, "birthday", "invalid", "between 1900-01-01 and today"),
        ({"gender": "ROBOT"}, "gender", "invalid", "gender must be one of FEMALE, MALE"),
        ({"country": "USA"}, "country", "invalid", "ISO 3166 two-letter code"),
        ({"userType": "OWNER"}, "userType", "invalid", "userType must be one of CONSUMER"),
        ({"merchantType": "CAFE"}, "merchantType", "invalid", "only for MERCHANT users"),
        ({"firstname": "  "}, "firstname", "invalid", "firstname must not be empty"),
    ],
)
def test_bad_signups_are_refused_field_by_field_and_change_nothing(
    db: Database,
    ld: LoyaltyDish,
    tenant: Tenant,
    changes: dict[str, str],
    field: str,
    code: str,
    message: str,
) -> None:
    before = changes_of(db, tenant.uuid)

    result = _register(ld, tenant, **changes)

    assert result["success"] is False
    assert result["token"] is None
    assert result["refreshToken"] is None
    assert list(result["errors"]) == [field]
    assert result["errors"][field][0]["code"] == code
    assert message in result["errors"][field][0]["message"]
    assert changes_of(db, tenant.uuid) == before


def test_every_problem_of_a_signup_is_reported_at_once(ld: LoyaltyDish, tenant: Tenant) -> None:
    result = _register(
        ld,
        tenant,
        email="x",
        phoneNumber="1",
        birthday="soon",
        password1="a",
        password2="a",
        gender="?",
    )

    assert set(result["errors"]) == {"email", "phoneNumber", "birthday", "password2", "gender"}


def test_a_taken_email_is_refused(db: Database, ld: LoyaltyDish, tenant: Tenant) -> None:
    assert _register(ld, tenant)["success"] is True
    before = changes_of(db, tenant.uuid)

    again = _register(ld, tenant, email="ADA@example.com")

    assert again["success"] is False
    assert again["errors"]["email"][0]["code"] == "email_taken"
    assert changes_of(db, tenant.uuid) == before


def test_passwords_are_stored_as_argon2id_and_refresh_tokens_as_hashes(
    db: Database, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)

    with db.read() as connection:
        stored = connection.execute(
            select(customers_table.c.password_hash).where(
                customers_table.c.account_id == tenant.uuid,
                customers_table.c.uuid == consumer.uuid,
            )
        ).scalar_one()
        hashes = list(
            connection.execute(
                select(consumer_refresh_tokens.c.token_hash).where(
                    consumer_refresh_tokens.c.account_id == tenant.uuid
                )
            ).scalars()
        )

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert hashes == [hashlib.sha256(consumer.refresh_token.encode()).hexdigest()]


def test_only_an_admin_token_registers_a_merchant_user(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    writer = tenant.with_scope(db, "write")
    merchant = {**GOOD, "userType": "MERCHANT", "merchantType": "BAKERY"}
    before = changes_of(db, tenant.uuid)

    public = ld.data(REGISTER, merchant, path=public_path(tenant.uuid))["register"]
    by_writer = ld.data(REGISTER, merchant, token=writer.token, scheme="Bearer")["register"]

    for refused in (public, by_writer):
        assert refused["success"] is False
        assert refused["errors"] == {
            "userType": [
                {
                    "message": "only a merchant's admin token can register a MERCHANT user",
                    "code": "forbidden",
                }
            ]
        }
    assert changes_of(db, tenant.uuid) == before
    admin = ld.data(REGISTER, merchant, token=tenant.token)["register"]
    assert admin["success"] is True


def test_a_consumer_principal_cannot_write_through_the_core(db: Database, tenant: Tenant) -> None:
    consumer = sign_up(db, tenant)
    principal = consumers.authenticate(db, TokenPolicy(secret=None), consumer.token)

    with pytest.raises(Forbidden):
        customers.create_customer(db, principal, NewCustomer(profile={"email": "z@example.com"}))

    assert principal.scope == "read"
    assert principal.customer_uuid == consumer.uuid


# Login


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)

    wrong = _login(ld, tenant, consumer.email, "Not-The-Password-1")
    unknown = _login(ld, tenant, "nobody@example.com", "Not-The-Password-1")
    malformed = _login(ld, tenant, "not an email", "x")

    expected = {
        "token": None,
        "refreshToken": None,
        "success": False,
        "errors": INVALID_CREDENTIALS,
    }
    assert wrong == unknown == malformed == expected


def test_login_is_case_insensitive_on_the_email_and_records_the_last_login(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant, email="Mixed.Case@Example.com")

    result = _login(ld, tenant, "mixed.case@example.COM", PASSWORD)

    assert result["success"] is True
    me = ld.data("{ me { pk lastLogin } }", token=result["token"])["me"]
    assert me["pk"] == consumer.number
    assert me["lastLogin"].startswith("20")


def test_repeated_failures_slow_down_an_email_whether_it_exists_or_not(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    for email in (consumer.email, "ghost@example.com"):
        for _ in range(5):
            assert _login(ld, tenant, email, "Wrong-Password-1")["errors"] == INVALID_CREDENTIALS

    blocked = _login(ld, tenant, consumer.email, PASSWORD)
    ghost = _login(ld, tenant, "ghost@example.com", PASSWORD)
    other = _login(ld, tenant, "bystander@example.com", "Wrong-Password-1")

    for refused in (blocked, ghost):
        assert refused["success"] is False
        error = refused["errors"]["nonFieldErrors"][0]
        assert error["code"] == "too_many_attempts"
        assert error["message"].startswith("too many failed logins; try again in ")
    assert other["errors"] == INVALID_CREDENTIALS
    _end_blocks(db, tenant)
    assert _login(ld, tenant, consumer.email, PASSWORD)["success"] is True


def test_a_success_clears_the_emails_failures(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    for _ in range(4):
        _login(ld, tenant, consumer.email, "Wrong-Password-1")
    assert _login(ld, tenant, consumer.email, PASSWORD)["success"] is True

    for _ in range(4):
        _login(ld, tenant, consumer.email, "Wrong-Password-1")

    assert _login(ld, tenant, consumer.email, PASSWORD)["success"] is True


def test_blocks_grow_with_each_further_failure() -> None:
    rule = throttle.EMAIL_RULE

    blocks = [rule.block_after(failures) for failures in range(1, 12)]

    assert blocks[:4] == [None] * 4
    assert blocks[4:] == [timedelta(seconds=s) for s in (15, 30, 60, 120, 240, 480, 900)]


def test_a_failure_counts_in_the_open_window_or_starts_a_new_one() -> None:
    rule = throttle.EMAIL_RULE
    start = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
    first = rule.after_failure(None, start)
    fifth = throttle.Failures(4, start, None)

    blocked = rule.after_failure(fifth, start + timedelta(minutes=5))
    anew = rule.after_failure(blocked, start + timedelta(minutes=15))

    assert first == throttle.Failures(1, start, None)
    assert blocked == throttle.Failures(5, start, start + timedelta(minutes=5, seconds=15))
    assert anew == throttle.Failures(1, start + timedelta(minutes=15), None)


def _end_blocks(db: Database, tenant: Tenant) -> None:
    """Move the account's blocks into the past, as if their time had run out."""
    with db.write() as connection:
        connection.execute(
            update(consumer_login_failures)
            .where(consumer_login_failures.c.account_id == tenant.uuid)
            .values(blocked_until=utcnow() - timedelta(seconds=1))
        )


def test_repeated_failures_slow_down_a_client_address_across_emails(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    for index in range(20):
        _login(ld, tenant, f"guess{index}@example.com", "Wrong-Password-1")

    refused = _login(ld, tenant, consumer.email, PASSWORD)

    assert refused["errors"]["nonFieldErrors"][0]["code"] == "too_many_attempts"


def test_an_archived_consumer_cannot_log_in(db: Database, ld: LoyaltyDish, tenant: Tenant) -> None:
    consumer = sign_up(db, tenant)
    from patron.customers.models import CustomerChanges

    customers.update_customer(
        db, tenant.principal, consumer.uuid, CustomerChanges(profile={"archived": True})
    )

    assert _login(ld, tenant, consumer.email, PASSWORD)["errors"] == INVALID_CREDENTIALS
    refreshed = ld.data(REFRESH, {"token": consumer.refresh_token}, path=public_path(tenant.uuid))
    assert refreshed["refreshToken"]["success"] is False


# Refresh, verify, revoke


def test_a_refresh_rotates_and_reusing_a_rotated_token_revokes_the_family(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    path = public_path(tenant.uuid)

    first = ld.data(REFRESH, {"token": consumer.refresh_token}, path=path)["refreshToken"]
    reused = ld.data(REFRESH, {"token": consumer.refresh_token}, path=path)["refreshToken"]
    after_reuse = ld.data(REFRESH, {"token": first["refreshToken"]}, path=path)["refreshToken"]

    assert first["success"] is True
    assert first["refreshToken"] != consumer.refresh_token
    assert first["payload"]["email"] == consumer.email
    assert first["payload"]["pk"] == consumer.number
    assert ld.data("{ me { pk } }", token=first["token"]) == {"me": {"pk": consumer.number}}
    assert reused["success"] is False
    assert reused["errors"]["refreshToken"][0]["code"] == "refresh_token_reused"
    assert after_reuse["success"] is False
    assert after_reuse["errors"] == {
        "refreshToken": [
            {"message": "the refresh token has been revoked", "code": "invalid_refresh_token"}
        ]
    }


def test_refresh_keeps_the_original_login_time(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    original = _claims(consumer.token)["origIat"]

    refreshed = ld.data(REFRESH, {"token": consumer.refresh_token}, token=consumer.token)[
        "refreshToken"
    ]

    assert refreshed["payload"]["origIat"] == original
    assert _claims(refreshed["token"])["origIat"] == original


def test_revoking_a_refresh_token_ends_the_login(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    path = public_path(tenant.uuid)

    revoked = ld.data(REVOKE, {"token": consumer.refresh_token}, path=path)["revokeToken"]
    refreshed = ld.data(REFRESH, {"token": consumer.refresh_token}, path=path)["refreshToken"]
    again = ld.data(REVOKE, {"token": "f" * 40}, path=path)["revokeToken"]

    assert revoked["success"] is True
    assert revoked["revoked"] >= int(time.time()) - 60
    assert refreshed["errors"]["refreshToken"][0]["message"] == "the refresh token has been revoked"
    assert again == {
        "revoked": None,
        "success": False,
        "errors": {
            "refreshToken": [
                {"message": "the refresh token is not valid", "code": "invalid_refresh_token"}
            ]
        },
    }


def test_refresh_tokens_of_another_account_are_not_valid_here(
    db: Database, ld: LoyaltyDish, tenant: Tenant, other_tenant: Tenant
) -> None:
    consumer = sign_up(db, other_tenant)

    result = ld.data(REFRESH, {"token": consumer.refresh_token}, path=public_path(tenant.uuid))[
        "refreshToken"
    ]

    assert result["errors"]["refreshToken"][0]["message"] == "the refresh token is not valid"
    # ... and it still works where it belongs.
    home = ld.data(REFRESH, {"token": consumer.refresh_token}, path=public_path(other_tenant.uuid))
    assert home["refreshToken"]["success"] is True


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def _forged(token: str, **claims: Any) -> str:
    header, _, signature = token.split(".")
    body = {**_claims(token), **claims}
    encoded = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


def _stored_key(db: Database, tenant: Tenant) -> bytes:
    with db.read() as connection:
        secret: str = connection.execute(
            select(consumer_signing_keys.c.secret).where(
                consumer_signing_keys.c.account_id == tenant.uuid
            )
        ).scalar_one()
    return secret.encode()


def _expired(db: Database, tenant: Tenant, customer_uuid: str, number: int) -> str:
    token, _ = tokens.encode_access(
        _stored_key(db, tenant),
        account_id=tenant.uuid,
        customer_uuid=customer_uuid,
        number=number,
        email=None,
        now=utcnow() - timedelta(hours=1),
        lifetime_seconds=300,
    )
    return token


def test_verify_token_accepts_a_valid_token_and_refuses_forged_and_expired_ones(
    db: Database, ld: LoyaltyDish, tenant: Tenant, other_tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    stranger = sign_up(db, other_tenant)
    path = public_path(tenant.uuid)

    valid = ld.data(VERIFY, {"token": consumer.token}, path=path)["verifyToken"]
    forged = ld.data(VERIFY, {"token": _forged(consumer.token, pk=1, sub="x")}, path=path)
    expired = ld.data(
        VERIFY, {"token": _expired(db, tenant, consumer.uuid, consumer.number)}, path=path
    )
    foreign = ld.data(VERIFY, {"token": stranger.token}, path=path)
    garbage = ld.data(VERIFY, {"token": "not.a.jwt"}, path=path)

    assert valid["success"] is True
    assert valid["payload"]["email"] == consumer.email
    assert valid["payload"]["exp"] - _claims(consumer.token)["iat"] == 300
    invalid = {"message": "the token is not a valid access token", "code": "invalid_token"}
    assert forged["verifyToken"]["errors"] == {"nonFieldErrors": [invalid]}
    assert foreign["verifyToken"]["errors"] == {"nonFieldErrors": [invalid]}
    assert garbage["verifyToken"]["errors"] == {"nonFieldErrors": [invalid]}
    assert expired["verifyToken"]["errors"] == {
        "nonFieldErrors": [
            {
                "message": "the access token has expired; renew it with refreshToken",
                "code": "token_expired",
            }
        ]
    }


def test_bad_access_tokens_are_401_on_every_endpoint(
    db: Database, ld: LoyaltyDish, tenant: Tenant, other_tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    stranger = sign_up(db, other_tenant)
    unsigned = (
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
        + "."
        + base64.urlsafe_b64encode(
            json.dumps({**_claims(consumer.token), "exp": 9_999_999_999}).encode()
        )
        .decode()
        .rstrip("=")
        + "."
    )
    cases = {
        "forged": (_forged(consumer.token, sub=stranger.uuid), MERCHANT_PATH),
        "expired": (_expired(db, tenant, consumer.uuid, consumer.number), MERCHANT_PATH),
        "unsigned": (unsigned, MERCHANT_PATH),
        "another account's consumer": (stranger.token, public_path(tenant.uuid)),
        "another account's merchant": (other_tenant.token, public_path(tenant.uuid)),
        "garbage": ("abc", public_path(tenant.uuid)),
    }

    answers = {
        name: ld.post("{ me { pk email } }", token=token, path=path)
        for name, (token, path) in cases.items()
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        cases, 401
    )
    assert "expired" in answers["expired"].json()["errors"][0]["message"]
    assert all(consumer.email not in answer.text for answer in answers.values())


def test_bearer_and_jwt_schemes_both_carry_either_kind_of_token(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = sign_up(db, tenant)
    query = "{ consumers { totalCount } }"

    answers = [
        ld.data(query, token=token, scheme=scheme)
        for token in (consumer.token, tenant.token)
        for scheme in ("JWT", "Bearer", "jwt")
    ]

    assert answers == [{"consumers": {"totalCount": 1}}] * 6


# Keys and settings


def test_a_configured_secret_signs_with_a_different_key_per_account(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    policy = TokenPolicy(secret=b"s" * 48)
    registration = Registration(
        email="keys@example.com",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Key",
        last_name="Holder",
    )
    mine = consumers.register(db, policy, tenant.uuid, registration, caller=None)

    claims = consumers.verify_access_token(db, policy, mine.access_token, account_id=tenant.uuid)
    moved = _forged(mine.access_token, acc=other_tenant.uuid)

    assert claims.customer_uuid == mine.customer.uuid
    assert tokens.derived_key(b"s" * 48, tenant.uuid) != tokens.derived_key(
        b"s" * 48, other_tenant.uuid
    )
    with pytest.raises(tokens.InvalidToken):
        consumers.verify_access_token(db, TokenPolicy(secret=b"t" * 48), mine.access_token)
    with pytest.raises(tokens.InvalidToken):
        consumers.verify_access_token(db, policy, moved)


@pytest.mark.parametrize("secret", [None, "", "secret", "changeme", "too-short-for-a-key"])
def test_outside_development_a_default_or_weak_jwt_secret_is_refused_at_start(
    secret: str | None,
) -> None:
    given: dict[str, Any] = {"environment": "production"}
    if secret is not None:
        given["jwt_secret"] = secret

    with pytest.raises(ValidationError, match="PATRON_JWT_SECRET must be a random value"):
        Settings(**given)


def test_a_strong_secret_is_accepted_and_development_needs_none() -> None:
    strong = Settings(environment="production", jwt_secret="k" * 48)

    assert strong.jwt_secret is not None
    assert Settings().jwt_secret is None
    with pytest.raises(ValidationError):
        Settings(jwt_secret="weak")
