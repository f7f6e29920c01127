"""SQL for consumers' credentials and profile extras. Every statement is scoped by the account,
except the lookup of a presented refresh token by its hash (the account is not known yet)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from patron.core.clock import as_utc
from patron.core.throttle import Rule, failures_of
from patron.customers.consumers.models import ConsumerProfile, ConsumerQuery
from patron.customers.consumers.tables import (
    consumer_login_failures,
    consumer_profiles,
    consumer_refresh_tokens,
    consumer_signing_keys,
)
from patron.customers.models import Customer
from patron.customers.repository import customer_from_row, customers_from_rows
from patron.customers.tables import customers

_c = customers.c
_CUSTOMER_COLUMNS = [
    column
    for column in customers.c
    if column.name not in {"account_id", "email_normalized", "password_hash"}
]


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


# Credentials


def credentials_by_email(connection: Connection, account_id: str, email: str) -> Any | None:
    """(uuid, number, email, archived, password_hash) of the customer with this email."""
    return connection.execute(
        select(_c.uuid, _c.number, _c.email, _c.archived, _c.password_hash).where(
            _c.account_id == account_id, _c.email_normalized == email
        )
    ).first()


def set_password_hash(
    connection: Connection, account_id: str, customer_uuid: str, password_hash: str
) -> None:
    connection.execute(
        update(customers)
        .where(_c.account_id == account_id, _c.uuid == customer_uuid)
        .values(password_hash=password_hash)
    )


# Profile extras


def _profile_from_row(row: Any) -> ConsumerProfile:
    return ConsumerProfile(
        customer_uuid=row.customer_uuid,
        merchant_type=row.merchant_type,
        creator_uuid=row.creator_uuid,
        logo=row.logo,
        order_discounts_allowed=int(row.order_discounts_allowed),
        staff=bool(row.staff),
        admin=bool(row.admin),
        last_login_at=_utc(row.last_login_at),
    )


def profiles_for(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, ConsumerProfile]:
    """The profile extras of many customers in one statement; defaults where there is no row."""
    found = {uuid: ConsumerProfile(customer_uuid=uuid) for uuid in customer_uuids}
    if not customer_uuids:
        return found
    rows = connection.execute(
        select(consumer_profiles).where(
            consumer_profiles.c.account_id == account_id,
            consumer_profiles.c.customer_uuid.in_(list(customer_uuids)),
        )
    )
    for row in rows:
        found[row.customer_uuid] = _profile_from_row(row)
    return found


def save_profile(
    connection: Connection,
    account_id: str,
    customer_uuid: str,
    values: dict[str, Any],
    now: datetime,
) -> None:
    """Insert the row with ``values`` or change them on the existing one."""
    changed = connection.execute(
        update(consumer_profiles)
        .where(
            consumer_profiles.c.account_id == account_id,
            consumer_profiles.c.customer_uuid == customer_uuid,
        )
        .values(**values, updated_at=now)
    ).rowcount
    if not changed:
        connection.execute(
            insert(consumer_profiles).values(
                account_id=account_id,
                customer_uuid=customer_uuid,
                **values,
                created_at=now,
                updated_at=now,
            )
        )


# Refresh tokens


def insert_refresh_token(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(consumer_refresh_tokens).values(**values))


def refresh_token_by_hash(connection: Connection, token_hash: str) -> Any | None:
    return connection.execute(
        select(consumer_refresh_tokens).where(consumer_refresh_tokens.c.token_hash == token_hash)
    ).first()


def rotate_refresh_token(
    connection: Connection, account_id: str, token_uuid: str, now: datetime
) -> bool:
    """Mark a live token as used; False when another request used or revoked it first."""
    t = consumer_refresh_tokens.c
    changed = connection.execute(
        update(consumer_refresh_tokens)
        .where(
            t.account_id == account_id,
            t.uuid == token_uuid,
            t.rotated_at.is_(None),
            t.revoked_at.is_(None),
        )
        .values(rotated_at=now)
    ).rowcount
    return bool(changed)


def revoke_family(connection: Connection, account_id: str, family_uuid: str, now: datetime) -> int:
    t = consumer_refresh_tokens.c
    return int(
        connection.execute(
            update(consumer_refresh_tokens)
            .where(t.account_id == account_id, t.family_uuid == family_uuid, t.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    )


def family_started_at(connection: Connection, account_id: str, family_uuid: str) -> datetime:
    t = consumer_refresh_tokens.c
    started = connection.execute(
        select(func.min(t.created_at)).where(
            t.account_id == account_id, t.family_uuid == family_uuid
        )
    ).scalar_one()
    return as_utc(started)


# Failed logins


def blocked_until(
    connection: Connection, account_id: str, subjects: Sequence[str], now: datetime
) -> datetime | None:
    f = consumer_login_failures.c
    until = connection.execute(
        select(func.max(f.blocked_until)).where(
            f.account_id == account_id, f.subject.in_(list(subjects)), f.blocked_until > now
        )
    ).scalar_one_or_none()
    return _utc(until)


def record_failure(
    connection: Connection, account_id: str, subject: str, rule: Rule, now: datetime
) -> None:
    """Count one more failed login against ``subject`` (its row locked while it is read)."""
    f = consumer_login_failures.c
    row = connection.execute(
        select(consumer_login_failures)
        .where(f.account_id == account_id, f.subject == subject)
        .with_for_update()
    ).first()
    after = dataclasses.asdict(rule.after_failure(failures_of(row), now))
    if row is None:
        connection.execute(
            insert(consumer_login_failures).values(account_id=account_id, subject=subject, **after)
        )
        return
    connection.execute(
        update(consumer_login_failures)
        .where(f.account_id == account_id, f.subject == subject)
        .values(**after)
    )


def clear_failures(connection: Connection, account_id: str, subject: str) -> None:
    f = consumer_login_failures.c
    connection.execute(
        delete(consumer_login_failures).where(f.account_id == account_id, f.subject == subject)
    )


# Signing keys kept in the store (development)


def stored_key(connection: Connection, account_id: str) -> str | None:
    return connection.execute(
        select(consumer_signing_keys.c.secret).where(
            consumer_signing_keys.c.account_id == account_id
        )
    ).scalar_one_or_none()


def insert_stored_key(connection: Connection, account_id: str, secret: str, now: datetime) -> None:
    connection.execute(
        insert(consumer_signing_keys).values(account_id=account_id, secret=secret, created_at=now)
    )


# Reading consumers


def _conditions(
    account_id: str, only_customer: str | None, query: ConsumerQuery
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_c.account_id == account_id, _c.erased_at.is_(None)]
    if only_customer is not None:
        conditions.append(_c.uuid == only_customer)
    if query.loyalty_id is not None:
        conditions.append(_c.loyalty_id == query.loyalty_id)
    if query.phone_contains is not None:
        conditions.append(_c.phone.contains(query.phone_contains, autoescape=True))
    if query.email_contains is not None:
        conditions.append(
            _c.email_normalized.contains(query.email_contains.lower(), autoescape=True)
        )
    return conditions


def consumer_window(
    connection: Connection,
    account_id: str,
    only_customer: str | None,
    query: ConsumerQuery,
    *,
    size: int,
    from_end: bool,
) -> list[Customer]:
    """Up to ``size`` customers by number after/before the cursors: from the start of the
    window, or from its end (``from_end``, returned in ascending order all the same)."""
    shape = (
        only_customer is not None,
        query.loyalty_id is not None,
        query.phone_contains is not None,
        query.email_contains is not None,
        query.after is not None,
        query.before is not None,
        from_end,
    )
    values = {
        "account_id": account_id,
        "only_customer": only_customer,
        "loyalty_id": query.loyalty_id,
        "phone": _containing(query.phone_contains),
        "email": _containing(query.email_contains.lower() if query.email_contains else None),
        "after": query.after,
        "before": query.before,
        "size": size,
    }
    rows = connection.execute(_window_query(*shape), values).all()
    found = customers_from_rows(rows)
    return found[::-1] if from_end else found


_ESCAPE = "/"


def _containing(text: str | None) -> str | None:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    if text is None:
        return None
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%")
    return "%" + escaped.replace("_", _ESCAPE + "_") + "%"


@functools.cache
def _window_query(
    only_customer: bool,
    by_loyalty_id: bool,
    by_phone: bool,
    by_email: bool,
    after: bool,
    before: bool,
    from_end: bool,
) -> Select[Any]:
    """The window statement of one combination of filters, built once; a request binds its
    values (as ``_conditions`` would have written them) instead of building its own."""
    conditions: list[ColumnElement[bool]] = [
        _c.account_id == bindparam("account_id"),
        _c.erased_at.is_(None),
    ]
    if only_customer:
        conditions.append(_c.uuid == bindparam("only_customer"))
    if by_loyalty_id:
        conditions.append(_c.loyalty_id == bindparam("loyalty_id"))
    if by_phone:
        conditions.append(_c.phone.like(bindparam("phone"), escape=_ESCAPE))
    if by_email:
        conditions.append(_c.email_normalized.like(bindparam("email"), escape=_ESCAPE))
    if after:
        conditions.append(_c.number > bindparam("after"))
    if before:
        conditions.append(_c.number < bindparam("before"))
    ordering = _c.number.desc() if from_end else _c.number.asc()
    return (
        select(*_CUSTOMER_COLUMNS)
        .where(*conditions)
        .order_by(ordering)
        .limit(bindparam("size", type_=Integer))
    )


def count_consumers(
    connection: Connection, account_id: str, only_customer: str | None, query: ConsumerQuery
) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(customers)
            .where(*_conditions(account_id, only_customer, query))
        ).scalar_one()
    )


def customer_by_number(
    connection: Connection, account_id: str, only_customer: str | None, number: int
) -> Customer | None:
    query = select(*_CUSTOMER_COLUMNS).where(
        _c.account_id == account_id, _c.number == number, _c.erased_at.is_(None)
    )
    if only_customer is not None:
        query = query.where(_c.uuid == only_customer)
    row = connection.execute(query).first()
    return customer_from_row(row) if row else None


def customers_matching(
    connection: Connection,
    account_id: str,
    only_customer: str | None,
    *,
    loyalty_id: str | None,
    email: str | None,
    phone: str | None,
) -> list[Customer]:
    """Customers with every given identifier (exact; email case-insensitive), at most two."""
    query = select(*_CUSTOMER_COLUMNS).where(_c.account_id == account_id, _c.erased_at.is_(None))
    if only_customer is not None:
        query = query.where(_c.uuid == only_customer)
    if loyalty_id is not None:
        query = query.where(_c.loyalty_id == loyalty_id)
    if email is not None:
        query = query.where(_c.email_normalized == email)
    if phone is not None:
        query = query.where(_c.phone == phone)
    rows = connection.execute(query.order_by(_c.number).limit(2)).all()
    return customers_from_rows(rows)


def customers_by_uuid(
    connection: Connection, account_id: str, only_customer: str | None, uuids: Sequence[str]
) -> dict[str, Customer]:
    wanted = [uuid for uuid in uuids if only_customer is None or uuid == only_customer]
    if not wanted:
        return {}
    rows = connection.execute(
        select(*_CUSTOMER_COLUMNS).where(
            _c.account_id == account_id, _c.uuid.in_(wanted), _c.erased_at.is_(None)
        )
    )
    return {row.uuid: customer_from_row(row) for row in rows}


# Erasure


def forget(
    connection: Connection, account_id: str, customer_uuid: str, subjects: list[str]
) -> None:
    """Delete a customer's consumer credentials: profile extras, refresh tokens, and the
    login failures counted against its email (``subjects``)."""
    connection.execute(
        delete(consumer_profiles).where(
            consumer_profiles.c.account_id == account_id,
            consumer_profiles.c.customer_uuid == customer_uuid,
        )
    )
    connection.execute(
        delete(consumer_refresh_tokens).where(
            consumer_refresh_tokens.c.account_id == account_id,
            consumer_refresh_tokens.c.customer_uuid == customer_uuid,
        )
    )
    if subjects:
        connection.execute(
            delete(consumer_login_failures).where(
                consumer_login_failures.c.account_id == account_id,
                consumer_login_failures.c.subject.in_(subjects),
            )
        )
