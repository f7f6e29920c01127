"""A fast webhook receiver for the outbox benchmark, run as its own process (its own GIL).

``python -m bench.receiver`` listens on a free loopback port, prints it, and answers every POST
with 204 on a keep-alive HTTP/1.1 connection, counting the requests and the distinct
``webhook-id`` headers it saw. ``GET /stats`` answers those counts as JSON. It parses just
enough HTTP for that (request line, headers, a ``content-length`` body): it is a load sink, not
a server to reuse.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from typing import cast

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
_MAX_HEAD = 64 * 1024


class Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ids: set[bytes] = set()
        self.missing_id = 0

    def stats(self) -> bytes:
        body = json.dumps(
            {
                "requests": self.requests,
                "distinct_ids": len(self.ids),
                "missing_id": self.missing_id,
            }
        ).encode()
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )


class Connection(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD and self.transport is not None:
                    self.transport.close()
                break
            head = bytes(self.buffer[:end]).split(b"\r\n")
            length = 0
            event_id = None
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"webhook-id":
                    event_id = value.strip()
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            del self.buffer[:total]
            if head[0].startswith(b"GET /stats"):
                replies.append(self.counts.stats())
                continue
            self.counts.requests += 1
            if event_id is None:
                self.counts.missing_id += 1
            else:
                self.counts.ids.add(event_id)
            replies.append(_NO_CONTENT)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))


async def serve(port: int) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    server = await loop.create_server(lambda: Connection(counts), sock=listener, backlog=1024)
    print(listener.getsockname()[1], flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    try:
        import uvloop  # uvicorn's optional loop, there when uvicorn[standard] is
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))


if __name__ == "__main__":
    main()
