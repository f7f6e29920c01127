"""``make test`` says at its start which PostgreSQL its PostgreSQL half runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_run_names_the_postgresql_it_uses_without_its_password() -> None:
    env = {**os.environ, "PATRON_TEST_DATABASE_URL": "postgresql://tester:pw@127.0.0.1:1/x"}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "tests/test_architecture.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.stdout.splitlines()[0] == (
        "patron: PostgreSQL tests run on none: PATRON_TEST_DATABASE_URL does not answer "
        "(postgresql://tester:***@127.0.0.1:1/x)"
    )
