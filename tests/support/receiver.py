"""A webhook receiver on a loopback port: records what it gets, answers as a test scripts it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next scripted status (the last one repeats), after a delay."""

    def __init__(
        self,
        statuses: tuple[int, ...] = (200,),
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.headers = dict(headers or {})
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = (
                        receiver.statuses.pop(0)
                        if len(receiver.statuses) > 1
                        else receiver.statuses[0]
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    for name, value in receiver.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (a timeout under test)
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def event_ids(self) -> list[str]:
        with self._lock:
            return [item.headers["webhook-id"] for item in self.received]


@contextmanager
def running_receiver(
    statuses: tuple[int, ...] = (200,),
    delay: float = 0.0,
    headers: dict[str, str] | None = None,
) -> Iterator[Receiver]:
    """A receiver answering the statuses in turn, each answer with ``headers``."""
    receiver = Receiver(statuses, delay, headers)
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
