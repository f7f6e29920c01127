"""Settings turned into the worker's parts: the URL policy, the HTTP client, the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from patron.core.db import Database
from patron.core.settings import Settings
from patron.integrations.accounts import AccountCache
from patron.integrations.klaviyo.profiles import KlaviyoProfileSync
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.shopify.credit import ShopifyCreditMirror
from patron.integrations.shopify.customers import ShopifyCustomerSync
from patron.integrations.webhooks.sender import WebhookSender, http_client
from patron.webhooks.addresses import UrlPolicy


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(
        require_https=settings.environment != "development",
        allow_private=settings.webhook_allow_private_addresses,
    )


@contextmanager
def dispatcher(settings: Settings, db: Database) -> Iterator[Dispatcher]:
    """A dispatcher with every handler; its HTTP connections close when the block ends."""
    known = AccountCache(db)  # one read per account per few seconds, for every handler
    with http_client(settings.webhook_timeout_seconds) as client:
        built = Dispatcher(
            db,
            [
                WebhookSender(db, client, url_policy(settings), settings.sealing_key),
                ShopifyCustomerSync(db, client, settings.sealing_key, known),
                ShopifyCreditMirror(db, client, settings.sealing_key, known),
                KlaviyoProfileSync(db, client, settings.sealing_key, known),
            ],
            policy=RetryPolicy(
                max_attempts=settings.outbox_max_attempts,
                base_seconds=settings.outbox_retry_base_seconds,
            ),
            batch_size=settings.outbox_batch_size,
            lease_seconds=settings.outbox_lease_seconds,
            concurrency=settings.outbox_concurrency,
        )
        try:
            yield built
        finally:
            built.close()  # its event loop and the webhooks' connections
