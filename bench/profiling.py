"""Optional py-spy profiles of the server workers over a measured window (``--profile``).

py-spy is not a dependency of the project: ``pip install py-spy`` in the venv to use it.
Each worker is sampled without being paused (``--nonblocking``) so that the profile costs
the server as little as possible; the raw collapsed stacks are kept and summarised.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


@dataclass
class Recording:
    files: list[Path]
    processes: list[subprocess.Popen[bytes]]

    def finish(self) -> list[Path]:
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [path for path in self.files if path.exists() and path.stat().st_size > 0]


def record(pids: list[int], seconds: int, directory: Path, name: str) -> Recording | None:
    binary = py_spy()
    if binary is None or not pids:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    files, processes = [], []
    for pid in pids:
        path = directory / f"{name}-{pid}.txt"
        files.append(path)
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return Recording(files, processes)


def _frames(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _where(frame: str) -> tuple[str, str]:
    """``function (package/module.py:12)`` -> (function, package/module.py)."""
    function, _, where = frame.rpartition(" (")
    return function, where.rstrip(")").split(":")[0]


def _package(frame: str) -> str:
    path = _where(frame)[1]
    return path.split("/")[0].removesuffix(".py") or path


# Leaf frames of threads that wait: the threadpool's idle workers, the event loop's poll
# (uvloop runs in C under Runner.run), the supervisor's pipe. Shown apart, not as work.
_WAITING = {
    ("Condition.wait", "threading.py"),
    ("Runner.run", "asyncio/runners.py"),
    ("WorkerThread.run", "anyio/_backends/_asyncio.py"),
    ("Connection._recv", "multiprocessing/connection.py"),
    ("Queue.get", "queue.py"),
}

# (stage, function, module): the share of busy samples with that frame on the stack.
STAGES = (
    ("whole request (graphql_post)", "create_app.<locals>.graphql_post", "patron/api/app.py"),
    ("token check (authenticate)", "authenticate", "patron/accounts/service.py"),
    ("GraphQL parse", "parse", "graphql/language/parser.py"),
    ("GraphQL validate", "validate", "graphql/validation/validate.py"),
    ("query depth limiter", "determine_depth", "strawberry/extensions/query_depth_limiter.py"),
    ("GraphQL execute (resolvers)", "execute", "graphql/execution/execute.py"),
    ("SQL: driver execute", "DefaultDialect.do_execute", "sqlalchemy/engine/default.py"),
    ("SQL: commit", "DefaultDialect.do_commit", "sqlalchemy/engine/default.py"),
    (
        "SQL: statement compile/cache",
        "ClauseElement._compile_w_cache",
        "sqlalchemy/sql/elements.py",
    ),
    ("connection checkout", "Engine.connect", "sqlalchemy/engine/base.py"),
    ("response JSON", "json_response", "patron/api/http.py"),
)


def summarise(files: list[Path], top: int = 10) -> dict[str, Any]:
    """Busy samples by stage (inclusive), by leaf package and by leaf function (self)."""
    own: Counter[str] = Counter()
    package: Counter[str] = Counter()
    stage: Counter[str] = Counter()
    busy = waiting = 0
    for path in files:
        for stack, count in _frames(path):
            if _where(stack[-1]) in _WAITING:
                waiting += count
                continue
            busy += count
            function, module = _where(stack[-1])
            own[f"{function} ({module})"] += count
            package[_package(stack[-1])] += count
            present = {_where(frame) for frame in stack}
            for name, wanted, where in STAGES:
                if (wanted, where) in present:
                    stage[name] += count
    if not busy:
        return {"busy_samples": 0, "waiting_samples": waiting}

    def shares(counter: Counter[str], limit: int | None = None) -> list[tuple[str, float]]:
        return [
            (name, round(100.0 * count / busy, 1)) for name, count in counter.most_common(limit)
        ]

    return {
        "busy_samples": busy,
        "waiting_samples": waiting,
        "stages": [(name, round(100.0 * stage[name] / busy, 1)) for name, _, _ in STAGES],
        "packages": shares(package, top),
        "functions": shares(own, top),
    }
