"""Consumers: signup, login, token renewal and revocation, and what a consumer's token may read.

A consumer is a customer with a password. Its access token is a short-lived JWT signed with
its account's key; its refresh token is opaque, stored hashed, and rotates on every use.
A consumer's principal has the ``read`` scope and names its customer: it sees that one only.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core import throttle
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database
from patron.core.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    ValidationErrors,
)
from patron.core.events import record_audit
from patron.core.unit import run_command
from patron.customers import service as customer_service
from patron.customers import validation
from patron.customers.consumers import passwords, repository, tokens
from patron.customers.consumers.models import (
    MERCHANT_TYPES,
    AccessClaims,
    ConsumerPage,
    ConsumerProfile,
    ConsumerQuery,
    ProfileChanges,
    Registration,
    Session,
    TokenPolicy,
)
from patron.customers.models import Customer, CustomerChanges, NewCustomer
from patron.customers.profile import clean_profile

CREDENTIALS_MESSAGE = "Please, enter valid credentials."
MAX_PAGE = 100
_MAX_FILTER = 254


class InvalidRefreshToken(Unauthenticated):
    code = "INVALID_REFRESH_TOKEN"


class RefreshTokenReused(InvalidRefreshToken):
    code = "REFRESH_TOKEN_REUSED"


# Principals


def _account_principal(
    connection: Connection, account_id: str, *, scope: str, customer_uuid: str | None
) -> Principal | None:
    if not validation.is_uuid(account_id):
        return None
    return accounts.principal_of_account(
        connection, account_id, scope=scope, customer_uuid=customer_uuid
    )


# The customer a public caller acts for: none, as no customer has the nil uuid.
NOBODY = "00000000-0000-0000-0000-000000000000"


def public_principal(
    db: Database, account_id: str, *, connection: Connection | None = None
) -> Principal | None:
    """Who the public is at an account's signup and login endpoint: a reader of nobody.

    Given a ``connection`` (the request's read transaction) the lookup runs on it.
    """
    with _reading(db, connection) as reader:
        return _account_principal(reader, account_id, scope="read", customer_uuid=NOBODY)


@contextmanager
def _reading(db: Database, connection: Connection | None) -> Iterator[Connection]:
    if connection is not None:
        yield connection
        return
    with db.read() as own:
        yield own


def _signup_principal(
    connection: Connection, account_id: str, caller: Principal | None
) -> Principal:
    writer = _account_principal(connection, account_id, scope="write", customer_uuid=None)
    if writer is None:
        raise NotFound(f"no account with uuid '{account_id}'", field="account")
    if caller is not None and caller.token_id is not None:
        writer = dataclasses.replace(writer, token_id=caller.token_id)
    return writer


# Keys and sessions


def _signing_key(
    connection: Connection, policy: TokenPolicy, account_id: str, *, create: bool
) -> bytes | None:
    if policy.secret is not None:
        return tokens.derived_key(policy.secret, account_id)
    stored = repository.stored_key(connection, account_id)
    if stored is None and create:
        stored = tokens.new_stored_key()
        repository.insert_stored_key(connection, account_id, stored, utcnow())
    return stored.encode() if stored is not None else None


def _open_session(
    connection: Connection,
    policy: TokenPolicy,
    account_id: str,
    customer: Customer,
    now: datetime,
    *,
    family_uuid: str | None = None,
    original_issued_at: int | None = None,
) -> Session:
    key = _signing_key(connection, policy, account_id, create=True)
    assert key is not None
    access, claims = tokens.encode_access(
        key,
        account_id=account_id,
        customer_uuid=customer.uuid,
        number=customer.number,
        email=customer.email,
        now=now,
        lifetime_seconds=policy.access_seconds,
        original_issued_at=original_issued_at,
    )
    refresh = tokens.new_refresh_token()
    repository.insert_refresh_token(
        connection,
        {
            "account_id": account_id,
            "uuid": str(uuid.uuid4()),
            "token_hash": tokens.hash_refresh_token(refresh),
            "family_uuid": family_uuid or str(uuid.uuid4()),
            "customer_uuid": customer.uuid,
            "created_at": now,
            "expires_at": now + timedelta(days=policy.refresh_days),
        },
    )
    return Session(customer=customer, access_token=access, refresh_token=refresh, claims=claims)


# Signup


def parse_birthday(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{field} must be a date as YYYY-MM-DD, got '{value}'", field=field
        ) from None


def _choice(value: str, options: tuple[str, ...], field: str) -> str:
    upper = value.strip().upper()
    if upper not in options:
        raise InvalidInput(f"{field} must be one of {', '.join(options)}", field=field)
    return upper


def _registration_profile(
    registration: Registration, names: Mapping[str, str]
) -> tuple[dict[str, Any], list[DomainError]]:
    """The customer profile of a signup, checked field by field; problems are collected."""
    problems: list[DomainError] = []
    given: dict[str, Any] = {
        "email": registration.email,
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "phone": registration.phone,
        "country": registration.country,
        "city": registration.city,
        "address_line1": registration.street,
        "postal_code": registration.postal_code,
        "gender": registration.gender,
    }
    for name in ("first_name", "last_name"):
        if not str(given[name] or "").strip():
            label = names.get(name, name)
            problems.append(InvalidInput(f"{label} must not be empty", field=label))
    # An empty optional field is an absent one, as the original's forms treat it.
    profile = {key: value for key, value in given.items() if value not in (None, "")}
    if registration.birthday not in (None, ""):
        label = names.get("birthday", "birthday")
        try:
            profile["birthday"] = parse_birthday(str(registration.birthday), label)
        except DomainError as error:
            problems.append(error)
    try:
        clean_profile(profile, field_names=dict(names))  # checked here, cleaned on create
    except ValidationErrors as errors:
        problems.extend(errors.errors)
    except DomainError as error:
        problems.append(error)
    return profile, problems


def _check_registration(
    registration: Registration, caller: Principal | None, names: Mapping[str, str]
) -> tuple[dict[str, Any], str | None]:
    """The profile to create and the merchant type; every problem is reported at once."""
    problems: list[DomainError] = []
    user_type = "CONSUMER"
    try:
        user_type = _choice(
            registration.user_type, validation.USER_TYPES, names.get("user_type", "userType")
        )
    except DomainError as error:
        problems.append(error)
    merchant_type = None
    if registration.merchant_type not in (None, ""):
        label = names.get("merchant_type", "merchantType")
        try:
            merchant_type = _choice(str(registration.merchant_type), MERCHANT_TYPES, label)
            if user_type != "MERCHANT":
                raise InvalidInput(f"{label} is only for MERCHANT users", field=label)
        except DomainError as error:
            problems.append(error)
    try:
        passwords.check_strength(
            registration.password,
            confirmation=registration.password_confirmation,
            personal=(registration.email, registration.first_name, registration.last_name),
            field=names.get("password", "password"),
        )
    except ValidationErrors as errors:
        problems.extend(errors.errors)
    except DomainError as error:
        problems.append(error)
    profile, profile_problems = _registration_profile(registration, names)
    problems.extend(profile_problems)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationErrors(problems)
    if user_type == "MERCHANT" and (
        caller is None or caller.customer_uuid is not None or not caller.can("admin")
    ):
        label = names.get("user_type", "userType")
        raise Forbidden("only a merchant's admin token can register a MERCHANT user", field=label)
    profile["user_type"] = user_type
    return profile, merchant_type


def register(
    db: Database,
    policy: TokenPolicy,
    account_id: str,
    registration: Registration,
    *,
    caller: Principal | None,
    field_names: Mapping[str, str] | None = None,
) -> Session:
    """A new customer with a password, logged in: customer, wallet, profile extras and the
    first refresh token in one transaction. ``caller`` is whoever asks (None: the public)."""
    if caller is not None and caller.account_id != account_id:
        raise Forbidden("the token belongs to another account")
    names = field_names or {}
    profile, merchant_type = _check_registration(registration, caller, names)
    hashed = passwords.hash_password(registration.password)

    def write(connection: Connection) -> Session:
        writer = _signup_principal(connection, account_id, caller)
        created = customer_service.add_customer(
            connection, writer, NewCustomer(profile=profile, password_hash=hashed)
        )
        now = utcnow()
        creator = None
        if caller is not None and caller.customer_uuid is not None:
            inviting = customer_service.customer_in_account(
                connection, account_id, caller.customer_uuid
            )
            if inviting is not None and inviting.user_type == "MERCHANT":
                creator = inviting.uuid
        repository.save_profile(
            connection,
            account_id,
            created.customer.uuid,
            {"merchant_type": merchant_type, "creator_uuid": creator, "last_login_at": now},
            now,
        )
        record_audit(
            connection,
            account_id,
            action="consumer.registered",
            subject_type="contact",
            subject_uuid=created.customer.uuid,
            # Signing up without a token, the consumer acts for themselves.
            actor=caller.actor if caller is not None else f"consumer:{created.customer.uuid}",
            actor_name=caller.actor_name if caller is not None else None,
            details={"user_type": profile["user_type"]},
        )
        return _open_session(connection, policy, account_id, created.customer, now)

    return run_command(db, write)


# Login


def _login_email(email: str) -> str:
    text = email.strip().lower()
    # Anything that cannot be a stored email simply matches nobody (and NUL never reaches SQL).
    if len(text) > 254 or any(ord(char) < 32 for char in text):
        return ""
    return text


def obtain_token(
    db: Database,
    policy: TokenPolicy,
    account_id: str,
    email: str,
    password: str,
    *,
    client_address: str | None = None,
) -> Session:
    """A session for the right email and password. Wrong credentials get one message whether
    the email exists or not, and repeated failures block the email and the address a while."""
    wanted = _login_email(email)
    subjects = throttle.subjects(wanted, client_address)
    now = utcnow()
    with db.read() as connection:
        if _account_principal(connection, account_id, scope="read", customer_uuid=None) is None:
            raise NotFound(f"no account with uuid '{account_id}'", field="account")
        until = repository.blocked_until(connection, account_id, subjects, now)
        found = repository.credentials_by_email(connection, account_id, wanted) if wanted else None
    throttle.refuse_if_blocked(until, now)
    matches = passwords.verify_password(found.password_hash if found else None, password)
    if found is None or not matches or found.archived:

        def fail(connection: Connection) -> None:
            for subject in subjects:
                repository.record_failure(
                    connection, account_id, subject, throttle.rule_for(subject), now
                )

        run_command(db, fail)
        raise throttle.InvalidCredentials(CREDENTIALS_MESSAGE)
    rehashed = (
        passwords.hash_password(password) if passwords.needs_rehash(found.password_hash) else None
    )

    def succeed(connection: Connection) -> Session:
        customer = customer_service.customer_in_account(connection, account_id, found.uuid)
        if customer is None:
            raise throttle.InvalidCredentials(CREDENTIALS_MESSAGE)
        moment = utcnow()
        repository.clear_failures(connection, account_id, subjects[0])
        if rehashed is not None:
            repository.set_password_hash(connection, account_id, customer.uuid, rehashed)
        repository.save_profile(
            connection, account_id, customer.uuid, {"last_login_at": moment}, moment
        )
        return _open_session(connection, policy, account_id, customer, moment)

    return run_command(db, succeed)


# Renewal, revocation, verification


def _refresh_row(connection: Connection, refresh_token: str, account_id: str | None) -> Any:
    if not tokens.looks_like_refresh_token(refresh_token):
        return None
    row = repository.refresh_token_by_hash(connection, tokens.hash_refresh_token(refresh_token))
    if row is None or (account_id is not None and row.account_id != account_id):
        return None
    return row


def refresh_session(
    db: Database, policy: TokenPolicy, refresh_token: str, *, account_id: str | None = None
) -> Session:
    """A new access token and a new refresh token for a live one, which is used up.

    Presenting a used refresh token again revokes its whole family: one of the two
    presenters is not the consumer.
    """

    def write(connection: Connection) -> Session | DomainError:
        now = utcnow()
        row = _refresh_row(connection, refresh_token, account_id)
        if row is None:
            return InvalidRefreshToken("the refresh token is not valid", field="refreshToken")
        if row.revoked_at is not None:
            return InvalidRefreshToken("the refresh token has been revoked", field="refreshToken")
        if as_utc(row.expires_at) <= now:
            return InvalidRefreshToken("the refresh token has expired", field="refreshToken")
        if not repository.rotate_refresh_token(connection, row.account_id, row.uuid, now):
            repository.revoke_family(connection, row.account_id, row.family_uuid, now)
            record_audit(
                connection,
                row.account_id,
                action="consumer.refresh_token_reused",
                subject_type="contact",
                subject_uuid=row.customer_uuid,
                actor=f"consumer:{row.customer_uuid}",
                details={"family": row.family_uuid},
            )
            return RefreshTokenReused(
                "the refresh token was already used; every token of this login is now revoked",
                field="refreshToken",
            )
        customer = customer_service.customer_in_account(
            connection, row.account_id, row.customer_uuid
        )
        if customer is None or customer.archived:
            repository.revoke_family(connection, row.account_id, row.family_uuid, now)
            return InvalidRefreshToken("the refresh token is not valid", field="refreshToken")
        started = repository.family_started_at(connection, row.account_id, row.family_uuid)
        return _open_session(
            connection,
            policy,
            row.account_id,
            customer,
            now,
            family_uuid=row.family_uuid,
            original_issued_at=int(started.timestamp()),
        )

    # A refusal is returned rather than raised so that a family revocation is committed.
    result = run_command(db, write)
    if isinstance(result, DomainError):
        raise result
    return result


def revoke_refresh_token(
    db: Database, refresh_token: str, *, account_id: str | None = None
) -> None:
    """Log out: the refresh token and every token renewed from the same login stop working."""

    def write(connection: Connection) -> bool:
        row = _refresh_row(connection, refresh_token, account_id)
        if row is None:
            return False
        repository.revoke_family(connection, row.account_id, row.family_uuid, utcnow())
        return True

    if not run_command(db, write):
        raise InvalidRefreshToken("the refresh token is not valid", field="refreshToken")


def _verified(
    connection: Connection, policy: TokenPolicy, token: str, account_id: str | None
) -> tuple[AccessClaims, Customer]:
    claimed = tokens.unverified_account(token)
    if account_id is not None and claimed != account_id:
        raise tokens.InvalidToken("the token is not a valid access token")
    if not validation.is_uuid(claimed):
        raise tokens.InvalidToken("the token is not a valid access token")
    key = _signing_key(connection, policy, claimed, create=False)
    if key is None:
        raise tokens.InvalidToken("the token is not a valid access token")
    claims = tokens.decode_access(token, key)
    customer = (
        customer_service.customer_in_account(connection, claimed, claims.customer_uuid)
        if validation.is_uuid(claims.customer_uuid)
        else None
    )
    if customer is None or customer.archived:
        raise tokens.InvalidToken("the token's consumer no longer exists or is inactive")
    return claims, customer


def verify_access_token(
    db: Database, policy: TokenPolicy, token: str, *, account_id: str | None = None
) -> AccessClaims:
    """The claims of a valid, unexpired access token of a consumer that still exists."""
    with db.read() as connection:
        return _verified(connection, policy, token, account_id)[0]


def authenticate(
    db: Database,
    policy: TokenPolicy,
    token: str,
    *,
    account_id: str | None = None,
    connection: Connection | None = None,
) -> Principal:
    """The principal of a consumer's access token: read-only, and only for that consumer."""
    with _reading(db, connection) as reader:
        claims, customer = _verified(reader, policy, token, account_id)
        principal = _account_principal(
            reader, claims.account_id, scope="read", customer_uuid=customer.uuid
        )
    if principal is None:  # pragma: no cover - an account is never deleted under its customers
        raise tokens.InvalidToken("the token is not a valid access token")
    return principal


# What a principal may read


def _only(principal: Principal) -> str | None:
    return principal.customer_uuid


def _filter(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value) > _MAX_FILTER or any(ord(char) < 32 for char in value):
        raise InvalidInput(
            f"{field} must be at most {_MAX_FILTER} characters without control characters",
            field=field,
        )
    return value


def _size(value: int | None, field: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_PAGE:
        raise InvalidInput(f"{field} must be between 0 and {MAX_PAGE}, got {value}", field=field)
    return value


def find_consumers(
    connection: Connection, principal: Principal, query: ConsumerQuery
) -> ConsumerPage:
    """A window of consumers ordered by number (relay-style first/after, last/before).

    A consumer's principal finds itself at most. Without first or last, the first 100.
    """
    first = _size(query.first, "first")
    last = _size(query.last, "last")
    clean = dataclasses.replace(
        query,
        loyalty_id=_filter(query.loyalty_id, "loyaltyId"),
        phone_contains=_filter(query.phone_contains, "phoneNumber"),
        email_contains=_filter(query.email_contains, "email"),
    )
    if first is None and last is None:
        first = MAX_PAGE
    account_id, only = principal.account_id, _only(principal)
    if first is not None:
        rows = repository.consumer_window(
            connection, account_id, only, clean, size=first + 1, from_end=False
        )
        has_next, rows = len(rows) > first, rows[:first]
        has_previous = clean.after is not None
        if last is not None and len(rows) > last:
            rows, has_previous = rows[len(rows) - last :], True
        return ConsumerPage(customers=rows, has_next=has_next, has_previous=has_previous)
    assert last is not None
    rows = repository.consumer_window(
        connection, account_id, only, clean, size=last + 1, from_end=True
    )
    has_previous, rows = len(rows) > last, rows[len(rows) - last :] if last else []
    return ConsumerPage(
        customers=rows, has_next=clean.before is not None, has_previous=has_previous
    )


def count_consumers(connection: Connection, principal: Principal, query: ConsumerQuery) -> int:
    """How many consumers the filters of ``query`` match (its window aside)."""
    clean = dataclasses.replace(
        query,
        loyalty_id=_filter(query.loyalty_id, "loyaltyId"),
        phone_contains=_filter(query.phone_contains, "phoneNumber"),
        email_contains=_filter(query.email_contains, "email"),
    )
    return repository.count_consumers(connection, principal.account_id, _only(principal), clean)


def consumer_by_number(
    connection: Connection, principal: Principal, number: int
) -> Customer | None:
    """The consumer with this per-account number, if the principal may see it."""
    if not 1 <= number < 2**63:
        return None
    return repository.customer_by_number(connection, principal.account_id, _only(principal), number)


def find_consumer(
    connection: Connection,
    principal: Principal,
    *,
    loyalty_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Customer:
    """The one consumer every given identifier matches; a consumer's principal may name none
    (it means itself) and finds nobody else."""
    loyalty_id = _filter(loyalty_id, "loyaltyId")
    email = _filter(email, "email")
    phone = _filter(phone, "phoneNumber")
    if loyalty_id is None and email is None and phone is None and principal.customer_uuid is None:
        raise InvalidInput(
            "name the consumer: give a loyalty id, an email or a phone number",
            field="consumerLoyaltyId",
        )
    found = repository.customers_matching(
        connection,
        principal.account_id,
        _only(principal),
        loyalty_id=loyalty_id,
        email=email.strip().lower() if email is not None else None,
        phone=phone.strip().replace(" ", "") if phone is not None else None,
    )
    if not found:
        raise NotFound("no consumer matches the loyalty id, email or phone number given")
    if len(found) > 1:
        raise InvalidInput(
            "several consumers have this phone number: give their loyalty id or email",
            field="consumerPhoneNumber",
        )
    return found[0]


def customers_by_uuid(
    connection: Connection, principal: Principal, customer_uuids: list[str]
) -> dict[str, Customer]:
    """The customers the principal may see among ``customer_uuids``."""
    return repository.customers_by_uuid(
        connection, principal.account_id, _only(principal), customer_uuids
    )


def profiles_for(
    connection: Connection, principal: Principal, customer_uuids: list[str]
) -> dict[str, ConsumerProfile]:
    if principal.customer_uuid is not None:
        customer_uuids = [uuid for uuid in customer_uuids if uuid == principal.customer_uuid]
    return repository.profiles_for(connection, principal.account_id, customer_uuids)


# Merchants changing a consumer's extras


def _clean_changes(changes: ProfileChanges, principal: Principal) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in changes.values.items():
        if key == "merchant_type":
            cleaned[key] = (
                None if value is None else _choice(str(value), MERCHANT_TYPES, "merchantType")
            )
        elif key == "logo":
            text = validation.text(str(value), field="logo", max_length=2000) if value else None
            if text and not text.startswith(("https://", "http://")):
                raise InvalidInput("logo must be an http(s) URL", field="logo")
            cleaned[key] = text
        elif key == "order_discounts_allowed":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
                raise InvalidInput(
                    "numOfOrderDiscountsAllowed must be a whole number from 0 to 1000000",
                    field="numOfOrderDiscountsAllowed",
                )
            cleaned[key] = value
        elif key in ("staff", "admin"):
            if not isinstance(value, bool):
                raise InvalidInput(f"{key} must be true or false", field=key)
            principal.require("admin")
            cleaned[key] = value
        else:
            raise InvalidInput(f"unknown consumer field '{key}'", field=key)
    return cleaned


def update_profile(
    db: Database, principal: Principal, customer_uuid: str, changes: ProfileChanges
) -> ConsumerProfile:
    """Change a consumer's extras (staff and admin need the admin scope)."""
    _check_may_change(principal)
    cleaned = _clean_changes(changes, principal)
    return run_command(
        db, lambda connection: _save_extras(connection, principal, customer_uuid, cleaned)
    )


def update_consumer(
    db: Database,
    principal: Principal,
    customer_uuid: str,
    changes: CustomerChanges,
    extras: ProfileChanges,
) -> Customer:
    """Change a consumer's customer fields and extras together, in one transaction."""
    _check_may_change(principal)
    cleaned = _clean_changes(extras, principal)

    def write(connection: Connection) -> Customer:
        _save_extras(connection, principal, customer_uuid, cleaned)
        if not changes.profile and not changes.identities and changes.connected_services is None:
            found = customer_service.customer_in_account(
                connection, principal.account_id, customer_uuid
            )
            assert found is not None  # _save_extras found it
            return found
        return customer_service.change_customer(connection, principal, customer_uuid, changes)

    return run_command(db, write)


def _check_may_change(principal: Principal) -> None:
    principal.require("write")
    if principal.customer_uuid is not None:
        raise Forbidden("a consumer's token cannot change consumers")


def _save_extras(
    connection: Connection, principal: Principal, customer_uuid: str, cleaned: dict[str, Any]
) -> ConsumerProfile:
    if not validation.is_uuid(customer_uuid) or (
        customer_service.customer_in_account(connection, principal.account_id, customer_uuid)
        is None
    ):
        raise NotFound(f"no consumer with uuid '{customer_uuid}'", field="id")
    if cleaned:
        repository.save_profile(connection, principal.account_id, customer_uuid, cleaned, utcnow())
    return repository.profiles_for(connection, principal.account_id, [customer_uuid])[customer_uuid]
