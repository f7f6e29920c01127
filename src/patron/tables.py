"""Every table, imported once so that the metadata is complete (for Alembic and tests).

It sits above the domains, not in ``core``: the lowest layer knows no domain's tables.
"""

from patron.accounts import tables as _accounts  # noqa: F401
from patron.contact_persons import tables as _contact_persons  # noqa: F401
from patron.core import counters as _counters  # noqa: F401
from patron.core import events as _events  # noqa: F401
from patron.core import idempotency as _idempotency  # noqa: F401
from patron.core import rate_windows as _rate_windows  # noqa: F401
from patron.core.db import metadata
from patron.customers import tables as _customers  # noqa: F401
from patron.customers.consumers import tables as _consumers  # noqa: F401
from patron.integrations.shopify import tables as _shopify  # noqa: F401
from patron.orders import tables as _orders  # noqa: F401
from patron.orders.promotions import tables as _promotions  # noqa: F401
from patron.orders.stamps import tables as _stamps  # noqa: F401
from patron.redemptions import tables as _redemptions  # noqa: F401
from patron.staff import tables as _staff  # noqa: F401
from patron.wallets import lot_tables as _lots  # noqa: F401
from patron.wallets import tables as _wallets  # noqa: F401
from patron.webhooks import tables as _webhooks  # noqa: F401

__all__ = ["metadata"]
