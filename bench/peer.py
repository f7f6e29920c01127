"""``--peer vendure``: the peer's own harness, run after Patron's stores, and the comparison.

The harness (``run.sh`` in ``../shared/peers/vendure`` from the project root) installs Vendure
from npm, starts its own PostgreSQL cluster and Vendure, seeds customers, runs wrk on three
Admin API operations and writes ``WORKDIR/results/summary.json``. Here it gets the same wrk
settings and contact count as Patron's run, its npm install is kept between runs in
``<results-dir>/.vendure-cache``, and its figures are set beside Patron's per store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.options import Options
from bench.run import StoreResult

Say = Callable[[str], None]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Patron's operation -> the key of the same operation in Vendure's summary.json (run.sh).
VENDURE_OPERATIONS = {
    "list": "list_take50",  # customers(options:{take:50}) { items {...} totalItems }
    "get": "get_by_id",  # customer(id: random 1..max)
    "email": "get_by_id",  # Vendure's point read, beside Patron's contacts(email:)
    "create": "create_customer",  # createCustomer, unique e-mail per request
}
VENDURE_LABELS = {
    "list": "customers(take: 50) + totalItems",
    "get": "customer(id)",
    "email": "customer(id)",
    "create": "createCustomer",
}
# run.sh stops Vendure and its cluster when it gets SIGTERM; give it time to.
STOP_SECONDS = 120


class PeerUnavailable(Exception):
    """The peer cannot run here: its harness or node/npm are missing."""


def default_peer_dir(name: str) -> Path:
    return PROJECT_ROOT.parent / "shared" / "peers" / name


def preflight(name: str, peer_dir: Path) -> Path:
    """The harness to run, or PeerUnavailable with a one-line reason."""
    script = peer_dir / "run.sh"
    if not script.is_file():
        raise PeerUnavailable(
            f"--peer {name}: no harness at {script} (give its directory with --peer-dir)"
        )
    missing = [tool for tool in ("node", "npm", "bash") if shutil.which(tool) is None]
    if missing:
        raise PeerUnavailable(
            f"--peer {name}: {', '.join(missing)} not found on PATH (Node.js 20+ with npm)"
        )
    return script


@dataclass(frozen=True)
class PeerOperation:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad_responses: int
    socket_errors: int
    server_cpu_pct: float | None
    database_cpu_pct: float | None


@dataclass(frozen=True)
class PeerRun:
    name: str
    version: str
    wrk: dict[str, Any]
    customers: int
    operations: dict[str, PeerOperation]
    seed: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def parse_summary(data: dict[str, Any]) -> PeerRun:
    """Vendure's summary.json (as run.sh writes it) keyed by Patron's operation names."""
    operations = {}
    for operation, key in VENDURE_OPERATIONS.items():
        item = data.get(key)
        if item is None:
            continue
        operations[operation] = PeerOperation(
            rps=float(item["rps"]),
            p50_ms=float(item["p50_ms"]),
            p99_ms=float(item["p99_ms"]),
            requests=int(item["requests"]),
            bad_responses=int(item["bad_responses"]),
            socket_errors=int(item["socket_errors"]),
            server_cpu_pct=item.get("vendure_cpu_pct"),
            database_cpu_pct=item.get("postgres_cpu_pct"),
        )
    if not operations:
        raise ValueError(f"no operation of {sorted(VENDURE_OPERATIONS.values())} in the summary")
    return PeerRun(
        name=str(data.get("peer", "vendure")),
        version=str(data.get("vendure_version", "?")),
        wrk=dict(data.get("wrk", {})),
        customers=int(data.get("customers_before_bench", 0)),
        operations=operations,
        seed=dict(data.get("seed", {})),
        versions={
            key: str(data[key]) for key in ("node_version", "postgres_version") if key in data
        },
    )


@dataclass(frozen=True)
class Comparison:
    store: str
    operation: str
    patron_rps: float
    patron_p50_ms: float
    patron_p99_ms: float
    patron_bad: int
    peer_rps: float
    peer_p50_ms: float
    peer_p99_ms: float
    peer_bad: int

    @property
    def ratio(self) -> float | None:
        """Patron's rate ÷ the peer's: above 1, Patron serves more requests per second."""
        if self.peer_rps <= 0:
            return None
        return self.patron_rps / self.peer_rps

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def compare(results: Sequence[StoreResult], peer: PeerRun) -> list[Comparison]:
    """One row per Patron store and operation the peer measured too."""
    rows = []
    for result in results:
        for operation, theirs in peer.operations.items():
            ours = result.operation(operation)
            if ours is None:
                continue
            run = ours.measured
            rows.append(
                Comparison(
                    store=result.store,
                    operation=operation,
                    patron_rps=run.rps,
                    patron_p50_ms=run.p50_ms,
                    patron_p99_ms=run.p99_ms,
                    patron_bad=run.bad_responses + run.socket_errors,
                    peer_rps=theirs.rps,
                    peer_p50_ms=theirs.p50_ms,
                    peer_p99_ms=theirs.p99_ms,
                    peer_bad=theirs.bad_responses + theirs.socket_errors,
                )
            )
    return rows


def setting_differences(peer: PeerRun, expected: dict[str, int], contacts: int) -> list[str]:
    """Where the peer's run was not set up like Patron's (so the ratio is not like for like)."""
    notes = [
        f"wrk {key} {peer.wrk.get(key)} (Patron {value})"
        for key, value in expected.items()
        if peer.wrk.get(key) != value
    ]
    if peer.customers < contacts:
        notes.append(f"{peer.customers:,} customers (Patron {contacts:,} contacts)")
    return notes


def comparison_table(peer: PeerRun, rows: Sequence[Comparison], caption: str) -> Table:
    table = Table(
        title=f"Patron and {peer.name.capitalize()} {peer.version} (same machine, same wrk "
        "settings, run one after the other)",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    name = peer.name.capitalize()
    for column in (
        "store",
        "operation",
        "Patron req/s",
        "p50 ms",
        "p99 ms",
        f"{name} req/s",
        "p50 ms",
        "p99 ms",
        f"Patron ÷ {name}",
        "bad P/V",
    ):
        table.add_column(column, justify="left" if column in {"store", "operation"} else "right")
    for row in rows:
        ratio = row.ratio
        table.add_row(
            row.store,
            f"{row.operation} ↔ {VENDURE_LABELS.get(row.operation, row.operation)}",
            f"{row.patron_rps:,.1f}",
            f"{row.patron_p50_ms:.2f}",
            f"{row.patron_p99_ms:.2f}",
            f"{row.peer_rps:,.1f}",
            f"{row.peer_p50_ms:.2f}",
            f"{row.peer_p99_ms:.2f}",
            "-" if ratio is None else f"{ratio:,.1f}×",
            f"{row.patron_bad}/{row.peer_bad}",
        )
    return table


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def harness_env(
    *, contacts: int, seconds: int, warmup: int, connections: int, threads: int
) -> dict[str, str]:
    """run.sh's settings: Patron's, a fresh database, free ports (nothing else is disturbed)."""
    env = {
        "SEED_COUNT": str(contacts),
        "BENCH_SECONDS": str(seconds),
        "WARMUP_SECONDS": str(warmup),
        "BENCH_CONNECTIONS": str(connections),
        "BENCH_THREADS": str(threads),
        "FRESH_DB": "1",
        "KEEP_RUNNING": "0",
        "VENDURE_PORT": str(_free_port()),
        "PG_PORT": str(_free_port()),
    }
    if "PG_BIN" not in os.environ and not (shutil.which("pg_config") or shutil.which("initdb")):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        if found:
            env["PG_BIN"] = str(found[0])
    return env


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # run.sh's trap stops Vendure and its cluster by PID
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_harness(
    script: Path, workdir: Path, env: dict[str, str], out: Path, say: Say
) -> dict[str, Any]:
    """Run the harness in workdir (its npm install kept there), keep its files in out."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "results", ignore_errors=True)  # never read an old summary
    out.mkdir(parents=True, exist_ok=True)
    log = out / "run.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            ["bash", str(script), str(workdir)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                if line.startswith("["):  # run.sh's progress, after its own timestamp
                    say("  " + line.rstrip().split("] ", 1)[-1])
            code = process.wait()
        finally:
            _stop(process)
    for name in ("results", "pg/postgres.log"):
        source = workdir / name
        if source.is_dir():
            shutil.copytree(source, out, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, out)
    # The throwaway cluster's data is not needed again (each run starts a fresh one); the
    # npm install beside it is what is kept.
    shutil.rmtree(workdir / "pg", ignore_errors=True)
    summary = out / "summary.json"
    if code != 0 or not summary.is_file():
        raise RuntimeError(f"{script} exited with {code}; see {log}")
    data: dict[str, Any] = json.loads(summary.read_text())
    return data


def expected_wrk(options: Options) -> dict[str, int]:
    """The wrk block of summary.json when the peer ran with Patron's settings."""
    return {
        "threads": options.threads,
        "connections": options.connections,
        "seconds": options.seconds,
        "warmup_seconds": options.warmup,
    }


def run_peer(options: Options, script: Path, out: Path, say: Say) -> PeerRun:
    """The peer's harness with Patron's settings; its files go to out/<peer>/."""
    assert options.peer is not None
    env = harness_env(
        contacts=options.contacts,
        seconds=options.seconds,
        warmup=options.warmup,
        connections=options.connections,
        threads=options.threads,
    )
    workdir = options.results_dir / f".{options.peer}-cache"
    say(
        f"  {script} in {workdir} (npm install kept there): {options.contacts:,} customers, "
        f"ports {env['VENDURE_PORT']} and {env['PG_PORT']}"
    )
    return parse_summary(run_harness(script, workdir, env, out / options.peer, say))
