"""SQL for customers and identities. Every statement is scoped by the account."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Subquery,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from patron.core.bulk import RowInsert, any_of
from patron.core.clock import as_utc
from patron.core.db import Precompiled
from patron.core.records import RECORD_TYPES, Decode, model_maker, models, records, unchanged
from patron.customers.models import Customer, CustomerFilter
from patron.customers.tables import customers, identities
from patron.customers.validation import display_external_id

_CUSTOMER_COLUMNS = [
    column
    for column in customers.c
    if column.name not in {"account_id", "email_normalized", "password_hash", "erased_at"}
]
# An erased customer's row stays for its books, and no read of a customer ever finds it.
_NOT_ERASED = customers.c.erased_at.is_(None)


def customer_from_row(row: Any) -> Customer:
    """A customer from a row of the customers table (any columns, in any order)."""
    return customers_from_rows([row])[0]


def customers_from_rows(rows: Sequence[Any]) -> list[Customer]:
    """Customers from the rows of one result (any columns of the table, in any order)."""
    made: list[Customer] = models(Customer, rows, _MODEL_VALUES)
    return made


def _customer(values: dict[str, Any]) -> Customer:
    made: Customer = model_maker(Customer, tuple(values), _MODEL_VALUES)(tuple(values.values()))
    return made


def _archived_at(value: Any) -> Any:
    return as_utc(value) if value is not None else None


def _services(value: Any) -> list[str]:
    return list(value or [])


# How a stored value becomes the model's, where it is not the same.
_MODEL_VALUES: tuple[tuple[str, Decode], ...] = (
    ("accepts_marketing", bool),
    ("verified", bool),
    ("archived", bool),
    ("connected_services", _services),
    ("created_at", as_utc),
    ("updated_at", as_utc),
    ("archived_at", _archived_at),
)


def customer_from_values(values: dict[str, Any]) -> Customer:
    """The customer just inserted, from the values written (no read-back)."""
    return _customer({column.name: values.get(column.name) for column in customers.c})


def customer_row(values: dict[str, Any]) -> RowInsert:
    """A new customer's row, written with its ids, wallet and event (``insert_together``)."""
    return customers, values


def identity_rows(
    account_id: str, customer_uuid: str, external_ids: dict[str, str], now: Any
) -> list[RowInsert]:
    """A new customer's external ids as rows, for ``insert_together``."""
    return [
        (
            identities,
            {
                "account_id": account_id,
                "customer_uuid": customer_uuid,
                "service": service,
                "external_id": external,
                "created_at": now,
            },
        )
        for service, external in external_ids.items()
    ]


def update_customer(
    connection: Connection, account_id: str, customer_uuid: str, values: dict[str, Any]
) -> int:
    result = connection.execute(
        update(customers)
        .where(customers.c.account_id == account_id, customers.c.uuid == customer_uuid)
        .values(**values)
    )
    return result.rowcount


def delete_customer(connection: Connection, account_id: str, customer_uuid: str) -> int:
    result = connection.execute(
        delete(customers).where(
            customers.c.account_id == account_id, customers.c.uuid == customer_uuid
        )
    )
    return result.rowcount


# What erasure blanks: every column that says who the person is or how to reach them.
PERSONAL_COLUMNS = (
    "name",
    "first_name",
    "last_name",
    "email",
    "email_normalized",
    "secondary_email",
    "phone",
    "birthday",
    "birthday_month",
    "gender",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "loyalty_id",
    "picture",
    "extra_info",
    "source_id",
    "notes",
    "password_hash",
)


def erase_customer(connection: Connection, account_id: str, customer_uuid: str, now: Any) -> int:
    """Blank every personal column of the customer and mark it erased; delete its
    identities. The row, its uuid and its number stay, for the books that point at it."""
    connection.execute(
        delete(identities).where(
            identities.c.account_id == account_id, identities.c.customer_uuid == customer_uuid
        )
    )
    result = connection.execute(
        update(customers)
        .where(customers.c.account_id == account_id, customers.c.uuid == customer_uuid, _NOT_ERASED)
        .values(
            **dict.fromkeys(PERSONAL_COLUMNS),
            accepts_marketing=False,
            verified=False,
            archived=False,
            archived_at=None,
            connected_services=[],
            erased_at=now,
            updated_at=now,
        )
    )
    return result.rowcount


def get_customer(
    connection: Connection, account_id: str, customer_uuid: str, *, for_update: bool = False
) -> Customer | None:
    query = select(*_CUSTOMER_COLUMNS).where(
        customers.c.account_id == account_id, customers.c.uuid == customer_uuid, _NOT_ERASED
    )
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return customer_from_row(row) if row else None


def has_password(connection: Connection, account_id: str, customer_uuid: str) -> bool:
    found = connection.execute(
        select(customers.c.password_hash).where(
            customers.c.account_id == account_id, customers.c.uuid == customer_uuid
        )
    ).scalar_one_or_none()
    return found is not None


def customer_uuid_for_email(connection: Connection, account_id: str, email: str) -> str | None:
    return connection.execute(
        select(customers.c.uuid).where(
            customers.c.account_id == account_id, customers.c.email_normalized == email
        )
    ).scalar_one_or_none()


def customer_uuid_for_loyalty_id(
    connection: Connection, account_id: str, loyalty_id: str
) -> str | None:
    return connection.execute(
        select(customers.c.uuid).where(
            customers.c.account_id == account_id, customers.c.loyalty_id == loyalty_id
        )
    ).scalar_one_or_none()


def _customers_query(
    by_uuid: bool,
    by_email: bool,
    by_number: bool,
    by_shopify: bool,
    columns: Sequence[Any] = _CUSTOMER_COLUMNS,
) -> Select[Any]:
    """The page statement for one combination of filters, built once: a request then binds
    its values instead of building, hashing and looking up a statement of its own."""
    query = select(*columns).where(customers.c.account_id == bindparam("account_id"), _NOT_ERASED)
    if by_uuid:
        query = query.where(customers.c.uuid == bindparam("uuid"))
    if by_email:
        query = query.where(customers.c.email_normalized == bindparam("email"))
    if by_number:
        query = query.where(customers.c.number == bindparam("number"))
    if by_shopify:
        owner = (
            select(identities.c.customer_uuid)
            .where(
                identities.c.account_id == bindparam("account_id"),
                identities.c.service == "SHOPIFY",
                identities.c.external_id == bindparam("shopify_id"),
            )
            .scalar_subquery()
        )
        query = query.where(customers.c.uuid == owner)
    return (
        query.order_by(customers.c.created_at.desc(), customers.c.number.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


_CUSTOMERS_QUERIES = {
    (a, b, c, d): _customers_query(a, b, c, d)
    for a, b, c, d in itertools.product((False, True), repeat=4)
}


def find_customers(
    connection: Connection,
    account_id: str,
    where: CustomerFilter,
    *,
    limit: int,
    offset: int,
) -> list[Customer]:
    """Newest first; every filter given must match."""
    shape = (
        where.uuid is not None,
        where.email is not None,
        where.number is not None,
        where.shopify_id is not None,
    )
    values = {
        "account_id": account_id,
        "uuid": where.uuid,
        "email": where.email,
        "number": where.number,
        "shopify_id": where.shopify_id,
        "limit": limit,
        "offset": offset,
    }
    rows = connection.execute(_CUSTOMERS_QUERIES[shape], values).all()
    return customers_from_rows(rows)


# Columns a projected read may ask for, and how a stored value becomes the model's value.
_DECODE: dict[str, Decode] = {
    **{column.name: unchanged for column in _CUSTOMER_COLUMNS},
    "accepts_marketing": bool,
    "verified": bool,
    "archived": bool,
    "connected_services": lambda value: list(value or []),
    "created_at": as_utc,
    "updated_at": as_utc,
    "archived_at": lambda value: as_utc(value) if value is not None else None,
}


def _shown_identities(value: Any) -> dict[str, str]:
    """The ``identities`` column (a JSON object of service to stored id) as ``identities_for``
    gives it: display forms, by service. (On SQLite the value is that already: see
    ``find_customer_values``.)"""
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    stored: dict[str, str] = json.loads(value)
    return {service: display_external_id(service, external) for service, external in stored.items()}


# Not a column of the table: the customer's external ids, aggregated in the same statement
# (one round trip fewer for a page that shows them).
_DECODE["identities"] = _shown_identities
PROJECTABLE = frozenset(_DECODE)
# Statements of projected pages, per dialect, filter shape and column set (bounded: see
# records).
_PROJECTED: dict[tuple[str, tuple[bool, ...], tuple[str, ...]], Precompiled] = {}


class Joined(Protocol):
    """Another domain's table joined to each customer of a projected read (one statement for
    both): its columns are asked for as ``PREFIX + name``. ``join`` gives the outer join of
    ``source`` and how to read one of its columns."""

    PREFIX: str

    def join(
        self, source: Any, account_id: Any, customer_uuid: Any, dialect: str
    ) -> tuple[Any, Callable[[str], Any]]: ...


def _joined_page(
    shape: tuple[bool, bool, bool, bool], names: tuple[str, ...], dialect: str, joined: Joined
) -> Select[Any]:
    """The page of ``_customers_query`` first, then the joined table for its rows only: a
    page whose customers tie on their creation time (an import's) reads the tie's rows before
    it sorts them, and would join each of those."""
    own = [name for name in names if not name.startswith(joined.PREFIX)]
    page = _customers_query(
        *shape,
        [
            *(_projected_column(name, dialect) for name in own),
            customers.c.created_at.label("page_created_at"),
            customers.c.number.label("page_number"),
        ],
    ).subquery("page")
    source, column = joined.join(page, bindparam("account_id"), page.c.uuid, dialect)
    return (
        select(
            *(
                column(name.removeprefix(joined.PREFIX))
                if name.startswith(joined.PREFIX)
                else page.c[name]
                for name in names
            )
        )
        .select_from(source)
        .order_by(page.c.page_created_at.desc(), page.c.page_number.desc())
    )


def _projected_column(name: str, dialect: str) -> Any:
    if name != "identities":
        return customers.c[name]
    aggregate = (
        cast(func.json_object_agg(identities.c.service, identities.c.external_id), Text)
        if dialect == "postgresql"
        else func.json_group_object(identities.c.service, identities.c.external_id)
    )
    return (
        select(aggregate)
        .where(
            identities.c.account_id == customers.c.account_id,
            identities.c.customer_uuid == customers.c.uuid,
        )
        .scalar_subquery()
        .label("identities")
    )


def find_customer_values(
    connection: Connection,
    account_id: str,
    where: CustomerFilter,
    *,
    limit: int,
    offset: int,
    names: tuple[str, ...],
    joined: Joined | None = None,
) -> list[Any]:
    """``find_customers`` reading only the named columns: per customer a record
    (:mod:`patron.core.records`) with the model's attribute names and values. ``joined``:
    the names with its prefix are its columns, read by the same statement (as stored)."""
    shape = (
        where.uuid is not None,
        where.email is not None,
        where.number is not None,
        where.shopify_id is not None,
    )
    dialect = connection.dialect.name
    # SQLite computes a correlated column for every row that ties on the sort key before it
    # applies the LIMIT (an import's contacts share one created_at): there the ids are read
    # by a second statement, which costs no round trip.
    separate = dialect != "postgresql" and "identities" in names
    selected = (*(name for name in names if name != "identities"), "uuid") if separate else names
    query = _PROJECTED.get((dialect, shape, selected))
    if query is None:
        by_uuid, by_email, by_number, by_shopify = shape
        query = Precompiled(
            _customers_query(
                by_uuid,
                by_email,
                by_number,
                by_shopify,
                [_projected_column(name, dialect) for name in selected],
            )
            if joined is None
            else _joined_page(shape, selected, dialect, joined)
        )
        if len(_PROJECTED) < RECORD_TYPES:
            _PROJECTED[(dialect, shape, selected)] = query
    values = {
        "account_id": account_id,
        "uuid": where.uuid,
        "email": where.email,
        "number": where.number,
        "shopify_id": where.shopify_id,
        "limit": limit,
        "offset": offset,
    }
    rows: Sequence[Sequence[Any]] = query.execute(connection, values).all()
    if separate:
        shown = identities_for(connection, account_id, [row[-1] for row in rows])
        at = names.index("identities")
        rows = [(*row[:at], shown[row[-1]], *row[at:-1]) for row in rows]
    return records("CustomerValues", rows, names, _DECODE)


def count_customers(connection: Connection, account_id: str) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(customers)
            .where(customers.c.account_id == account_id, _NOT_ERASED)
        ).scalar_one()
    )


def identity_owner(
    connection: Connection, account_id: str, service: str, external_id: str
) -> str | None:
    return connection.execute(
        select(identities.c.customer_uuid).where(
            identities.c.account_id == account_id,
            identities.c.service == service,
            identities.c.external_id == external_id,
        )
    ).scalar_one_or_none()


def set_identity(
    connection: Connection,
    account_id: str,
    customer_uuid: str,
    service: str,
    external_id: str | None,
    now: Any,
) -> None:
    connection.execute(
        delete(identities).where(
            identities.c.account_id == account_id,
            identities.c.customer_uuid == customer_uuid,
            identities.c.service == service,
        )
    )
    if external_id is not None:
        connection.execute(
            insert(identities).values(
                account_id=account_id,
                customer_uuid=customer_uuid,
                service=service,
                external_id=external_id,
                created_at=now,
            )
        )


def _identities_query(dialect: str) -> Select[Any]:
    return select(identities.c.customer_uuid, identities.c.service, identities.c.external_id).where(
        identities.c.account_id == bindparam("account_id"),
        any_of(dialect, identities.c.customer_uuid, "uuids"),
    )


_IDENTITIES_QUERIES = {dialect: _identities_query(dialect) for dialect in ("postgresql", "sqlite")}


def identities_for(
    connection: Connection, account_id: str, customer_uuids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """External ids per customer, by service, in their display form: one statement for a page."""
    found: dict[str, dict[str, str]] = {uuid: {} for uuid in customer_uuids}
    if not customer_uuids:
        return found
    rows = connection.execute(
        _IDENTITIES_QUERIES[connection.dialect.name],
        {"account_id": account_id, "uuids": list(customer_uuids)},
    ).all()
    for customer_uuid, service, external_id in rows:
        found[customer_uuid][service] = display_external_id(service, external_id)
    return found


def identity_ids(account_id: str, service: str) -> Subquery:
    """(customer_uuid, external_id) of every customer with an id at ``service``."""
    return (
        select(identities.c.customer_uuid, identities.c.external_id)
        .where(identities.c.account_id == account_id, identities.c.service == service)
        .subquery("identity_ids")
    )
