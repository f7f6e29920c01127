"""Signed webhook delivery over HTTP, with timeouts and a guard against private addresses."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from patron.core.db import Database
from patron.core.errors import DomainError
from patron.integrations.outbox.dispatcher import Dead, Delivered, Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent
from patron.webhooks import service as webhooks
from patron.webhooks import signing
from patron.webhooks.addresses import UrlPolicy, check_url, is_public
from patron.webhooks.events import webhook_event
from patron.webhooks.models import DeliveryResult, Subscription, WebhookTarget

MAX_ERROR_LENGTH = 500
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def envelope(event: OutboxEvent, name: str) -> bytes:
    body = {
        "id": event.event_id,
        "type": name,
        "timestamp": event.created_at.isoformat(),
        "account_uuid": event.account_id,
        "data": event.payload,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


def _retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


@dataclass
class WebhookSender:
    """An outbox handler: one event to each subscribed webhook that has not had it yet."""

    db: Database
    client: httpx.Client
    policy: UrlPolicy
    resolver: Resolver = resolve
    clock: Callable[[], float] = time.time
    # Subscriptions are read once per account per this many seconds, not once per event:
    # a new or changed webhook takes effect within it.
    cache_seconds: float = 2.0
    _cache: dict[str, tuple[float, list[Subscription]]] = field(default_factory=dict)
    # Per batch: what each event's webhooks already had, and the log lines to write.
    _finished: dict[tuple[str, str], set[str]] | None = None
    _log: list[webhooks.Attempt] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _targets(self, event: OutboxEvent) -> tuple[str, list[WebhookTarget]] | None:
        name = webhook_event(event.event_type)
        if name is None:
            return None
        found = [s.target for s in self._subscriptions(event.account_id) if name in s.events]
        return (name, found) if found else None

    def prepare(self, events: Sequence[OutboxEvent]) -> None:
        """Before a batch: one query for what its events' webhooks already had."""
        wanted = [(e.account_id, e.event_id) for e in events if self._targets(e) is not None]
        self._finished = webhooks.finished_deliveries(self.db, wanted)
        self._log = []

    def flush(self) -> None:
        """After a batch, before it is settled: its delivery log in one transaction."""
        with self._lock:
            log, self._log, self._finished = self._log, [], None
        webhooks.record_results(self.db, log)

    def __call__(self, event: OutboxEvent, last_attempt: bool) -> Outcome:
        wanted = self._targets(event)
        if wanted is None:
            return Delivered()
        name, subscribed = wanted
        key = (event.account_id, event.event_id)
        in_batch = self._finished is not None and key in self._finished
        finished = (
            self._finished[key]
            if self._finished is not None and in_batch
            else webhooks.finished_deliveries(self.db, [key])[key]
        )
        targets = [target for target in subscribed if target.uuid not in finished]
        if not targets:
            return Delivered()
        body = envelope(event, name)
        results = [self._send(target, event.event_id, body, last_attempt) for target in targets]
        attempt = webhooks.Attempt(event.account_id, event.event_id, name, results)
        if in_batch:
            with self._lock:
                self._log.append(attempt)
        else:
            webhooks.record_results(self.db, [attempt])
        retrying = [result for result in results if result.status == "retrying"]
        failed = [result for result in results if result.status == "failed"]
        if retrying:
            return Retry(_summary(retrying))
        if failed:
            return Dead(_summary(failed))
        return Delivered()

    def _subscriptions(self, account_id: str) -> list[Subscription]:
        now = time.monotonic()
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = webhooks.subscriptions(self.db, account_id)
        self._cache[account_id] = (now + self.cache_seconds, found)
        return found

    def _send(
        self, target: WebhookTarget, event_id: str, body: bytes, last_attempt: bool
    ) -> DeliveryResult:
        def result(
            retryable: bool, error: str | None, status: int | None = None, ms: int | None = None
        ) -> DeliveryResult:
            if error is None:
                outcome = "delivered"
            else:
                outcome = "retrying" if retryable and not last_attempt else "failed"
            clipped = error[:MAX_ERROR_LENGTH] if error else None
            return DeliveryResult(target.uuid, outcome, status, ms, clipped)

        refusal = self._refusal(target.url)
        if refusal is not None:
            return result(refusal[1], refusal[0])
        headers = signing.headers(target.secret, event_id, int(self.clock()), body)
        headers["content-type"] = "application/json"
        headers["user-agent"] = "Patron-Webhooks/1"
        started = time.monotonic()
        try:
            response = self.client.post(target.url, content=body, headers=headers)
        except httpx.TimeoutException as error:
            return result(True, f"timed out: {type(error).__name__}", ms=_ms(started))
        except httpx.HTTPError as error:
            return result(True, f"{type(error).__name__}: {error}", ms=_ms(started))
        elapsed = _ms(started)
        if 200 <= response.status_code < 300:
            return result(False, None, response.status_code, elapsed)
        status = response.status_code
        return result(_retryable_status(status), f"HTTP {status}", status, elapsed)

    def _refusal(self, url: str) -> tuple[str, bool] | None:
        """Why this URL may not be called now, and whether that may pass; None when it may."""
        try:
            check_url(url, self.policy)
        except DomainError as error:
            return f"refused: {error.message}", False
        if self.policy.allow_private:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self.resolver(host, port)
        except OSError as error:
            return f"cannot resolve {host}: {error}", True
        private = [address for address in addresses if not is_public(address)]
        if private or not addresses:
            return f"refused: {host} resolves to a private address ({', '.join(private)})", False
        return None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _summary(results: list[DeliveryResult]) -> str:
    return "; ".join(f"webhook {result.webhook_uuid}: {result.error}" for result in results)


def http_client(timeout_seconds: float) -> httpx.Client:
    """No redirects (a redirect could lead past the address guard) and a bounded timeout."""
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=32, max_keepalive_connections=16),
    }
    return httpx.Client(**options)
