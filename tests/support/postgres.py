"""Finding a PostgreSQL server for the tests, or starting a throwaway one.

Order: PATRON_TEST_DATABASE_URL, then 127.0.0.1:5432 (user postgres), then a cluster of
our own from the local PostgreSQL binaries in a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _version(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]).split()[0] if row else None


def _without_password(url: str) -> str:
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


def which_server() -> str:
    """The PostgreSQL the tests will use, in words, found the way ``acquire`` finds it."""
    given = os.environ.get("PATRON_TEST_DATABASE_URL")
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    for url, origin in ((given, "PATRON_TEST_DATABASE_URL"), (local, "the local default")):
        if not url:
            continue
        version = _version(url)
        if version is not None:
            return f"PostgreSQL {version} at {_without_password(url)} ({origin})"
        if url == given:
            return f"none: PATRON_TEST_DATABASE_URL does not answer ({_without_password(url)})"
    bindir = _binary_dir()
    if bindir is not None:
        return f"a throwaway cluster started from {bindir}"
    return "none: no server answers and no PostgreSQL binaries were found; its tests are skipped"


def _binary_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    config = shutil.which("pg_config")
    if config:
        output = subprocess.run([config, "--bindir"], capture_output=True, text=True, check=False)
        if output.returncode == 0 and (Path(output.stdout.strip()) / "pg_ctl").exists():
            return Path(output.stdout.strip())
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class ThrowawayCluster:
    """initdb + pg_ctl in a temporary directory; removed by ``stop``."""

    def __init__(self) -> None:
        bindir = _binary_dir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (pg_ctl) found")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="patron-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True)

    def start(self) -> str:
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c fsync=on"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            options,
            "start",
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresServer:
    """A server URL (its maintenance database) and, if we started it, the cluster."""

    def __init__(self) -> None:
        self.cluster: ThrowawayCluster | None = None
        self.url: str | None = None
        self.problem: str | None = None

    def acquire(self) -> str | None:
        given = os.environ.get("PATRON_TEST_DATABASE_URL")
        if given:
            if _answers(given):
                self.url = given
            else:
                self.problem = f"PATRON_TEST_DATABASE_URL does not answer: {given}"
            return self.url
        local = "postgresql://postgres@127.0.0.1:5432/postgres"
        if _answers(local):
            self.url = local
            return self.url
        try:
            self.cluster = ThrowawayCluster()
            url = self.cluster.start()
            for _ in range(50):
                if _answers(url):
                    self.url = url
                    break
                time.sleep(0.2)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            self.problem = f"could not start a throwaway PostgreSQL cluster: {error}"
        return self.url

    def create_database(self, name: str) -> str:
        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def drop_database(self, name: str) -> None:
        if self.url is None:
            return
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def release(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
