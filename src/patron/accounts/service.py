"""Accounts (tenants) and their API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patron.accounts import repository
from patron.accounts import settings as account_settings
from patron.accounts.principal import SCOPES, Principal
from patron.core import numbering
from patron.core.clock import as_utc, utcnow
from patron.core.db import Database, Rerun
from patron.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from patron.core.money import normalise_currency

TOKEN_PREFIX = "patron_"  # noqa: S105 - a prefix, not a secret
_TOKEN_BYTES = 32
MAX_POINTS_PRECISION = 6


@dataclass(frozen=True, slots=True)
class Account:
    uuid: str
    name: str
    currency: str
    points_precision: int
    settings: dict[str, Any]
    created_at: datetime
    number: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    account_uuid: str
    scope: str
    name: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    info: TokenInfo
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _validate_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    return scope


def create_account(
    db: Database, *, name: str, currency: str = "USD", points_precision: int = 0
) -> tuple[Account, IssuedToken]:
    """A new tenant with one admin token, shown only here."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", field="name")
    check_points_precision(points_precision)
    account = Account(
        uuid=str(uuid.uuid4()),
        name=name,
        currency=normalise_currency(currency),
        points_precision=points_precision,
        settings={},
        created_at=utcnow(),
    )
    with db.write() as connection:
        number = repository.insert_account(
            connection,
            {
                "account_id": account.uuid,
                "name": account.name,
                "currency": account.currency,
                "points_precision": account.points_precision,
                "settings": account.settings,
                "next_customer_number": 0,
                "created_at": account.created_at,
                "updated_at": account.created_at,
            },
        )
        account = replace(account, number=number, updated_at=account.created_at)
        issued = _insert_token(connection, account.uuid, "admin", "initial admin token")
    return account, issued


def _insert_token(
    connection: Connection, account_id: str, scope: str, name: str | None
) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    info = TokenInfo(
        token_id=str(uuid.uuid4()),
        account_uuid=account_id,
        scope=scope,
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_at=utcnow(),
        revoked_at=None,
        last_used_at=None,
    )
    repository.insert_token(
        connection,
        {
            "account_id": account_id,
            "token_id": info.token_id,
            "token_hash": hash_token(token),
            "prefix": info.prefix,
            "name": name,
            "scope": scope,
            "created_at": info.created_at,
        },
    )
    return IssuedToken(info=info, token=token)


def _account_from_row(row: Any) -> Account:
    return Account(
        uuid=row.account_id,
        name=row.name,
        currency=row.currency,
        points_precision=row.points_precision,
        settings=dict(row.settings or {}),
        created_at=as_utc(row.created_at),
        number=int(row.number),
        updated_at=as_utc(row.updated_at),
    )


def list_accounts(db: Database) -> list[Account]:
    with db.read() as connection:
        rows = repository.list_accounts(connection)
    return [_account_from_row(row) for row in rows]


def get_account(db: Database, account_uuid: str) -> Account:
    with db.read() as connection:
        row = repository.get_account(connection, account_uuid)
    if row is None:
        raise NotFound(f"no account with uuid '{account_uuid}'", field="account")
    return _account_from_row(row)


def update_account_settings(db: Database, account_uuid: str, changes: dict[str, Any]) -> Account:
    """Merge ``changes`` into the account's settings; a None value removes a key."""
    with db.write() as connection:
        account_settings.change(connection, account_uuid, changes)
    return get_account(db, account_uuid)


def check_points_precision(points_precision: int) -> int:
    if not 0 <= points_precision <= MAX_POINTS_PRECISION:
        raise InvalidInput(
            f"points precision must be 0 to {MAX_POINTS_PRECISION}", field="points_precision"
        )
    return points_precision


class PointsPrecisionChanged(Conflict):
    """The account's points precision changed after the request read it: its amounts in points
    were written in the old unit, so the command is refused; sent again, it uses the new one."""

    code = "POINTS_PRECISION_CHANGED"


def require_points_precision(connection: Connection, principal: Principal) -> None:
    """In a command that keeps an amount in points (outside a wallet: a promotion, a stamp
    program), make sure it was converted with the precision committed now, and hold that
    precision until the command commits."""
    committed = repository.points_precision_shared(connection, principal.account_id)
    if committed is not None and committed != principal.points_precision:
        raise PointsPrecisionChanged(
            f"the account's points precision changed to {committed} while this request was "
            "on its way; send it again",
            field="pointsPrecision",
        )


def change_points_precision(connection: Connection, account_id: str, points_precision: int) -> None:
    """In the caller's transaction, which has made sure that no amount is kept in points yet."""
    repository.write_points_precision(
        connection, account_id, check_points_precision(points_precision)
    )


def next_customer_number(connection: Connection, account_id: str) -> int:
    """The next per-account customer number (see patron.core.numbering)."""

    def reserve(reserving: Connection, count: int) -> int:
        return repository.reserve_customer_numbers(reserving, account_id, count)

    return numbering.blocks.next(connection, account_id, "customer", reserve)


def reserve_customer_numbers(connection: Connection, account_id: str, count: int) -> range:
    """``count`` new customer numbers at once (a bulk import). On PostgreSQL they are reserved
    in their own immediately committed statement, as ``next_customer_number``'s blocks are, so
    the counter's row is not held for the caller's whole transaction."""
    if connection.dialect.name == "sqlite":
        last = repository.reserve_customer_numbers(connection, account_id, count)
    else:
        with connection.engine.connect() as own:
            own.execution_options(isolation_level="AUTOCOMMIT")
            last = repository.reserve_customer_numbers(own, account_id, count)
    return range(last - count + 1, last + 1)


def principal_of_account(
    connection: Connection, account_id: str, *, scope: str, customer_uuid: str | None = None
) -> Principal | None:
    """Who acts for an account as it is committed now, with ``scope``; None without it."""
    row = repository.get_account(connection, account_id)
    if row is None:
        return None
    return Principal(
        account_id=row.account_id,
        account_name=row.name,
        currency=row.currency,
        points_precision=row.points_precision,
        scope=scope,
        token_id=None,
        settings=dict(row.settings or {}),
        customer_uuid=customer_uuid,
    )


def create_token(
    db: Database, *, account_uuid: str, scope: str = "write", name: str | None = None
) -> IssuedToken:
    _validate_scope(scope)
    with db.write() as connection:
        if not repository.account_exists(connection, account_uuid):
            raise NotFound(f"no account with uuid '{account_uuid}'", field="account")
        return _insert_token(connection, account_uuid, scope, name)


def _token_from_row(row: Any) -> TokenInfo:
    return TokenInfo(
        token_id=row.token_id,
        account_uuid=row.account_id,
        scope=row.scope,
        name=row.name,
        prefix=row.prefix,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )


def list_tokens(db: Database, *, account_uuid: str | None = None) -> list[TokenInfo]:
    with db.read() as connection:
        return [_token_from_row(row) for row in repository.list_tokens(connection, account_uuid)]


def revoke_token(db: Database, token_id: str) -> TokenInfo:
    with db.write() as connection:
        row = repository.revoke_token(connection, token_id, utcnow())
    if row is None:
        raise NotFound(f"no token with id '{token_id}'", field="token_id")
    return _token_from_row(row)


class PrincipalCache:
    """The principals of recently presented tokens, each kept for ``seconds`` at most.

    A request answered from it costs no round trip to the store; a token revoked, or an
    account changed, in the meantime is seen once its entry is that old.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._found: dict[str, tuple[float, Principal]] = {}

    def get(self, token_hash: str) -> Principal | None:
        found = self._found.get(token_hash)
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        return found[1]

    def put(self, token_hash: str, principal: Principal) -> None:
        if len(self._found) >= self.size:
            self._found.clear()
        self._found[token_hash] = (time.monotonic(), principal)


def cached_principal(token: str, cache: PrincipalCache) -> Principal | None:
    """The principal of a token presented in the last ``cache.seconds``, without the store;
    None when it must be looked up (unknown, expired from the cache, or malformed)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return cache.get(hash_token(token))


def authenticate(
    db: Database,
    token: str,
    *,
    touch_after_seconds: int = 60,
    connection: Connection | None = None,
    cache: PrincipalCache | None = None,
) -> Principal:
    """The principal of a presented token, or Unauthenticated. ``last_used_at`` is throttled.

    Given a ``connection`` (the request's read transaction) the lookup runs on it; given a
    ``cache``, a principal found in the last ``cache.seconds`` is answered from it.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthenticated("the API token is malformed")
    presented = hash_token(token)
    if cache is not None:
        known = cache.get(presented)
        if known is not None:
            return known
    if connection is not None:
        row = repository.token_by_hash(connection, presented)
    else:
        with db.read() as reader:
            row = repository.token_by_hash(reader, presented)
    if row is None or not hmac.compare_digest(row.token_hash, presented):
        raise Unauthenticated("the API token is not valid")
    if row.revoked_at is not None:
        raise Unauthenticated("the API token has been revoked")
    now = utcnow()
    last_used = as_utc(row.last_used_at) if row.last_used_at else None
    window = timedelta(seconds=touch_after_seconds)
    if (last_used is None or now - last_used > window) and _claim_touch(row.token_id, now, window):
        with db.write() as writer:
            repository.touch_token(writer, row.account_id, row.token_id, now)
    principal = _principal_of(row)
    if cache is not None:
        cache.put(presented, principal)
    return principal


def _principal_of(row: Any) -> Principal:
    """The principal a token's row (``repository.token_by_hash``) gives."""
    return Principal(
        account_id=row.account_id,
        account_name=row.name,
        currency=row.currency,
        points_precision=row.points_precision,
        scope=row.scope,
        token_id=row.token_id,
        settings=dict(row.settings or {}),
        token_name=row.token_name,
    )


def remember(token: str, principal: Principal, cache: PrincipalCache) -> None:
    """Keep a principal just looked up for ``token`` (by ``authenticate``) in ``cache``."""
    cache.put(hash_token(token), principal)


# Where a write transaction keeps the tokens it has confirmed: (its transaction, {hash:
# principal or None}).
_CONFIRMED = "patron_confirmed_tokens"


class PrincipalConfirmer:
    """The write check (``core.db.confirm_writes``) of a request admitted on a remembered
    ``principal``: in each write transaction, before its work, the token must still give
    exactly that principal (not revoked, the same scope, account and settings), else
    ``Rerun``. The token is read once per transaction: the commands of a group commit share
    that read, made after each of their requests arrived, so a revocation committed before a
    write arrived stops it, as a lookup of its own would. Once confirmed, the request's
    later transactions are not checked again (a request's token was looked up once before,
    too): so ``Rerun`` comes before anything of the request is written, never after.

    ``before_refusal`` is the same check for a refusal by scope (``core.db.confirm_refusals``),
    on any connection, unless a write has confirmed the principal already."""

    def __init__(self, token: str, principal: Principal) -> None:
        self.presented = hash_token(token)
        self.principal = principal
        self.confirmed = False

    def __call__(self, connection: Connection) -> None:
        if self.confirmed:
            return
        transaction = connection.get_transaction()
        memo = connection.info.get(_CONFIRMED)
        if memo is None or memo[0] is not transaction:
            memo = connection.info[_CONFIRMED] = (transaction, {})
        known: dict[str, Principal | None] = memo[1]
        if self.presented not in known:
            known[self.presented] = self._current(connection)
        self._settle(known[self.presented])

    def before_refusal(self, connection: Connection) -> None:
        if not self.confirmed:
            self._settle(self._current(connection))

    def _current(self, connection: Connection) -> Principal | None:
        row = repository.token_by_hash(connection, self.presented)
        valid = (
            row is not None
            and hmac.compare_digest(row.token_hash, self.presented)
            and row.revoked_at is None
        )
        return _principal_of(row) if valid else None

    def _settle(self, current: Principal | None) -> None:
        if current != self.principal:
            raise Rerun("the token's principal changed since it was remembered")
        self.confirmed = True


# When this process last wrote a token's last_used_at: a burst of concurrent first requests
# would otherwise each read the old value and each write it.
_touched: dict[str, datetime] = {}


def _claim_touch(token_id: str, now: datetime, window: timedelta) -> bool:
    previous = _touched.get(token_id)
    if previous is not None and now - previous <= window:
        return False
    if len(_touched) > 10_000:
        _touched.clear()
    _touched[token_id] = now
    return True


def system_principal(account: Account, job: str | None = None) -> Principal:
    """Who background jobs (expiry, the outbox worker) act as: the account itself, admin;
    what it writes records ``system:<job>`` as its actor."""
    return Principal(
        account_id=account.uuid,
        account_name=account.name,
        currency=account.currency,
        points_precision=account.points_precision,
        scope="admin",
        token_id=None,
        settings=account.settings,
        job=job,
    )


def count_accounts(db: Database) -> int:
    with db.read() as connection:
        return repository.count_accounts(connection)


def ensure_default_account(db: Database) -> tuple[Account, IssuedToken] | None:
    """On a store with no account yet, create one named ``default``; else do nothing."""
    if count_accounts(db) > 0:
        return None
    return create_account(db, name="default")


def connected_services(principal: Principal) -> list[tuple[str, str | None]]:
    """The services the account is connected to, as (service, name): Shopify (named by its
    shop) when a shop and its token are set, Klaviyo when its key is set."""
    found: list[tuple[str, str | None]] = []
    shopify = principal.settings.get(account_settings.SHOPIFY)
    if isinstance(shopify, dict) and shopify.get("shop") and shopify.get("access_token"):
        found.append(("SHOPIFY", str(shopify["shop"])))
    klaviyo = principal.settings.get(account_settings.KLAVIYO)
    if isinstance(klaviyo, dict) and klaviyo.get("api_key"):
        found.append(("KLAVIYO", None))
    return found


def account_record(connection: Connection, principal: Principal) -> Account:
    """The principal's account as stored (its number and updated_at), in the caller's read."""
    row = repository.get_account(connection, principal.account_id)
    if row is None:  # pragma: no cover - a principal's account exists
        raise NotFound(f"no account with uuid '{principal.account_id}'", field="account")
    return _account_from_row(row)
