"""Every table, imported once so that the metadata is complete (for Alembic and tests)."""

from patron.accounts import tables as _accounts  # noqa: F401
from patron.core import events as _events  # noqa: F401
from patron.core import idempotency as _idempotency  # noqa: F401
from patron.core.db import metadata
from patron.customers import tables as _customers  # noqa: F401
from patron.wallets import tables as _wallets  # noqa: F401

__all__ = ["metadata"]
