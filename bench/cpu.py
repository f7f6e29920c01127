"""CPU use over a measured window, from /proc: ours (server, database, load generator) and
everyone else's, so that a number taken on a busy machine says how busy it was.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_CPUS = os.cpu_count() or 1


def process_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found = [pid]
    index = 0
    while index < len(found):
        parent = found[index]
        index += 1
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            found.extend(int(child) for child in children if int(child) not in found)
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuUse:
    """Percent of one core over the window (200 means both cores of a 2-core machine)."""

    seconds: float
    server_pct: float | None
    database_pct: float | None
    load_generator_pct: float
    machine_pct: float
    others_pct: float
    load_average: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "server_pct": _round(self.server_pct),
            "database_pct": _round(self.database_pct),
            "load_generator_pct": _round(self.load_generator_pct),
            "machine_pct": _round(self.machine_pct),
            "others_pct": _round(self.others_pct),
            "load_average_1m": round(self.load_average, 2),
            "cpus": _CPUS,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class _Tracker:
    """Last CPU ticks seen per process, sampled through the window, so that processes born
    and gone within it (a bound's connections) still count; those alive at the start count
    from their ticks then."""

    def __init__(self, pids: Callable[[], Iterable[int]] | None) -> None:
        self._pids = pids
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.sample(first=True)

    def sample(self, *, first: bool = False) -> None:
        if self._pids is None:
            return
        for pid in self._pids():
            ticks = process_ticks(pid)
            if ticks is None:
                continue
            if first:
                self.first[pid] = ticks
            self.last[pid] = ticks

    def ticks(self) -> int | None:
        if self._pids is None:
            return None
        return sum(value - self.first.get(pid, 0) for pid, value in self.last.items())


class CpuWindow:
    """CPU of the server's and the database's processes over a window, the machine's, and
    this process's with its finished children (wrk, or the bound's own loop).

    ``server`` and ``database`` give the pids to charge to each; ``database`` may give none
    (SQLite runs inside the server).
    """

    _INTERVAL = 0.5

    def __init__(
        self,
        server: Callable[[], Iterable[int]] | None,
        database: Callable[[], Iterable[int]] | None,
    ) -> None:
        self._server_pids = server
        self._database_pids = database
        self._stop = threading.Event()

    def __enter__(self) -> CpuWindow:
        self._start = time.monotonic()
        self._server = _Tracker(self._server_pids)
        self._database = _Tracker(self._database_pids)
        self._machine_before = _machine_ticks()
        self._children_before = _children_seconds()
        self._self_before = time.process_time()
        self._sampler = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._sampler.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._INTERVAL):
            self._server.sample()
            self._database.sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()
        self._server.sample()
        self._database.sample()
        self.seconds = time.monotonic() - self._start
        machine_after = _machine_ticks()
        children = _children_seconds() - self._children_before
        own = time.process_time() - self._self_before
        busy = machine_after[0] - self._machine_before[0]
        total = machine_after[1] - self._machine_before[1]
        machine_pct = 100.0 * _CPUS * busy / total if total else 0.0
        server_pct = self._percent(self._server.ticks())
        database_pct = self._percent(self._database.ticks())
        load_pct = 100.0 * (children + own) / self.seconds
        ours = (server_pct or 0.0) + (database_pct or 0.0) + load_pct
        self.use = CpuUse(
            seconds=self.seconds,
            server_pct=server_pct,
            database_pct=database_pct,
            load_generator_pct=load_pct,
            machine_pct=machine_pct,
            others_pct=max(0.0, machine_pct - ours),
            load_average=os.getloadavg()[0],
        )

    def _percent(self, ticks: int | None) -> float | None:
        if ticks is None:
            return None
        return 100.0 * ticks / _TICKS_PER_SECOND / self.seconds
