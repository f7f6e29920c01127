"""``/metrics`` on its own port, for ``patron serve`` and ``patron worker``.

Not on the API's port: metrics name accounts' activity and the store's state, so they are
served on ``PATRON_METRICS_PORT`` (``PATRON_WORKER_METRICS_PORT``), bound to
``PATRON_METRICS_HOST`` (127.0.0.1 unless set), and only when set.

``patron serve`` with several worker processes gives them a directory for
``prometheus_client``'s multi-process mode (``PROMETHEUS_MULTIPROC_DIR``: its own, made and
removed by it, or the operator's, emptied at start) and serves the sum of all of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Metric
from prometheus_client.registry import Collector

from patron.cli.common import refuse

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """The directory worker processes write their metrics to, set in the environment they
    inherit: the operator's (emptied of an earlier run's files) or a new one, removed after."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="patron-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


class _ThisProcess(Collector):
    """The metrics this process recorded (one process: nothing to add up)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def serve_metrics(host: str, port: int, *, store_url: str | None = None) -> Callable[[], None]:
    """Serve the metrics on ``host:port`` from a thread; returns what stops it.

    ``store_url``: also the outbox gauges, read from that store at each scrape.
    """
    from prometheus_client import REGISTRY, multiprocess, start_http_server

    from patron.core.db import Database
    from patron.core.metrics import StoreCollector
    from patron.integrations.outbox import store

    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess(REGISTRY))
    db = None
    if store_url is not None:
        db = Database(store_url, pool_size=1)
        reader = db
        registry.register(StoreCollector(lambda: store.gauges(reader)))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        if db is not None:
            db.dispose()
        reason = (error.strerror or str(error)).lower()
        refuse("ADDRESS_UNAVAILABLE", f"cannot serve metrics on {host}:{port}: {reason}")

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if db is not None:
            db.dispose()

    return stop
