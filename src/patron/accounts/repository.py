"""SQL for accounts and their API tokens. Only the accounts package imports it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    String,
    bindparam,
    func,
    insert,
    select,
    update,
)

from patron.accounts.tables import accounts, api_tokens
from patron.core.clock import utcnow
from patron.core.db import Precompiled, forget_memo


def insert_account(connection: Connection, values: dict[str, Any]) -> int:
    """Insert the account with the next number; returns it."""
    number = (
        int(connection.execute(select(func.coalesce(func.max(accounts.c.number), 0))).scalar_one())
        + 1
    )
    connection.execute(insert(accounts).values(**values, number=number))
    return number


def get_account(connection: Connection, account_id: str) -> Any:
    return connection.execute(select(accounts).where(accounts.c.account_id == account_id)).first()


def list_accounts(connection: Connection) -> list[Any]:
    return list(connection.execute(select(accounts).order_by(accounts.c.created_at)).all())


def account_exists(connection: Connection, account_id: str) -> bool:
    found = connection.execute(
        select(accounts.c.account_id).where(accounts.c.account_id == account_id)
    ).first()
    return found is not None


def count_accounts(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(accounts)).scalar_one())


def _settings_query(for_update: bool) -> Select[Any]:
    query = select(accounts.c.settings).where(accounts.c.account_id == bindparam("account_id"))
    return query.with_for_update() if for_update else query


# Read by every order (its earning rule, its stamp program): built once.
_SETTINGS = {locked: _settings_query(locked) for locked in (False, True)}


def settings(connection: Connection, account_id: str, *, for_update: bool = False) -> Any:
    """The stored settings object, or None when there is no such account."""
    return connection.execute(_SETTINGS[for_update], {"account_id": account_id}).first()


def write_settings(connection: Connection, account_id: str, settings: dict[str, Any]) -> None:
    forget_memo(connection)  # what the transaction's commands read of the settings
    connection.execute(
        update(accounts)
        .where(accounts.c.account_id == account_id)
        .values(settings=settings, updated_at=utcnow())
    )


def points_precision_shared(connection: Connection, account_id: str) -> int | None:
    """The account's points precision as committed, its row held against a change until the
    caller's transaction ends (FOR SHARE on PostgreSQL; SQLite's writers take turns)."""
    query = select(accounts.c.points_precision).where(accounts.c.account_id == account_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    found = connection.execute(query).scalar()
    return None if found is None else int(found)


def write_points_precision(connection: Connection, account_id: str, precision: int) -> None:
    connection.execute(
        update(accounts)
        .where(accounts.c.account_id == account_id)
        .values(points_precision=precision, updated_at=utcnow())
    )


def reserve_customer_numbers(connection: Connection, account_id: str, count: int) -> int:
    """Add ``count`` to the account's customer counter; its new value."""
    row = _RESERVE_NUMBERS.execute(connection, {"account": account_id, "count": count}).first()
    if row is None:
        raise LookupError(f"no account '{account_id}'")
    return int(row[0])


# Every new contact's (on SQLite; on PostgreSQL every block's): built and compiled once.
_RESERVE_NUMBERS = Precompiled(
    update(accounts)
    .where(accounts.c.account_id == bindparam("account", type_=String))
    .values(
        next_customer_number=accounts.c.next_customer_number + bindparam("count", type_=BigInteger)
    )
    .returning(accounts.c.next_customer_number)
)


# Tokens


def insert_token(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(api_tokens).values(**values))


def list_tokens(connection: Connection, account_id: str | None) -> list[Any]:
    query = select(api_tokens).order_by(api_tokens.c.created_at)
    if account_id is not None:
        query = query.where(api_tokens.c.account_id == account_id)
    return list(connection.execute(query).all())


def revoke_token(connection: Connection, token_id: str, now: datetime) -> Any:
    """Revoke the token unless it already is; its row afterwards, or None."""
    connection.execute(
        update(api_tokens)
        .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return connection.execute(select(api_tokens).where(api_tokens.c.token_id == token_id)).first()


# Every request looks its token up: the statement is built once.
_TOKEN_LOOKUP_STATEMENT = (
    select(
        api_tokens.c.token_id,
        api_tokens.c.name.label("token_name"),
        api_tokens.c.token_hash,
        api_tokens.c.scope,
        api_tokens.c.revoked_at,
        api_tokens.c.last_used_at,
        accounts.c.account_id,
        accounts.c.name,
        accounts.c.currency,
        accounts.c.points_precision,
        accounts.c.settings,
    )
    .join(accounts, accounts.c.account_id == api_tokens.c.account_id)
    .where(api_tokens.c.token_hash == bindparam("presented"))
)
# Every request but a known read looks its token up: built once as SQL text.
_TOKEN_LOOKUP = Precompiled(_TOKEN_LOOKUP_STATEMENT)


def token_by_hash(connection: Connection, token_hash: str) -> Any:
    """The token with this hash and its account's columns, or None."""
    return _TOKEN_LOOKUP.execute(connection, {"presented": token_hash}).first()


def touch_token(connection: Connection, account_id: str, token_id: str, now: datetime) -> None:
    connection.execute(
        update(api_tokens)
        .where(api_tokens.c.account_id == account_id, api_tokens.c.token_id == token_id)
        .values(last_used_at=now)
    )
