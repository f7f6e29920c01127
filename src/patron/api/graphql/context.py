"""Per-request context: the principal, one read connection, and the batch loaders."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from patron.accounts import service as account_service
from patron.accounts.principal import Principal
from patron.accounts.service import Account
from patron.core.db import Database, KeptReader
from patron.customers import service as customers
from patron.customers.consumers import service as consumers
from patron.customers.models import Customer
from patron.orders import service as orders
from patron.orders.models import CustomerOrderStats, Order, Refund
from patron.orders.promotions import service as promotions
from patron.orders.promotions.models import Promotion
from patron.redemptions import service as redemptions
from patron.redemptions.models import Redemption
from patron.wallets import service as wallets
from patron.wallets.lots import Lot
from patron.wallets.models import CreditEntry, Wallet
from patron.webhooks.addresses import UrlPolicy

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """A synchronous data loader: keys announced by a list resolver are fetched in one go.

    A list field calls ``expect`` with the keys its rows will ask for; the first ``load``
    then fetches all of them with one statement. Later loads are answered from the cache.
    """

    def __init__(self, fetch: Callable[[list[K]], dict[K, V]], default: V) -> None:
        self._fetch = fetch
        self._default = default
        self._cache: dict[K, V] = {}
        self._pending: dict[K, None] = {}

    def expect(self, keys: Iterable[K]) -> None:
        for key in keys:
            if key not in self._cache:
                self._pending[key] = None

    def prime(self, key: K, value: V) -> None:
        """What this request already knows (a row it has just written): no read for it."""
        self._cache[key] = value
        self._pending.pop(key, None)

    def load(self, key: K) -> V:
        if key not in self._cache:
            self._pending[key] = None
            keys = list(self._pending)
            self._pending.clear()
            found = self._fetch(keys)
            for wanted in keys:
                self._cache[wanted] = found.get(wanted, self._default)
        return self._cache[key]


@dataclass
class Context:
    db: Database
    principal: Principal
    request_id: str
    _connection: Connection | None = None
    _loaders: dict[str, BatchLoader] = field(default_factory=dict)  # type: ignore[type-arg]
    _account: Account | None = None
    seen_wallets: dict[str, None] = field(default_factory=dict)
    seen_contacts: dict[str, None] = field(default_factory=dict)
    seen_orders: dict[str, None] = field(default_factory=dict)
    webhook_urls: UrlPolicy = field(default_factory=UrlPolicy)
    secret_key: str | None = None  # opens connector credentials (an on-demand Shopify read)
    # Reads without a transaction: each statement sees the latest commit, and no BEGIN or
    # COMMIT round trip is paid (the fast path's known reads).
    autocommit: bool = False
    # With ``autocommit``: the thread's kept connection, borrowed instead of one from the pool.
    kept: KeptReader | None = None

    def connection(self) -> Connection:
        """One read transaction per request (or none, with ``autocommit``), opened on first use."""
        if self._connection is None:
            if self.autocommit and self.kept is not None:
                self._connection = self.kept.connection()
            else:
                self._connection = (
                    self.db.connect_latest() if self.autocommit else self.db.engine.connect()
                )
        if not self.autocommit and not self._connection.in_transaction():
            self._connection.begin()
        return self._connection

    def close(self) -> None:
        if self._connection is not None and self.autocommit and self.kept is not None:
            self._connection = None  # borrowed: it stays open, with no transaction to end
            return
        if self._connection is not None:
            try:
                self._connection.rollback()
            finally:
                self._connection.close()
                self._connection = None

    def start_over(self) -> None:
        """Forget what the request has read so far: empty loaders and a new read transaction.

        The fast read path calls it before handing a request back to the normal executor.
        """
        self._loaders.clear()
        self.seen_wallets.clear()
        self.seen_contacts.clear()
        self.seen_orders.clear()
        if self.kept is not None:
            self._connection = None
            self.kept.drop()  # it may be what broke: the next read opens another
        with suppress(SQLAlchemyError):  # a broken connection is dropped; the next read says
            self.close()

    def wallet_by_customer(self) -> BatchLoader[str, Wallet | None]:
        loader = self._loaders.get("wallet_by_customer")
        if loader is None:

            def fetch(keys: list[str]) -> dict[str, Wallet | None]:
                found = wallets.wallets_for_customers(self.connection(), self.principal, keys)
                for wallet in found.values():
                    self.seen_wallets[wallet.uuid] = None
                return dict(found)

            loader = BatchLoader(fetch, None)
            self._loaders["wallet_by_customer"] = loader
        return loader

    def know_created(self, customer_uuid: str, wallet: Wallet, identities: dict[str, str]) -> None:
        """A contact this request has just created: its answer reads nothing more."""
        self.wallet_by_customer().prime(customer_uuid, wallet)
        self.seen_wallets[wallet.uuid] = None
        self.identities_by_customer().prime(customer_uuid, dict(identities))

    def identities_by_customer(self) -> BatchLoader[str, dict[str, str]]:
        loader = self._loaders.get("identities_by_customer")
        if loader is None:
            loader = BatchLoader(
                lambda keys: customers.identities_for(self.connection(), self.principal, keys), {}
            )
            self._loaders["identities_by_customer"] = loader
        return loader

    def codes_by_wallet(self, limit: int, offset: int) -> BatchLoader[str, list[Redemption]]:
        name = f"codes_by_wallet:{limit}:{offset}"
        loader = self._loaders.get(name)
        if loader is None:
            loader = BatchLoader(
                lambda keys: redemptions.codes_for_wallets(
                    self.connection(), self.principal, keys, limit=limit, offset=offset
                ),
                [],
            )
            self._loaders[name] = loader
        loader.expect(self.seen_wallets)
        return loader

    def lots_by_wallet(self) -> BatchLoader[str, list[Lot]]:
        loader = self._loaders.get("lots_by_wallet")
        if loader is None:
            loader = BatchLoader(
                lambda keys: wallets.upcoming_lots(self.connection(), self.principal, keys), []
            )
            self._loaders["lots_by_wallet"] = loader
        loader.expect(self.seen_wallets)
        return loader

    def entries_by_wallet(self, limit: int, offset: int) -> BatchLoader[str, list[CreditEntry]]:
        name = f"entries_by_wallet:{limit}:{offset}"
        loader = self._loaders.get(name)
        if loader is None:
            loader = BatchLoader(
                lambda keys: wallets.entries_for_wallets(
                    self.connection(), self.principal, keys, limit=limit, offset=offset
                ),
                [],
            )
            self._loaders[name] = loader
        loader.expect(self.seen_wallets)
        return loader

    def account_record(self) -> Account:
        """The principal's account row (its number and updated_at), read once per request."""
        if self._account is None:
            self._account = account_service.account_record(self.connection(), self.principal)
        return self._account

    def contacts_by_uuid(self) -> BatchLoader[str, Customer | None]:
        """Contacts by uuid (a code's recipient): one statement for all asked at once."""
        loader = self._loaders.get("contacts_by_uuid")
        if loader is None:

            def fetch(keys: list[str]) -> dict[str, Customer | None]:
                found = consumers.customers_by_uuid(self.connection(), self.principal, keys)
                return dict(found)

            loader = BatchLoader(fetch, None)
            self._loaders["contacts_by_uuid"] = loader
        return loader

    def order_stats_by_customer(self) -> BatchLoader[str, CustomerOrderStats]:
        loader = self._loaders.get("order_stats_by_customer")
        if loader is None:
            loader = BatchLoader(
                lambda keys: orders.order_stats_for_customers(
                    self.connection(), self.principal, keys
                ),
                CustomerOrderStats(),
            )
            self._loaders["order_stats_by_customer"] = loader
        loader.expect(self.seen_contacts)
        return loader

    def orders_by_customer(
        self, limit: int, offset: int, store_uuid: str | None
    ) -> BatchLoader[str, list[Order]]:
        name = f"orders_by_customer:{limit}:{offset}:{store_uuid}"
        loader = self._loaders.get(name)
        if loader is None:

            def fetch(keys: list[str]) -> dict[str, list[Order]]:
                found = orders.orders_for_customers(
                    self.connection(),
                    self.principal,
                    keys,
                    limit=limit,
                    offset=offset,
                    store_uuid=store_uuid,
                )
                for page in found.values():
                    self.seen_orders.update(dict.fromkeys(order.uuid for order in page))
                return found

            loader = BatchLoader(fetch, [])
            self._loaders[name] = loader
        loader.expect(self.seen_contacts)
        return loader

    def refunds_by_order(self) -> BatchLoader[str, list[Refund]]:
        loader = self._loaders.get("refunds_by_order")
        if loader is None:
            loader = BatchLoader(
                lambda keys: orders.refunds_for_orders(self.connection(), self.principal, keys),
                [],
            )
            self._loaders["refunds_by_order"] = loader
        loader.expect(self.seen_orders)
        return loader

    def promotions_by_customer(self, store_uuid: str | None) -> BatchLoader[str, list[Promotion]]:
        name = f"promotions_by_customer:{store_uuid}"
        loader = self._loaders.get(name)
        if loader is None:
            loader = BatchLoader(
                lambda keys: promotions.available_promotions_for_customers(
                    self.connection(), self.principal, keys, store_uuid=store_uuid
                ),
                [],
            )
            self._loaders[name] = loader
        loader.expect(self.seen_contacts)
        return loader
