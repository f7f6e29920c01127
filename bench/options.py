"""What a run measures and how long: ``python -m bench --help``."""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

STORES = ("sqlite", "postgresql")
CORE_OPERATIONS = ("list", "get", "email", "create", "spend", "hot")
# The LoyaltyDish dialect's operations, when the package is there.
LOYALTYDISH = importlib.util.find_spec("patron.api.compat.loyaltydish") is not None
MORE_OPERATIONS = (
    "redeem",
    "order",
    "commerce",
    "lightfunnels",
    *(("loyaltydish", "obtaintoken") if LOYALTYDISH else ()),
    "outbox",
    "outboxcost",
    "sweep",
    "console",
    "moving",
)
OPERATIONS = CORE_OPERATIONS + MORE_OPERATIONS
# The sweep's lots when --lots is not given: the million on PostgreSQL; SQLite, one
# writer at a time, a tenth of it (the rate is what to compare).
DEFAULT_LOTS = {"postgresql": 1_000_000, "sqlite": 100_000}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Other servers whose own harness `--peer` runs after Patron's stores (bench/peer.py).
PEERS = ("vendure",)
# What serves Patron's ASGI app: ``patron serve`` (uvicorn, uvloop, httptools, one socket a
# worker), or Granian with the same app factory, workers and event loop.
SERVERS = ("uvicorn", "granian")


@dataclass(frozen=True)
class Options:
    stores: tuple[str, ...] = STORES
    operations: tuple[str, ...] = OPERATIONS
    workers: int = 2
    seconds: int = 15
    warmup: int = 3
    connections: int = 16
    threads: int = 1
    contacts: int = 10_000
    bound: bool = True
    bound_wallets: int = 2_000
    bound_connections_postgresql: int = 16
    bound_connections_sqlite: int = 1
    bound_reads: int = 200
    bound_batch: int = 16
    paced: int = 80
    drain_spends: int = 300
    drain_seconds: int = 3
    lots: int | None = None
    outbox_events: int = 20_000
    moving_rows: int = 100_000
    outbox_cost_writes: int = 2_000
    codes: int = 0
    contact_persons: int = 2_000
    consumers: int = 16
    console_entries: int = 300_000
    profile: bool = False
    server_env: dict[str, str] = field(default_factory=dict)
    server: str = "uvicorn"
    serving_models: bool = False
    results_dir: Path = RESULTS_DIR
    note: str = ""
    peer: str | None = None
    peer_dir: Path | None = None


def _choices(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = {item.strip() for item in text.split(",") if item.strip()}
    if not chosen or chosen - set(allowed):
        raise argparse.ArgumentTypeError(
            f"{what} must be a comma-separated subset of {','.join(allowed)}; got {text!r}"
        )
    # Always in the canonical order: the reads run on the seeded contacts, before creates.
    return tuple(item for item in allowed if item in chosen)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("PATRON_"):
        raise argparse.ArgumentTypeError(f"expected PATRON_NAME=VALUE, got {text!r}")
    return key, value


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark Patron over real HTTP with wrk on SQLite and PostgreSQL, and the bare "
            "database bound of a SPEND in the same run. PostgreSQL comes from "
            "PATRON_BENCH_DATABASE_URL (a server: a fresh database is created on it and "
            "dropped), else 127.0.0.1:5432 (user postgres), else a throwaway cluster."
        ),
    )
    parser.add_argument(
        "--stores",
        type=lambda text: _choices(text, STORES, "--stores"),
        default=STORES,
        help="comma-separated: sqlite,postgresql (default: both)",
    )
    parser.add_argument(
        "--ops",
        dest="operations",
        type=lambda text: _choices(text, OPERATIONS, "--ops"),
        default=OPERATIONS,
        help=f"comma-separated subset of {','.join(OPERATIONS)} (default: all, in this order; "
        "outbox, outboxcost, sweep and console run after the server has stopped)",
    )
    parser.add_argument("--workers", type=_positive, default=2, help="patron serve --workers")
    parser.add_argument("--seconds", type=_positive, default=15, help="measured seconds per op")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds before each op")
    parser.add_argument("--connections", type=_positive, default=16, help="wrk connections")
    parser.add_argument("--threads", type=_positive, default=1, help="wrk threads")
    parser.add_argument("--contacts", type=_positive, default=10_000, help="contacts to seed")
    parser.add_argument(
        "--no-bound", dest="bound", action="store_false", help="skip the bare database bound"
    )
    parser.add_argument(
        "--bound-wallets", type=_positive, default=2_000, help="wallets of the bound's account"
    )
    parser.add_argument(
        "--bound-connections-postgresql",
        type=_positive,
        default=16,
        help="threads, each with its own connection, of the PostgreSQL bound",
    )
    parser.add_argument(
        "--bound-connections-sqlite",
        type=_positive,
        default=1,
        help="connections of the SQLite bound (one writer at a time, so 1 is its best)",
    )
    parser.add_argument(
        "--bound-reads",
        type=_positive,
        default=200,
        help="requests (contacts) whose SQL the read bound replays",
    )
    parser.add_argument(
        "--bound-batch",
        type=_positive,
        default=16,
        help="spends per transaction of the batched bound (group commit's floor); 1: none",
    )
    parser.add_argument(
        "--paced",
        type=int,
        default=80,
        help="after each operation, run it again paced at this percent of its rate and "
        "report that p99 (the latency goals'); 0: skip",
    )
    parser.add_argument(
        "--drain-spends",
        type=_positive,
        default=300,
        help="the drained wallet holds this many 0.01 spends (the exact overdraw check)",
    )
    parser.add_argument("--drain-seconds", type=_positive, default=3)
    parser.add_argument(
        "--lots",
        type=_positive,
        default=None,
        help="credit lots the expiry sweep expires (default: 1,000,000 on PostgreSQL, "
        "100,000 on SQLite); fewer give the rate, and the time for 1,000,000 extrapolated",
    )
    parser.add_argument(
        "--moving-rows",
        type=_positive,
        default=100_000,
        help="contacts (with both balances) that moving imports from a CSV, then exports",
    )
    parser.add_argument(
        "--outbox-events",
        type=_positive,
        default=20_000,
        help="contact.created events one worker delivers in outbox (the worker's settings "
        "come from PATRON_* in the environment, e.g. PATRON_OUTBOX_BATCH_SIZE)",
    )
    parser.add_argument(
        "--outbox-cost-writes",
        type=_positive,
        default=2_000,
        help="writes per command and variant (with and without the outbox) in outboxcost",
    )
    parser.add_argument(
        "--codes",
        type=int,
        default=0,
        help="redemption codes made for redeem (default: enough for 3,500/s on SQLite and "
        "3,000/s on PostgreSQL over the warm-up, measured and paced seconds); running out is "
        "reported",
    )
    parser.add_argument(
        "--contact-persons",
        type=int,
        default=2_000,
        help="contact persons made for commerce, one per seeded contact (at most --contacts)",
    )
    parser.add_argument(
        "--consumers",
        type=_positive,
        default=16,
        help="consumers with a password that obtaintoken signs in as, at random",
    )
    parser.add_argument(
        "--console-entries",
        type=int,
        default=300_000,
        help="entries written today (bulk ADDs over the seeded wallets) before the console's "
        "pages are timed: the overview reads a busy day's flows",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record each measured op's server workers with py-spy (if installed)",
    )
    parser.add_argument(
        "--server-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="PATRON_NAME=VALUE",
        help="setting for the server processes, e.g. PATRON_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="uvicorn",
        help="what serves Patron: patron serve (uvicorn) or Granian with the same app factory",
    )
    parser.add_argument(
        "--serving-models",
        action="store_true",
        help="on PostgreSQL, with get: serve the known read's own SQL with no Patron code in "
        "four ways (sync driver on the event loop, the same in threads, psycopg's async driver, "
        "and the first under Granian) to compare serving models",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--peer",
        choices=PEERS,
        default=None,
        help="after Patron's stores, run the peer's own harness with the same wrk settings and "
        "contact count and compare list, get and create (Vendure: needs node and npm; its npm "
        "install is kept in <results-dir>/.vendure-cache)",
    )
    parser.add_argument(
        "--peer-dir",
        type=Path,
        default=None,
        help="the peer's harness directory (default: ../shared/peers/<peer> from the project root)",
    )
    parser.add_argument(
        "--note", default="", help="kept with the results, e.g. what else ran on the machine"
    )
    args = parser.parse_args(argv)
    if args.peer_dir is not None and args.peer is None:
        parser.error("--peer-dir needs --peer")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return Options(
        stores=args.stores,
        operations=args.operations,
        workers=args.workers,
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        contacts=args.contacts,
        bound=args.bound,
        bound_wallets=args.bound_wallets,
        bound_connections_postgresql=args.bound_connections_postgresql,
        bound_connections_sqlite=args.bound_connections_sqlite,
        bound_reads=args.bound_reads,
        bound_batch=args.bound_batch,
        paced=max(0, min(args.paced, 100)),
        drain_spends=args.drain_spends,
        drain_seconds=args.drain_seconds,
        lots=args.lots,
        outbox_events=args.outbox_events,
        moving_rows=args.moving_rows,
        outbox_cost_writes=args.outbox_cost_writes,
        codes=max(args.codes, 0),
        contact_persons=max(args.contact_persons, 1),
        consumers=args.consumers,
        console_entries=max(args.console_entries, 0),
        profile=args.profile,
        server_env=dict(args.server_env),
        server=args.server,
        serving_models=args.serving_models,
        results_dir=args.results_dir,
        note=args.note,
        peer=args.peer,
        peer_dir=args.peer_dir,
    )
