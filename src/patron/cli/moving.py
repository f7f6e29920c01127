"""``patron import`` and ``patron export``: contacts and balances in and out of Patron."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from patron.cli.common import DatabaseOption, emit, fail, open_database, refuse
from patron.core.collector import settle_for_bulk_job
from patron.core.errors import DomainError

import_app = typer.Typer(help="Bring contacts and balances into Patron.", no_args_is_help=True)
from_app = typer.Typer(
    help="Migrate from another loyalty or commerce system through its API.", no_args_is_help=True
)
import_app.add_typer(from_app, name="from")
export_app = typer.Typer(help="Contacts, balances or ledger entries out of Patron, streamed.")

AccountOption = Annotated[
    str | None,
    typer.Option("--account", help="The account's uuid (default: the store's only account)."),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Names the import: its balances are applied once per source and contact "
        "(default: the file's name, or the vendor's).",
    ),
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv or jsonl (default: from the file's name).")
]


@contextmanager
def _progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (rows/s, ETA) on a terminal; a plain line every few seconds else."""
    started = time.monotonic()
    done = 0
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task(label, total=total, rate="-")

            def advance(rows: int) -> None:
                nonlocal done
                done += rows
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(task, advance=rows, rate=f"{done / elapsed:,.0f}")

            yield advance
        return
    last = started

    def report(rows: int) -> None:
        nonlocal done, last
        done += rows
        now = time.monotonic()
        if now - last >= 5:
            last = now
            rate = done / max(now - started, 1e-6)
            of = f"/{total}" if total else ""
            print(f"patron: {label}: {done}{of} rows, {rate:,.0f} rows/s", file=sys.stderr)

    yield report


@import_app.command("contacts")
def import_contacts(
    file: Annotated[Path, typer.Argument(help="A CSV (with a header) or JSON Lines file.")],
    account: AccountOption = None,
    format: FormatOption = None,
    source: SourceOption = None,
    match: Annotated[
        str, typer.Option("--match", help="Match existing contacts by email, shopify or external.")
    ] = "email",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count everything, write nothing.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where refused rows go (default: FILE.rejects.csv)."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=5000)] = 1000,
    database: DatabaseOption = None,
) -> None:
    """Upsert contacts from a file; balances become IMPORT entries, applied once per source."""
    from patron.moving import ahead, files
    from patron.moving.importer import CONNECTIONS, Importer, import_principal

    db = open_database(database, bulk=True, connections=CONNECTIONS)
    try:
        principal = import_principal(db, account)
        settle_for_bulk_job()
        kind = files.format_of(file, format)
        columns = files.columns_of(file, kind)
        total = max(files.count_lines(file) - (1 if kind == "csv" else 0), 0)
        rejected = files.RejectsFile(rejects or file.with_name(file.name + ".rejects.csv"), columns)
        try:
            with _progress(total, f"import {file.name}") as advance:
                importer = Importer(
                    db,
                    principal,
                    source=source if source is not None else file.name,
                    match=match.strip().lower(),
                    dry_run=dry_run,
                    rejects=rejected,
                    batch_size=batch_size,
                    progress=advance,
                )
                if total >= ahead.AHEAD_ROWS:
                    # Read, checked and built in a second process while this one writes.
                    report = importer.run_chunks(
                        ahead.chunks(
                            file,
                            kind,
                            principal,
                            source=importer.source,
                            match=importer.match,
                            batch_size=batch_size,
                        )
                    )
                else:
                    report = importer.run(files.open_rows(file, kind)[1])
        finally:
            rejected.close()
    except DomainError as error:
        fail(error)
    summary: dict[str, Any] = report.as_dict(principal)
    summary["rejects_file"] = str(rejected.path) if rejected.count else None
    emit(summary)


@export_app.command("contacts")
def export_contacts(
    account: AccountOption = None,
    format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="A file (default: stdout).")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only what changed since (ISO 8601).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Every contact with the columns `patron import contacts` reads (balances included)."""
    _export("contacts", account, format, out, since, database)


@export_app.command("balances")
def export_balances(
    account: AccountOption = None,
    format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="A file (default: stdout).")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only wallets changed since (ISO 8601).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Each contact's keys and balances (importable too)."""
    _export("balances", account, format, out, since, database)


@export_app.command("entries")
def export_entries(
    account: AccountOption = None,
    format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="A file (default: stdout).")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries written since (ISO 8601).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Every ledger entry with every field of a CreditEntry."""
    _export("entries", account, format, out, since, database)


def _export(
    what: str,
    account: str | None,
    format: str,
    out: Path | None,
    since: str | None,
    database: str | None,
) -> None:
    from patron.moving import exporter
    from patron.moving.importer import import_principal

    db = open_database(database)
    try:
        principal = import_principal(db, account)
        settle_for_bulk_job()
        kind = exporter.check_format(format)
        after = exporter.parse_since(since)
        if out is not None and out.is_dir():
            refuse("INVALID", f"--out '{out}' is a directory")
        handle = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        started = time.monotonic()
        try:
            count = exporter.export(db, principal, what, kind, handle, since=after)
        finally:
            if out is not None:
                handle.close()
    except DomainError as error:
        fail(error)
    if out is not None:
        seconds = time.monotonic() - started
        emit(
            {
                "exported": what,
                "rows": count,
                "out": str(out),
                "seconds": round(seconds, 3),
                "rows_per_second": round(count / seconds) if seconds > 0 else None,
            }
        )


def _vendor_command(vendor: str, title: str) -> None:
    def command(
        url: Annotated[str, typer.Option("--url", help="The vendor's API address.")],
        token: Annotated[
            str, typer.Option("--token", help="An API token of the vendor (never shown).")
        ],
        account: AccountOption = None,
        source: SourceOption = None,
        restart: Annotated[
            bool,
            typer.Option(
                "--restart",
                help="Read from the first page, not from where the last "
                "run of this source stopped (nothing is doubled either way).",
            ),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Check and count everything, write nothing.")
        ] = False,
        rejects: Annotated[
            Path | None,
            typer.Option(
                "--rejects", help="Where refused records go (default: SOURCE.rejects.csv)."
            ),
        ] = None,
        timeout: Annotated[
            float, typer.Option("--timeout", min=0.1, help="Seconds per request.")
        ] = 30.0,
        database: DatabaseOption = None,
    ) -> None:
        import httpx

        from patron.moving import files, vendors
        from patron.moving.importer import CONNECTIONS, check_source, import_principal

        db = open_database(database, bulk=True, connections=CONNECTIONS)
        rejected: files.RejectsFile | None = None
        try:
            principal = import_principal(db, account)
            settle_for_bulk_job()
            name = check_source(source if source is not None else vendor)
            vendors.check_url(url)
            rejected = files.RejectsFile(rejects or Path(f"{name}.rejects.csv"), ["row"])
            with (
                httpx.Client(timeout=timeout, follow_redirects=False) as http,
                _progress(None, f"import from {vendor}") as advance,
            ):
                report = vendors.migrate(
                    db,
                    principal,
                    vendor,
                    http,
                    url=url,
                    token=token,
                    source=name,
                    restart=restart,
                    rejects=rejected,
                    progress=advance,
                    dry_run=dry_run,
                )
        except DomainError as error:
            fail(error)
        finally:
            if rejected is not None:
                rejected.close()
        summary: dict[str, Any] = report.as_dict(principal)
        summary["vendor"] = vendor
        summary["rejects_file"] = str(rejected.path) if rejected.count else None
        emit(summary)

    command.__doc__ = (
        f"Migrate {title}'s customers (and balances its API gives) into Patron; resumable."
    )
    from_app.command(vendor)(command)


for _vendor, _title in (
    ("valuemapper", "ValueMapper"),
    ("lightfunnels", "Lightfunnels"),
    ("open2b", "open2b"),
    ("loyaltydish", "LoyaltyDish"),
):
    _vendor_command(_vendor, _title)
