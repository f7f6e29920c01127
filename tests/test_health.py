"""/healthz says the process answers; /readyz that the store answers at this Patron's revision."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import uvicorn

from patron.api.app import create_app
from patron.core import migrate
from patron.core.db import Database
from patron.core.settings import Settings
from tests.support.server import ThreadServer, free_port


def test_a_current_store_is_ready(server: ThreadServer) -> None:
    alive = httpx.get(f"{server.base_url}/healthz", timeout=10)
    ready = httpx.get(f"{server.base_url}/readyz", timeout=10)

    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "revision": migrate.head_revision()}


def test_a_store_behind_this_patron_is_alive_but_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "d84d0629595b")  # the first revision only
    port = free_port()
    app = create_app(Settings(database_url=url, port=port), Database(url, pool_size=1))
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                alive = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                threading.Event().wait(0.05)
        ready = httpx.get(f"{base}/readyz", timeout=10)
    finally:
        running.should_exit = True
        thread.join(timeout=10)

    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "reason": f"the store is at revision d84d0629595b, this Patron needs "
        f"{migrate.head_revision()}",
    }
