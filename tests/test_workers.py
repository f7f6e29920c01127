"""`patron serve --workers N`: each worker accepts on a socket of its own, so one client's
keep-alive connections spread over the workers instead of piling onto whichever woke first
(``cli/workers.py``). Read off the kernel's own tables (Linux ``/proc``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ProcessServer

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

LISTEN, ESTABLISHED = "0A", "01"


def sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the IPv4 sockets whose local port is ``port``, in ``state``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state:
            found.add(fields[9])
    return found


def held_by(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` has open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def children_of(server: ProcessServer) -> list[int]:
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


@pytest.fixture
def served(database_url: str) -> Iterator[ProcessServer]:
    server = ProcessServer(database_url, workers=2).start()
    try:
        yield server
    finally:
        server.stop()


def test_each_worker_listens_on_its_own_socket_and_connections_spread(
    served: ProcessServer,
) -> None:
    listening = sockets_on(served.port, LISTEN)
    # The supervisor's children that listen: its workers (not multiprocessing's helper).
    workers = [pid for pid in children_of(served) if held_by(pid) & listening]
    clients = [httpx.Client(base_url=served.base_url) for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200  # each keeps its connection
        established = sockets_on(served.port, ESTABLISHED)
        serving = {pid: len(held_by(pid) & established) for pid in workers}
        listened = [len(held_by(pid) & listening) for pid in workers]
    finally:
        for client in clients:
            client.close()

    assert len(workers) == 2
    assert len(listening) == 2  # two sockets on one port: SO_REUSEPORT
    assert listened == [1, 1]  # each worker has exactly one of them
    assert sum(serving.values()) == 16
    # The kernel spreads connections by their address: all 16 on one worker would be a
    # chance of 2 in 65,536.
    assert all(count > 0 for count in serving.values()), serving
