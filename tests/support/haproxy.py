"""HAProxy on a loopback port, balancing HTTP round-robin over ``patron serve`` nodes.

Started from Debian's ``haproxy`` binary in the foreground with a generated configuration, in a
session of its own, and stopped by that process group's id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.server import free_port


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )


class HaProxy:
    def __init__(self, nodes: list[str]) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        self.binary = binary
        self.nodes = nodes  # host:port of each node
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="patron-haproxy-"))
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        servers = "\n".join(
            f"    server node{n} {node} check inter 500ms" for n, node in enumerate(self.nodes)
        )
        return f"""global
    maxconn 512

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend patron
    bind 127.0.0.1:{self.port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""

    def start(self) -> HaProxy:
        config = self.root / "haproxy.cfg"
        config.write_text(self._config())
        self.process = subprocess.Popen(
            [self.binary, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "haproxy.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.root / "haproxy.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("haproxy did not start")

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
