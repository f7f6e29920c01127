"""``make bench``: Patron over real HTTP on SQLite and PostgreSQL, with the bare bound."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

import patron
from bench.load import wrk_binary
from bench.options import Options, parse
from bench.report import print_report, write_json
from bench.run import IN_PROCESS, StoreResult, run_store


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


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
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
    )

    def say(line: str) -> None:
        console.print(f"[{time.strftime('%H:%M:%S')}] {line}", markup=False)

    results: list[StoreResult] = []
    failures: list[str] = []
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="patron-bench-") as scratch:
        for kind in options.stores:
            workdir = Path(scratch) / kind
            workdir.mkdir()
            try:
                results.append(run_store(kind, options, workdir, out, say))
            except KeyboardInterrupt:
                interrupted = True
                console.print("interrupted: everything started was stopped", style="bold red")
                break
            except Exception as error:  # one store failing must not hide the other's numbers
                failures.append(f"{kind}: {type(error).__name__}: {error}")
                console.print(f"{kind} failed: {error}", style="bold red", markup=False)
    if results:
        print_report(console, results)
    path = out / "results.json"
    header = _header(options, started)
    header["failures"] = failures
    header["interrupted"] = interrupted
    write_json(path, header, results)
    console.print(f"\nresults: {path}", markup=False)
    if interrupted:
        return 130
    problems = failures + [problem for result in results for problem in result.problems]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
