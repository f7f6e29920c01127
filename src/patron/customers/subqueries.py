"""Customers' rows as subqueries, for another domain to compose into one statement of its own.

Nothing here runs a statement, and each subquery is scoped by the account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, select

from patron.core.bulk import any_of
from patron.customers.tables import customers


def numbers(account_id: str) -> Subquery:
    """(uuid, number) of the account's customers."""
    return (
        select(customers.c.uuid, customers.c.number)
        .where(customers.c.account_id == account_id, customers.c.erased_at.is_(None))
        .subquery("customer_numbers")
    )


def birthday_months(dialect: str, account_id: Any, keys: str) -> Subquery:
    """(uuid, birthday_month) of those customers that exist in the account, for a statement
    built once: the account is ``account_id`` (a bound parameter), the uuids the list bound
    to ``keys`` (see ``core.bulk.any_of``)."""
    return (
        select(customers.c.uuid, customers.c.birthday_month)
        .where(customers.c.account_id == account_id, any_of(dialect, customers.c.uuid, keys))
        .subquery("customer_birthdays")
    )
