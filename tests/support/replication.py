"""A PostgreSQL primary and a synchronous streaming standby on loopback, from the local binaries.

Each node is started by ``pg_ctl`` in a session of its own, so that the whole server (the
postmaster and its children) can be killed at once by its process group id, like a machine that
dies. After a failover the promoted standby is the primary, and a new standby is made from it
(``pg_basebackup -R``) on the dead primary's port: the two ports, and so the URL a client is
given, stay the same round after round.
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

from tests.support.postgres import _binary_dir, _free_port


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (a zombie does not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


class Node:
    """One data directory served on one loopback port."""

    def __init__(self, pair: ReplicatedPair, name: str, port: int) -> None:
        self.pair = pair
        self.data = pair.root / name
        self.port = port
        self.pgid: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.pair.root} -c listen_addresses=127.0.0.1 "
            # Killing a process loses nothing the kernel has been handed: the test kills
            # processes, not the machine, so fsync only slows a shared machine down.
            "-c fsync=off -c max_connections=100 -c wal_level=replica "
            "-c max_wal_senders=5 -c wal_keep_size=64MB"
        )
        self.pair.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.data) + ".log", "-w", "-t", "60",
            "-o", options, "start", new_session=True,
        )  # fmt: skip
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self.pgid = os.getpgid(pid)
        assert self.pgid not in {os.getpgid(0), 0, 1}

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once (its process group), and wait
        until they are gone: a server started next on this port finds its socket's lock file
        and refuses to start while the old postmaster still exists (on a busy machine, a
        killed process takes a moment to die, or stays a zombie until its parent reaps it)."""
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _group_alive(self.pgid):
                time.sleep(0.05)
            self.pgid = None
            for leftover in self.pair.root.glob(f".s.PGSQL.{self.port}*"):
                leftover.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.pgid is None:
            return
        self.pair.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        self.kill()

    def execute(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        url = self.url.rpartition("/")[0] + f"/{database}"
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(statement)  # type: ignore[call-overload]
            return cursor.fetchall() if cursor.description else []


class ReplicatedPair:
    """A primary and a synchronous standby; ``failover`` kills one and promotes the other."""

    def __init__(self) -> None:
        bindir = _binary_dir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl, pg_basebackup) found")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="patron-ha-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.primary = Node(self, "node0", _free_port())
        self.standby = Node(self, "node1", _free_port())
        self._generation = 1

    def run(self, tool: str, *args: str, check: bool = True, new_session: bool = False) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            start_new_session=new_session,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def hosts(self) -> str:
        """``127.0.0.1:p1,127.0.0.1:p2``: both nodes, in the order the URL names them."""
        first, second = sorted((self.primary, self.standby), key=lambda node: node.data.name)
        return f"127.0.0.1:{first.port},127.0.0.1:{second.port}"

    def start(self) -> None:
        self.run("initdb", "-D", str(self.primary.data), "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--no-locale")  # fmt: skip
        self.primary.start()
        self._attach_standby()

    def _attach_standby(self) -> None:
        """A fresh standby of the primary, streaming synchronously before this returns."""
        standby = self.standby
        if standby.data.exists():
            shutil.rmtree(standby.data)
        self.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast",
            "-d", f"application_name=standby{self._generation}",
        )  # fmt: skip
        # The primary's synchronous_standby_names came along in postgresql.auto.conf: once
        # promoted, the standby would wait for a standby of its own that does not exist yet.
        auto = standby.data / "postgresql.auto.conf"
        kept = [
            line
            for line in auto.read_text().splitlines()
            if not line.startswith("synchronous_standby_names")
        ]
        auto.write_text("\n".join(kept) + "\n")
        standby.start()
        name = f"standby{self._generation}"
        self._generation += 1
        self.primary.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{name}'")
        self.primary.execute("ALTER SYSTEM SET synchronous_commit = 'on'")
        self.primary.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = self.primary.execute(
                "SELECT sync_state FROM pg_stat_replication "
                f"WHERE application_name = '{name}' AND state = 'streaming'"
            )
            if rows and rows[0][0] == "sync":
                return
            time.sleep(0.1)
        raise RuntimeError("the standby did not become synchronous")

    def kill_primary_and_promote(self) -> tuple[float, float]:
        """SIGKILL the primary, promote the standby; (when it was killed, when promoted)."""
        self.primary.kill()
        killed = time.monotonic()
        self.run("pg_ctl", "-D", str(self.standby.data), "-w", "-t", "60", "promote")
        promoted = time.monotonic()
        self.primary, self.standby = self.standby, self.primary
        return killed, promoted

    def reattach(self) -> None:
        """The dead primary's place is taken by a new standby of the promoted one."""
        self.standby.kill()
        self._attach_standby()

    def stop(self) -> None:
        for node in (self.primary, self.standby):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
