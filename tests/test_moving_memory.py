"""An import or export holds a batch at a time: its memory does not grow with the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from patron.core import migrate

GROWTH_LIMIT_MB = 25


def _peak_mb(args: list[str], cwd: Path) -> tuple[float, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "patron", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024, json.loads(out)


def _file(path: Path, rows: int) -> Path:
    with path.open("w") as handle:
        handle.write("email,name,phone,global_balance,local_balance,note\n")
        for i in range(rows):
            handle.write(
                f"m{i}@example.com,Person {i},+1415{i:07d},{i % 100}.50,{i % 9},{'n' * 80}\n"
            )
    return path


def test_memory_does_not_grow_with_the_rows_imported_or_exported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    migrate.upgrade(url)
    peaks = {}
    for rows in (1_500, 15_000):
        _, account = _peak_mb(
            ["account", "create", "--name", f"m{rows}", "--database", url], tmp_path
        )
        file = _file(tmp_path / f"{rows}.csv", rows)
        base = ["--account", str(account["uuid"]), "--database", url]
        imported, report = _peak_mb(
            ["import", "contacts", str(file), *base, "--batch-size", "500"], tmp_path
        )
        assert report["created"] == rows
        exported, done = _peak_mb(
            ["export", "contacts", *base, "--out", str(tmp_path / f"{rows}.out")], tmp_path
        )
        assert done["rows"] == rows
        peaks[rows] = (imported, exported)

    assert peaks[15_000][0] - peaks[1_500][0] < GROWTH_LIMIT_MB, peaks
    assert peaks[15_000][1] - peaks[1_500][1] < GROWTH_LIMIT_MB, peaks
