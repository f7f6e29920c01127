"""``make bench``: Patron over real HTTP on SQLite and PostgreSQL, with the bare bound."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

import patron
from bench import peer
from bench.load import wrk_binary
from bench.options import Options, parse
from bench.report import print_report, write_json
from bench.run import IN_PROCESS, Say, StoreResult, run_store


def _git_commit() -> str | None:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    )
    return done.stdout.strip() or None


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _header(options: Options, started: datetime) -> dict[str, Any]:
    return {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "commit": _git_commit(),
        "patron_source": str(Path(patron.__file__).resolve().parent),
        "note": options.note,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(),
        },
        "options": {key: str(value) for key, value in asdict(options).items()},
    }


def _peer_section(
    console: Console,
    options: Options,
    results: list[StoreResult],
    peer_run: peer.PeerRun,
    loads: dict[str, tuple[float, float, float]],
    failures: list[str],
) -> dict[str, Any]:
    """Print the comparison with the peer and return what results.json keeps of it."""
    rows = peer.compare(results, peer_run)
    differences = peer.setting_differences(peer_run, peer.expected_wrk(options), options.contacts)
    for operation, item in peer_run.operations.items():
        if item.bad_responses or item.socket_errors:
            failures.append(
                f"{peer_run.name} {operation}: {item.bad_responses} bad responses, "
                f"{item.socket_errors} socket errors"
            )
    name = peer_run.name.capitalize()
    caption = (
        f"Patron ÷ {name}: Patron's req/s over {name}'s. {name}'s list also counts totalItems "
        "(COUNT DISTINCT); Patron's page has no total. Load average (1 min) before each part: "
        + ", ".join(f"{part} {load[0]:.2f}" for part, load in loads.items())
        + (". NOT like for like: " + "; ".join(differences) if differences else "")
    )
    console.print()
    console.print(peer.comparison_table(peer_run, rows, caption))
    return {
        "name": peer_run.name,
        "version": peer_run.version,
        "versions": peer_run.versions,
        "wrk": peer_run.wrk,
        "customers": peer_run.customers,
        "seed": peer_run.seed,
        "operations": {key: asdict(value) for key, value in peer_run.operations.items()},
        "comparison": [row.as_dict() for row in rows],
        "setting_differences": differences,
        "files": options.peer + "/",  # beside this file: the harness's output and logs
    }


@dataclass
class Parts:
    """What the parts of a run (each store, then the peer) left behind."""

    results: list[StoreResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    # Before each part: how busy the machine already was.
    loads: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    peer_run: peer.PeerRun | None = None

    def note_load(self, part: str, say: Say) -> None:
        self.loads[part] = os.getloadavg()
        say(f"load average before {part}: " + " ".join(f"{x:.2f}" for x in self.loads[part]))

    def stopped(self, console: Console) -> None:
        self.interrupted = True
        console.print("interrupted: everything started was stopped", style="bold red")

    def failed(self, console: Console, part: str, error: Exception) -> None:
        self.failures.append(f"{part}: {type(error).__name__}: {error}")
        console.print(f"{part} failed: {error}", style="bold red", markup=False)


def _run_stores(options: Options, out: Path, console: Console, say: Say, parts: Parts) -> None:
    with tempfile.TemporaryDirectory(prefix="patron-bench-") as scratch:
        for kind in options.stores:
            workdir = Path(scratch) / kind
            workdir.mkdir()
            parts.note_load(kind, say)
            try:
                parts.results.append(run_store(kind, options, workdir, out, say))
            except KeyboardInterrupt:
                parts.stopped(console)
                return
            except Exception as error:  # one store failing must not hide the other's numbers
                parts.failed(console, kind, error)


def _run_peer(
    options: Options, script: Path, out: Path, console: Console, say: Say, parts: Parts
) -> None:
    """After Patron's stores, so that the two never share the CPU."""
    assert options.peer is not None
    parts.note_load(options.peer, say)
    say(f"== {options.peer} (its own harness, with the same settings)")
    try:
        parts.peer_run = peer.run_peer(options, script, out, say)
    except KeyboardInterrupt:
        parts.stopped(console)
    except Exception as error:
        parts.failed(console, options.peer, error)


def _peer_script(options: Options) -> Path | None:
    if options.peer is None:
        return None
    return peer.preflight(options.peer, options.peer_dir or peer.default_peer_dir(options.peer))


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    try:
        script = _peer_script(options)
    except peer.PeerUnavailable as error:
        print(f"python -m bench: error: {error}", file=sys.stderr)
        return 2
    console = Console(highlight=False)
    if not console.is_terminal:  # a log file: room for the table, no wrapping inside it
        console.width = 150
    if set(options.operations) - set(IN_PROCESS):
        wrk_binary()  # only the requests need it
    signal.signal(signal.SIGTERM, _terminate)
    started = datetime.now(UTC)
    out = options.results_dir / started.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    console.print(
        f"Patron benchmark: {', '.join(options.stores)}; {options.contacts:,} contacts; "
        f"wrk {options.threads} thread(s), {options.connections} connections, "
        f"{options.seconds} s after {options.warmup} s warm-up; {options.workers} server "
        f"worker(s); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        + (f"; then {options.peer} with the same settings" if options.peer else "")
    )

    def say(line: str) -> None:
        console.print(f"[{time.strftime('%H:%M:%S')}] {line}", markup=False)

    parts = Parts()
    _run_stores(options, out, console, say, parts)
    if script is not None and not parts.interrupted:
        _run_peer(options, script, out, console, say, parts)
    results, failures = parts.results, parts.failures
    if results:
        print_report(console, results)
    path = out / "results.json"
    header = _header(options, started)
    header["load_average_before"] = parts.loads
    if parts.peer_run is not None:
        header["peer"] = _peer_section(
            console, options, results, parts.peer_run, parts.loads, failures
        )
    header["failures"] = failures
    header["interrupted"] = parts.interrupted
    write_json(path, header, results)
    console.print(f"\nresults: {path}", markup=False)
    if parts.interrupted:
        return 130
    problems = failures + [problem for result in results for problem in result.problems]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
