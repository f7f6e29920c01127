"""Per-request context of the dialect: who calls, for which account, and the batch loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from patron.accounts.principal import Principal
from patron.api.graphql.context import BatchLoader, Context
from patron.core.errors import Unauthenticated
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import ConsumerProfile, TokenPolicy
from patron.orders import stores
from patron.orders.models import Store
from patron.orders.stamps import service as stamps
from patron.orders.stamps.models import StampCard
from patron.redemptions import service as redemptions
from patron.redemptions.models import CodeFilter, Redemption
from patron.wallets import service as wallets


class Caller(Enum):
    PUBLIC = "public"  # nobody signed in: signup and login only
    CONSUMER = "consumer"  # a consumer's access token: itself only, read-only
    MERCHANT = "merchant"  # an API token of the account


@dataclass
class LoyaltydishContext(Context):
    caller: Caller = Caller.PUBLIC
    policy: TokenPolicy = field(default_factory=lambda: TokenPolicy(secret=None))
    client_address: str | None = None

    @property
    def account_id(self) -> str:
        return self.principal.account_id

    def reader(self) -> Principal:
        """The principal to read with; the public may not read anything."""
        if self.caller is Caller.PUBLIC:
            raise Unauthenticated(
                "sign in first: send 'Authorization: JWT <token>' from obtainToken, "
                "or a merchant API token"
            )
        return self.principal

    def caller_principal(self) -> Principal | None:
        """Who asks, for commands that the public may call too."""
        return None if self.caller is Caller.PUBLIC else self.principal

    def profiles(self) -> BatchLoader[str, ConsumerProfile]:
        loader = self._loaders.get("profiles")
        if loader is None:
            loader = BatchLoader(
                lambda keys: consumers.profiles_for(self.connection(), self.reader(), keys),
                ConsumerProfile(customer_uuid=""),
            )
            self._loaders["profiles"] = loader
        return loader

    def stamp_cards(self) -> BatchLoader[str, StampCard]:
        loader = self._loaders.get("stamp_cards")
        if loader is None:
            loader = BatchLoader(
                lambda keys: stamps.cards_for(self.connection(), self.reader(), keys),
                StampCard(customer_uuid=""),
            )
            self._loaders["stamp_cards"] = loader
        return loader

    def code_counts(self, name: str, where: CodeFilter) -> BatchLoader[str, int]:
        key = f"code_counts:{name}"
        loader = self._loaders.get(key)
        if loader is None:
            loader = BatchLoader(
                lambda keys: redemptions.count_codes_for_wallets(
                    self.connection(), self.reader(), keys, where
                ),
                0,
            )
            self._loaders[key] = loader
        loader.expect(self.seen_wallets)
        return loader

    def codes(
        self, name: str, where: CodeFilter, limit: int, offset: int
    ) -> BatchLoader[str, list[Redemption]]:
        key = f"codes:{name}:{limit}:{offset}"
        loader = self._loaders.get(key)
        if loader is None:
            loader = BatchLoader(
                lambda keys: redemptions.codes_for_wallets(
                    self.connection(), self.reader(), keys, limit=limit, offset=offset, where=where
                ),
                [],
            )
            self._loaders[key] = loader
        loader.expect(self.seen_wallets)
        return loader

    def points_earned(self) -> BatchLoader[str, int]:
        """LOCAL points earned per customer, in the smallest unit."""
        loader = self._loaders.get("points_earned")
        if loader is None:
            loader = BatchLoader(
                lambda keys: wallets.points_earned_for_customers(
                    self.connection(), self.reader(), keys
                ),
                0,
            )
            self._loaders["points_earned"] = loader
        return loader

    def stores(self) -> BatchLoader[str, Store | None]:
        loader = self._loaders.get("stores")
        if loader is None:
            loader = BatchLoader(
                lambda keys: dict(stores.stores_by_uuid(self.connection(), self.reader(), keys)),
                None,
            )
            self._loaders["stores"] = loader
        return loader
