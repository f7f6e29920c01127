"""Customers' rows as subqueries, for another domain to compose into one statement of its own.

Nothing here runs a statement, and each subquery is scoped by the account.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Subquery, select

from patron.customers.tables import customers


def numbers(account_id: str) -> Subquery:
    """(uuid, number) of the account's customers."""
    return (
        select(customers.c.uuid, customers.c.number)
        .where(customers.c.account_id == account_id, customers.c.erased_at.is_(None))
        .subquery("customer_numbers")
    )


def birthday_months(account_id: str, customer_uuids: Sequence[str]) -> Subquery:
    """(uuid, birthday_month) of those of these customers that exist in the account."""
    return (
        select(customers.c.uuid, customers.c.birthday_month)
        .where(customers.c.account_id == account_id, customers.c.uuid.in_(list(customer_uuids)))
        .subquery("customer_birthdays")
    )
