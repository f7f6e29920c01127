"""Load from wrk with ``scripts/patron.lua``: one run is one wrk process."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "scripts" / "patron.lua"


@dataclass
class WrkSettings:
    connections: int
    threads: int
    timeout_seconds: int = 10
    # Aim at this many requests per second in all (0: as many as the server answers).
    rate: float = 0.0


@dataclass
class WrkResult:
    requests: int
    responses: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    bad_responses: int
    successes: int
    refused: int
    socket_errors: int
    non_2xx: int
    taken: int = 0  # redeem: the last line of the codes file used
    exhausted: int = 0  # redeem: requests made after the codes ran out
    first_bad: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    return found


def run_wrk(
    url: str,
    mode: str,
    token: str,
    seconds: int,
    settings: WrkSettings,
    *,
    uuid_file: Path | None = None,
    prefix: str = "",
    id_base: int = 0,
    log: Path | None = None,
) -> WrkResult:
    """Run wrk for ``seconds`` and parse the RESULT line the script prints."""
    command = [
        wrk_binary(),
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--timeout",
        f"{settings.timeout_seconds}s",
        "--latency",
        "-s",
        str(SCRIPT),
        url,
        "--",
        mode,
        token,
        str(uuid_file) if uuid_file else "-",
        prefix,
        str(id_base),
        str(settings.threads),
        # Paced: each wrk thread starts a request every this many ms (its share of the rate).
        f"{1000 * settings.threads / settings.rate:.3f}" if settings.rate > 0 else "0",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    if log is not None:
        with log.open("a") as output:
            output.write(f"$ wrk ... {mode} ({seconds} s)\n{done.stdout}{done.stderr}\n")
    result: dict[str, Any] | None = None
    first_bad: str | None = None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        elif line.startswith("FIRST_BAD "):
            first_bad = line.removeprefix("FIRST_BAD ")
    if done.returncode != 0 or result is None:
        raise RuntimeError(
            f"wrk {mode} failed ({done.returncode}): {done.stderr.strip()[-1000:]}"
            f"{done.stdout.strip()[-1000:]}"
        )
    return WrkResult(**result, first_bad=first_bad)
