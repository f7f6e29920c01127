"""``patron serve`` and the other ``patron`` commands, run as a user would run them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.cpu import descendants

PATRON = Path(sys.executable).with_name("patron")


def patron_command(*args: str, allow_failure: bool = False) -> str:
    """Run ``patron ARGS`` to completion; its stdout, or an error with its stderr.
    ``allow_failure``: a command that reports a failure as JSON on stdout (ledger verify)."""
    done = subprocess.run(
        [str(PATRON), *args],
        capture_output=True,
        text=True,
        env=clean_environment({}),
        check=False,
    )
    if done.returncode != 0 and not (allow_failure and done.stdout.strip()):
        raise RuntimeError(
            f"patron {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def patron_json(*args: str, allow_failure: bool = False) -> Any:
    return json.loads(patron_command(*args, allow_failure=allow_failure))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its PATRON_* settings (a rate limit set in a shell
    would skew every number), plus the settings the run asks for."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PATRON_")}
    env.update(extra)
    return env


class PatronServer:
    """``patron serve`` in a process group of its own, so that all of it can be stopped."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int,
        log: Path,
        env: dict[str, str],
        server: str = "uvicorn",
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.server = server
        self.log = log
        self.env = clean_environment(env)
        if server == "granian" and database_url:
            # Granian's workers read their settings from the environment, as those of
            # ``patron serve`` do (the bench has run ``patron migrate`` on the store).
            self.env["PATRON_DATABASE_URL"] = database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> PatronServer:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                self.command(),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"patron serve exited ({self.process.returncode}):\n{self.tail()}"
                )
            if self._healthy() and len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"patron serve did not come up in {timeout:.0f} s:\n{self.tail()}")

    def command(self) -> list[str]:
        if self.server == "granian":
            return granian_command("patron.api.app:served_app", self.port, self.workers)
        return [
            str(PATRON),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--database",
            self.database_url,
        ]

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def pids(self) -> list[int]:
        return descendants(self.process.pid) if self.process is not None else []

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's spawned workers)."""
        if self.process is None:
            return []
        workers = []
        for pid in self.pids()[1:]:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in command or (self.server == "granian" and b"granian" in command):
                workers.append(pid)
        if not workers and self.workers == 1:
            return [self.process.pid]
        return workers

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        group = process.pid  # start_new_session: the group is ours alone
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            process.poll()
            if not _group_alive(group):
                break
            time.sleep(0.1)
        else:
            _signal_group(group, signal.SIGKILL)
        process.wait(timeout=20)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def granian_command(factory: str, port: int, workers: int) -> list[str]:
    """Granian serving the ASGI app ``factory`` makes as ``patron serve`` serves it: HTTP/1.1,
    uvloop, no websockets, ``workers`` processes."""
    return [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "--factory",
        factory,
    ]


class FloorServer(PatronServer):
    """``bench.floor`` of one kind, served as ``patron serve`` is (or by Granian); ``env``:
    what the kind reads (the SQL kinds' store and statements)."""

    def __init__(
        self,
        kind: str,
        *,
        workers: int,
        log: Path,
        server: str = "uvicorn",
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__("", workers=workers, log=log, env=env or {}, server=server)
        self.kind = kind
        self.env["BENCH_FLOOR"] = kind

    def command(self) -> list[str]:
        if self.server == "granian":
            return granian_command("bench.floor:create_app", self.port, self.workers)
        return [
            sys.executable,
            "-m",
            "bench.floor",
            "--kind",
            self.kind,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
