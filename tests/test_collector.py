"""A bulk job's garbage-collector pace (``core.collector``), in processes of their own: the
collector's settings are the whole process's."""

from __future__ import annotations

import json
import subprocess
import sys
from types import CodeType
from typing import Any

from patron.core import collector

_REPORT = (
    "import gc, json, sys\n"
    "{setup}\n"
    "before = gc.get_stats()[0]['collections']\n"
    "rows = [({{'n': i}}, [i]) for i in range(30_000)]\n"  # tracked containers, kept alive
    "print(json.dumps({{'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count(),\n"
    "    'collections': gc.get_stats()[0]['collections'] - before}}))\n"
)


def _run(setup: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _REPORT.format(setup=setup)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def test_a_bulk_job_collects_only_after_its_live_objects_grew_by_the_threshold() -> None:
    default = _run("")
    settled = _run("from patron.core.collector import settle_for_bulk_job; settle_for_bulk_job()")

    assert settled["threshold"][0] == collector.BULK_THRESHOLD
    assert settled["threshold"][1:] == default["threshold"][1:]
    assert settled["frozen"] > 1_000
    # 60,000 containers kept alive: the default pace collects dozens of times on the way,
    # the bulk pace once (every 50,000).
    assert default["collections"] > 50
    assert settled["collections"] <= 1


def _names(code: CodeType) -> set[str]:
    """The names a function's code uses, its nested functions' included."""
    found = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            found |= _names(constant)
    return found


def test_the_bulk_commands_and_the_import_reader_take_the_bulk_pace() -> None:
    from patron.cli import moving as cli_moving
    from patron.moving import ahead

    assert "settle_for_bulk_job" in _names(ahead.reader_main.__code__)
    for command in (cli_moving.import_contacts, cli_moving._export, cli_moving._vendor_command):
        assert "settle_for_bulk_job" in _names(command.__code__), command.__name__
