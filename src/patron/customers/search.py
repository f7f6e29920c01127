"""Keyset pages of customers: ordered by one field, narrowed by free text and field terms.

A page is addressed by the position of the row before it (its sort value and its number),
so rows created between two requests neither repeat nor go missing in the pages that follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from patron.accounts.principal import Principal
from patron.core.clock import as_utc
from patron.core.errors import InvalidInput
from patron.core.paging import MAX_PAGE
from patron.customers.models import Customer, CustomerFilter
from patron.customers.repository import customers_from_rows, find_customers
from patron.customers.tables import customers

KeyValue = int | str | datetime

_c = customers.c
_DISPLAY_NAME: ColumnElement[Any] = func.coalesce(
    _c.name,
    func.trim(func.coalesce(_c.first_name, "") + " " + func.coalesce(_c.last_name, "")),
)

# Sort keys: absent text sorts as "" so that SQLite and PostgreSQL agree on where it goes.
SORT_KEYS: dict[str, tuple[ColumnElement[Any], type]] = {
    "number": (_c.number, int),
    "created_at": (_c.created_at, datetime),
    "updated_at": (_c.updated_at, datetime),
    "name": (_DISPLAY_NAME, str),
    "first_name": (func.coalesce(_c.first_name, ""), str),
    "last_name": (func.coalesce(_c.last_name, ""), str),
    "email": (func.coalesce(_c.email_normalized, ""), str),
    "phone": (func.coalesce(_c.phone, ""), str),
}

# Field terms: text fields match a case-insensitive substring, the others exactly.
TEXT_TERMS: dict[str, ColumnElement[Any]] = {
    "name": _DISPLAY_NAME,
    "first_name": _c.first_name,
    "last_name": _c.last_name,
    "email": _c.email_normalized,
    "phone": _c.phone,
    "city": _c.city,
    "region": _c.region,
    "country": _c.country,
    "notes": _c.notes,
}
EXACT_TERMS = ("number", "accepts_marketing")
_FREE_TEXT = (_DISPLAY_NAME, _c.email_normalized, _c.phone)
_MAX_TERM = 200
_MAX_NUMBER = 2**63 - 1
# The work one search may ask of the store: every word is a substring match on three
# columns of every row of the account, so their number is bounded on every surface.
MAX_SEARCH_WORDS = 10
MAX_SEARCH_CHARACTERS = 1000


def search_words(text: str | None, *, field: str = "search") -> tuple[str, ...]:
    """The words of a free-text search, within the bounds every surface shares."""
    if not text:
        return ()
    if len(text) > MAX_SEARCH_CHARACTERS:
        raise InvalidInput(
            f"{field} must be at most {MAX_SEARCH_CHARACTERS} characters", field=field
        )
    words = tuple(text.split())
    check_search_size(len(words), field=field)
    return words


def check_search_size(count: int, *, field: str) -> None:
    if count > MAX_SEARCH_WORDS:
        raise InvalidInput(
            f"{field} may hold at most {MAX_SEARCH_WORDS} words and terms, got {count}",
            field=field,
        )


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a row sits in an ordering: its sort value, then its number to break ties."""

    value: KeyValue
    number: int


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    order_by: str = "number"
    descending: bool = False
    words: tuple[str, ...] = ()
    terms: dict[str, str | int | bool] = field(default_factory=dict)
    after: Keyset | None = None
    limit: int = 25


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customers: list[Customer]
    keys: list[Keyset]
    has_next: bool


def keyset(order_by: str, value: object, number: object, *, field: str = "after") -> Keyset:
    """A position read back from a client: checked against the type of the sort key."""
    kind = _sort_key(order_by)[1]
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= _MAX_NUMBER:
        raise InvalidInput(f"{field} does not point at a customer", field=field)
    if kind is datetime and isinstance(value, str):
        try:
            return Keyset(as_utc(datetime.fromisoformat(value)), number)
        except ValueError:
            pass
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= _MAX_NUMBER:
            return Keyset(value, number)
    elif kind is str and isinstance(value, str) and len(value) <= 1000:
        return Keyset(value, number)
    raise InvalidInput(f"{field} does not belong to a list ordered by {order_by}", field=field)


def _sort_key(order_by: str) -> tuple[ColumnElement[Any], type]:
    if order_by not in SORT_KEYS:
        raise InvalidInput(
            f"cannot order by '{order_by}': use one of {', '.join(SORT_KEYS)}", field="order_by"
        )
    return SORT_KEYS[order_by]


def _term(name: str, value: str | int | bool) -> ColumnElement[bool]:
    if name in TEXT_TERMS:
        if not isinstance(value, str) or not 1 <= len(value) <= _MAX_TERM:
            raise InvalidInput(f"{name} must be 1 to {_MAX_TERM} characters", field=name)
        return TEXT_TERMS[name].icontains(value.lower(), autoescape=True)
    if name == "number":
        if isinstance(value, bool) or not isinstance(value, int) or value > _MAX_NUMBER:
            raise InvalidInput("number must be an integer", field=name)
        return _c.number == value
    if name == "accepts_marketing":
        if not isinstance(value, bool):
            raise InvalidInput("accepts_marketing must be true or false", field=name)
        return _c.accepts_marketing.is_(value)
    known = ", ".join([*TEXT_TERMS, *EXACT_TERMS])
    raise InvalidInput(f"cannot search by '{name}': use one of {known}", field=name)


def _word(word: str) -> ColumnElement[bool]:
    if len(word) > _MAX_TERM:
        raise InvalidInput(f"a search word must be at most {_MAX_TERM} characters", field="query")
    return or_(*(column.icontains(word.lower(), autoescape=True) for column in _FREE_TEXT))


def _position(
    expression: ColumnElement[Any], value: Any, number: Any, descending: bool, single: bool
) -> Any:
    if single:
        return _c.number < number if descending else _c.number > number
    if descending:
        return or_(expression < value, and_(expression == value, _c.number < number))
    return or_(expression > value, and_(expression == value, _c.number > number))


_COLUMNS = [c for c in customers.c if c.name not in {"password_hash", "erased_at"}]


def _page_query(order_by: str, descending: bool, conditions: list[Any], limit: Any) -> Select[Any]:
    expression, _kind = SORT_KEYS[order_by]
    ordering = (
        [] if order_by == "number" else [expression.desc() if descending else expression.asc()]
    )
    ordering.append(_c.number.desc() if descending else _c.number.asc())
    return (
        select(*_COLUMNS, expression.label("sort_key"))
        .where(*conditions)
        .order_by(*ordering)
        .limit(limit)
    )


@cache
def _plain_page(order_by: str, descending: bool, after: bool) -> Select[Any]:
    """A page without words or terms (the dialects' usual request), built once per ordering:
    the account, the position and the size are its parameters."""
    expression, _kind = SORT_KEYS[order_by]
    conditions = [_c.account_id == bindparam("account_id"), _c.erased_at.is_(None)]
    if after:
        single = order_by == "number"
        position = _position(
            expression, bindparam("after_value"), bindparam("after_number"), descending, single
        )
        conditions.append(position)
    return _page_query(order_by, descending, conditions, bindparam("limit", type_=Integer))


def search_customers(
    connection: Connection, principal: Principal, search: CustomerSearch
) -> CustomerPage:
    """One page and whether another follows: a single statement."""
    expression, _kind = _sort_key(search.order_by)
    if not 1 <= search.limit <= MAX_PAGE:
        raise InvalidInput(
            f"a page holds 1 to {MAX_PAGE} customers, got {search.limit}", field="first"
        )
    check_search_size(len(search.words) + len(search.terms), field="search")
    single = search.order_by == "number"
    after = search.after
    if not search.words and not search.terms:
        rows = connection.execute(
            _plain_page(search.order_by, search.descending, after is not None),
            {
                "account_id": principal.account_id,
                "limit": search.limit + 1,
                "after_value": None if after is None else after.value,
                "after_number": None if after is None else after.number,
            },
        ).all()
    else:
        conditions = [_c.account_id == principal.account_id, _c.erased_at.is_(None)]
        conditions += [_word(word) for word in search.words]
        conditions += [_term(name, value) for name, value in search.terms.items()]
        if after is not None:
            conditions.append(
                _position(expression, after.value, after.number, search.descending, single)
            )
        query = _page_query(search.order_by, search.descending, conditions, search.limit + 1)
        rows = connection.execute(query).all()
    page = rows[: search.limit]
    keys = [
        Keyset(
            as_utc(row.sort_key) if isinstance(row.sort_key, datetime) else row.sort_key,
            int(row.number),
        )
        for row in page
    ]
    return CustomerPage(
        customers=customers_from_rows(page),
        keys=keys,
        has_next=len(rows) > search.limit,
    )


def customer_by_number(
    connection: Connection, principal: Principal, number: int
) -> Customer | None:
    """The account's customer with this per-account number, if there is one."""
    if not 1 <= number <= _MAX_NUMBER:
        return None
    found = find_customers(
        connection, principal.account_id, CustomerFilter(number=number), limit=1, offset=0
    )
    return found[0] if found else None
