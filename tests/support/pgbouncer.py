"""PgBouncer in transaction-pooling mode on a loopback port, in front of the suite's PostgreSQL.

Started from Debian's ``pgbouncer`` binary with a generated configuration, in a session of its
own, and stopped by that process group's id.
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

import psycopg
from sqlalchemy.engine import make_url

from tests.support.server import free_port


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


class PgBouncer:
    def __init__(self, server_url: str, *, pool_size: int = 4) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.binary = binary
        self.server = make_url(server_url)
        self.pool_size = pool_size
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="patron-pgbouncer-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _config(self) -> str:
        server = self.server
        login = f"user={server.username or 'postgres'}"
        if server.password:
            login += f" password={server.password}"
        return f"""[databases]
* = host={server.host or "127.0.0.1"} port={server.port or 5432} {login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {self.root / "pgbouncer.log"}
pidfile = {self.root / "pgbouncer.pid"}
"""

    def start(self) -> PgBouncer:
        config = self.root / "pgbouncer.ini"
        config.write_text(self._config())
        if self.as_user:
            shutil.chown(config, "postgres")
        self.process = subprocess.Popen(
            [*self.as_user, self.binary, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return self
            except psycopg.Error:
                assert self.process.poll() is None, self.log()
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not start: {self.log()}")

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

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
