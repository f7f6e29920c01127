"""Import and export: ``patron import contacts`` and ``patron export`` as a user runs them.

A CSV of ``--moving-rows`` contacts (email, name, phone, Shopify id, birthday, both balances)
is imported into a fresh account by the real command (rows/s, and the peak memory of its
process), imported again (a re-run: nothing may change), then exported (contacts and entries,
rows/s). The account's balances must add up to the file's and ``patron ledger verify`` must
pass. ``make bench`` runs it as the ``moving`` operation; alone:

    .venv/bin/python -m bench.moving --rows 100000 --stores sqlite,postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.server import PATRON, clean_environment, patron_json

GOAL_IMPORT = 20_000
GOAL_EXPORT = 50_000
MEMORY_LIMIT_MB = 300


@dataclass
class MovingResult:
    rows: int
    import_rate: float = 0.0
    import_seconds: float = 0.0
    import_peak_mb: float = 0.0
    rerun_rate: float = 0.0
    export_rates: dict[str, float] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)


def write_file(path: Path, rows: int) -> tuple[Decimal, int]:
    money, points = Decimal(0), 0
    with path.open("w") as handle:
        handle.write("email,name,phone,shopify_id,birthday,global_balance,local_balance\n")
        for i in range(rows):
            cents = i % 10_000
            money += Decimal(cents) / 100
            points += i % 500
            handle.write(
                f"bench{i}@example.com,Contact {i},+1415{i % 10_000_000:07d},{10_000_000 + i},"
                f"1985-0{1 + i % 9}-1{i % 9},{cents / 100:.2f},{i % 500}\n"
            )
    return money, points


def _timed(args: list[str]) -> tuple[float, float, str]:
    """Run ``patron ARGS``: seconds, its peak RSS in MB, its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(PATRON), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_environment({}),
        text=True,
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"patron {' '.join(args[:2])} exited {process.returncode}")
    return seconds, usage.ru_maxrss / 1024, out


def run_moving(url: str, rows: int, workdir: Path, say: Callable[[str], None]) -> MovingResult:
    result = MovingResult(rows=rows)
    account = patron_json("account", "create", "--name", "Moving bench", "--database", url)
    file = workdir / "moving.csv"
    money, points = write_file(file, rows)
    base = ["--account", account["uuid"], "--database", url]
    seconds, peak, out = _timed(["import", "contacts", str(file), *base])
    report = json.loads(out)
    # The command's own figure: from its first row to its last commit (not its start-up).
    result.import_seconds, result.import_peak_mb = report["seconds"], peak
    result.import_rate = report["rows_per_second"]
    say(
        f"  import {rows:,} rows: {result.import_rate:,.0f} rows/s "
        f"({seconds:,.1f} s with start-up), peak {peak:,.0f} MB"
    )
    _, _, out = _timed(["import", "contacts", str(file), *base])
    again = json.loads(out)
    result.rerun_rate = again["rows_per_second"]
    say(f"  the same import again: {result.rerun_rate:,.0f} rows/s")
    for what in ("contacts", "entries"):
        target = workdir / f"export-{what}.csv"
        _, _, out = _timed(["export", what, *base, "--out", str(target)])
        exported = json.loads(out)
        result.export_rates[what] = exported["rows_per_second"]
        say(f"  export {what}: {exported['rows']:,} rows, {exported['rows_per_second']:,} rows/s")
    verified = patron_json("ledger", "verify", "--database", url, allow_failure=True)
    result.check = {
        "ok": report["created"] == rows
        and report["credit_imported"]["GLOBAL"] == f"{money:.2f}"
        and report["credit_imported"]["LOCAL"] == str(points)
        and again["created"] == 0
        and again["credit_imported"]["GLOBAL"] == "0.00"
        and bool(verified.get("ok")),
        "created": report["created"],
        "credit_imported": report["credit_imported"],
        "rerun_created": again["created"],
        "ledger_verify": verified.get("ok"),
    }
    return result


def main() -> None:
    from bench.stores import open_store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    found: dict[str, Any] = {}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as folder, open_store(kind, Path(folder)) as store:
            print(f"== {kind}")
            subprocess.run(
                [str(PATRON), "migrate", "--database", store.url],
                check=True,
                capture_output=True,
                env=clean_environment({}),
            )
            result = run_moving(store.url, args.rows, Path(folder), print)
            found[kind] = asdict(result)
            print(
                f"  goal: import >= {GOAL_IMPORT:,} rows/s, export >= {GOAL_EXPORT:,} rows/s, "
                f"peak <= {MEMORY_LIMIT_MB} MB; check {'ok' if result.check['ok'] else 'FAILED'}"
            )
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
