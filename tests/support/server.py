"""Real HTTP servers for API tests: uvicorn on a thread, or a ``patron serve`` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from patron.api.app import create_app
from patron.core.db import Database
from patron.core.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until_up(base_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {base_url} did not come up")


class ThreadServer:
    """The real ASGI app behind uvicorn, on a background thread of the test process."""

    def __init__(self, database_url: str, **settings: object) -> None:
        self.port = free_port()
        self.settings = Settings(database_url=database_url, port=self.port, **settings)  # type: ignore[arg-type]
        self.db = Database(
            database_url,
            pool_size=8,
            prepared_statements=self.settings.database_prepared_statements,
        )
        app = create_app(self.settings, self.db)
        self.app = app
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        wait_until_up(self.base_url)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ProcessServer:
    """``patron serve`` as its own process group, so that it can be killed -9 like in production."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.env = dict(env or {})
        self.database_url = database_url
        self.workers = workers
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessServer:
        # Each worker process's pool at 5 + 5 connections unless a test asks otherwise: at the
        # default 10 + 10 a few servers at once reach the shared server's max_connections.
        env = {
            "PATRON_POOL_SIZE": "5",
            **os.environ,
            "PATRON_DATABASE_URL": self.database_url,
            **self.env,
        }
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "patron",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        wait_until_up(self.base_url, timeout=60)
        return self

    def kill(self) -> None:
        """kill -9 of the whole server (supervisor and workers) at once."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None
