"""Importing contacts and their balances, a batch per transaction.

Each row is cleaned by the API's rules (a bad one goes to the rejects file and the import goes
on), then a batch of rows is upserted by its match key and its balances posted as ``ADD``
entries (reason ``IMPORT``) in one transaction. On PostgreSQL two batches are written at
once, each in its own transaction on its own connection, while the file is read on: the
database works on both cores (SQLite has one writer, and writes a batch at a time). A large
file is read, checked and built by a second process (``ahead``), whose batches of new
contacts are written as built (``run_chunks``). Two batches in flight never share a
contact's unique value (email, key, external id): a row that does waits for the earlier
batch to commit, so it finds that contact written. The report and the rejects file keep
the file's order. A balance's idempotency key is
``import:<source>:<contact uuid>:<credit type>``: it is applied once per source and contact,
so a re-run, or a run resumed after an interruption, never doubles it; a later file of the
same source with another figure for the contact is reported, not posted.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import DomainError, InvalidInput, NotFound, ValidationErrors
from patron.core.idempotency import validate_key
from patron.core.money import from_minor
from patron.core.unit import run_alone
from patron.customers import service as customers
from patron.moving.files import COLUMNS, RejectsFile, SourceRow
from patron.wallets import postings
from patron.wallets import service as wallets
from patron.wallets.models import CreditType

if TYPE_CHECKING:
    from patron.moving.ahead import Chunk

_T = TypeVar("_T")

BATCH_SIZE = 1000
# Batches written at once on PostgreSQL.
POSTGRESQL_LANES = 2
# Connections an import holds at once: each lane's transaction, and the one beside it that
# reserves the batch's customer numbers and commits at once (``accounts.service``). The
# command keeps them all open: with fewer kept, the rest were opened and closed for every
# batch, each a new server backend paying its start-up and first plans (37 sessions for an
# import of 100,000 contacts against 9; 10,993 rows/s on average against 11,953).
CONNECTIONS = 2 * POSTGRESQL_LANES
MAX_SOURCE_LENGTH = 100
KEY_COLUMN = {"email": "email", "shopify": "shopify_id", "external": "external_id"}
_KNOWN = frozenset(COLUMNS)
_BALANCES = (("global_balance", CreditType.GLOBAL), ("local_balance", CreditType.LOCAL))


def import_principal(db: Database, account_uuid: str | None) -> Principal:
    """The account's own principal as the ``import`` job (actor ``system:import``). Without
    a uuid, the store's only account; with several, the uuid is required."""
    if account_uuid is None:
        found = accounts.list_accounts(db)
        if len(found) != 1:
            raise InvalidInput(
                f"the store has {len(found)} accounts: name one with --account UUID",
                field="account",
            )
        account = found[0]
    else:
        account = accounts.get_account(db, account_uuid)
    return replace(accounts.system_principal(account), job="import")


def check_source(source: str) -> str:
    name = source.strip()
    if not name or len(name) > MAX_SOURCE_LENGTH or validate_key(name) is None:
        raise InvalidInput(f"--source must be 1 to {MAX_SOURCE_LENGTH} characters", field="source")
    return name


def balance_key(source: str, customer_uuid: str, credit_type: CreditType) -> str:
    return f"import:{source}:{customer_uuid}:{credit_type._value_}"  # a plain attribute


@dataclass
class ImportReport:
    source: str
    match: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    credit: dict[CreditType, int] = field(
        default_factory=lambda: {CreditType.GLOBAL: 0, CreditType.LOCAL: 0}
    )
    balances_already_imported: int = 0
    balances_not_reposted: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self, principal: Principal) -> dict[str, Any]:
        places = {
            CreditType.GLOBAL: principal.currency_precision,
            CreditType.LOCAL: principal.points_precision,
        }
        seconds = time.monotonic() - self.started
        return {
            "source": self.source,
            "match": self.match,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "credit_imported": {
                kind.value: str(from_minor(amount, places[kind]))
                for kind, amount in self.credit.items()
            },
            "balances_already_imported": self.balances_already_imported,
            "balances_not_reposted": self.balances_not_reposted,
            "seconds": round(seconds, 3),
            "rows_per_second": round(self.rows / seconds) if seconds > 0 else None,
        }


@dataclass  # not frozen: one a row (see ``SourceRow``)
class ParsedRow:
    row: SourceRow
    customer: customers.ImportedCustomer
    balances: dict[CreditType, int]


# What a batch wrote: each row's outcome, and each balance's row and type with its result.
_Written = tuple[
    list[customers.ImportOutcome], list[tuple[int, CreditType]], list[postings.OpeningResult]
]


@dataclass
class _Writing:
    """A batch being written: its rows (for the progress bar), its unique values and the
    line of its first row (refused rows after it wait for it). A batch built ahead
    (``built``: its chunk and what was built) holds no rows: its answer says whether it
    was written as built (else its chunk's rows are written one by one, later)."""

    batch: list[ParsedRow]
    rows: int
    claims: set[tuple[str, str]]
    future: Future[Any]
    first: int | None
    built: tuple[Chunk, Prepared] | None = None


class _DryRun(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


def _birthday(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value  # the profile rule answers it as the API does
    return value


def _errors(error: DomainError) -> list[DomainError]:
    return list(error.errors) if isinstance(error, ValidationErrors) else [error]


def parse_row(principal: Principal, match: str, row: SourceRow) -> ParsedRow | list[DomainError]:
    """A row cleaned by the API's rules, or why it is refused."""
    if row.problem is not None:
        return [InvalidInput(row.problem)]
    if _KNOWN.issuperset(row.values):  # every column known (the rule): a copy, in C
        errors: list[DomainError] = []
        values = dict(row.values)
    else:
        errors = [
            InvalidInput(f"unknown column '{name}'", field=name)
            for name in row.values
            if name not in _KNOWN
        ]
        values = {name: value for name, value in row.values.items() if name in _KNOWN}
    if "birthday" in values:
        values["birthday"] = _birthday(values["birthday"])
    customer: customers.ImportedCustomer | None = None
    try:
        customer = customers.clean_import(values)
    except DomainError as error:
        errors += _errors(error)
    balances: dict[CreditType, int] = {}
    for column, credit_type in _BALANCES:
        value = values.get(column)
        if value is None:
            continue
        try:
            if isinstance(value, bool):
                raise InvalidInput(f"{column} must be a number", field=column)
            amount = wallets.import_amount(principal, credit_type, value, field=column)
        except DomainError as error:
            errors += _errors(error)
            continue
        if amount:
            balances[credit_type] = amount
    if customer is not None and customer.key(match) is None:
        column = KEY_COLUMN[match]
        errors.append(
            InvalidInput(
                f"{column} is required: this import matches contacts by {match}", field=column
            )
        )
    if errors or customer is None:
        return errors
    return ParsedRow(row, customer, balances)


@functools.lru_cache(maxsize=16)
def _note(source: str) -> str:
    """The note of a source's entries: one string for all, so that a batch's statements see
    a value every row shares, and bind it once (one a row: a parameter more for each)."""
    return f"import from {source}"


def _opening_balances(
    source: str, parsed: ParsedRow, index: int, wallet_uuid: str, customer_uuid: str
) -> list[tuple[tuple[int, CreditType], postings.OpeningBalance]]:
    """A row's balances as opening balances of its wallet, each with its (row index, type)."""
    note = _note(source)
    return [
        (
            (index, credit_type),
            postings.OpeningBalance(
                wallet_uuid=wallet_uuid,
                credit_type=credit_type,
                amount=amount,
                idempotency_key=balance_key(source, customer_uuid, credit_type),
                note=note,
            ),
        )
        for credit_type, amount in parsed.balances.items()
    ]


@dataclass
class Prepared:
    """A batch's rows built as if every contact in it is new (the first import into an
    account), before its transaction: the unique values its rows hold (who holds one is
    not new), the customers, their wallets with their balances, and the credit of each
    type the balances add up to (what a batch written as built counts)."""

    now: datetime
    values: customers.BatchValues
    contacts: customers.NewCustomers
    opened: postings.OpenedWallets
    credit: dict[CreditType, int]

    def all_posted(self) -> bool:
        """Whether each balance was built as posted (none refused)."""
        return all(result.status == "posted" for result in self.opened.results)


def prepare_batch(
    principal: Principal, source: str, match: str, batch: Sequence[ParsedRow]
) -> Prepared:
    """What ``Importer`` writes of ``batch`` when every row is new, reading nothing."""
    now = utcnow()
    rows = [parsed.customer for parsed in batch]
    created = customers.prepare_created(principal.account_id, rows, range(len(batch)), source, now)
    owners, opened = _new_wallets(principal, source, batch, created.opened, now)
    credit = dict.fromkeys(CreditType, 0)
    for index, kind in owners:
        credit[kind] += batch[index].balances[kind]
    return Prepared(now, customers.batch_values(rows, match), created, opened, credit)


def _new_wallets(
    principal: Principal,
    source: str,
    batch: Sequence[ParsedRow],
    opened: Sequence[tuple[int, str, str]],
    now: datetime,
) -> tuple[list[tuple[int, CreditType]], postings.OpenedWallets]:
    """The new contacts' wallets, (row index, wallet uuid, customer uuid) each, built with
    their rows' balances: the (row index, type) of each balance, and the rows to write."""
    found = [
        pair
        for index, wallet_uuid, customer_uuid in opened
        for pair in _opening_balances(source, batch[index], index, wallet_uuid, customer_uuid)
    ]
    pairs = [(wallet_uuid, customer_uuid) for _, wallet_uuid, customer_uuid in opened]
    built = postings.prepare_opened(
        principal, pairs, [opening for _, opening in found], now, with_entries=False
    )
    return [owner for owner, _ in found], built


class Importer:
    """Feed it rows; it writes a batch per transaction and counts what happened."""

    def __init__(
        self,
        db: Database,
        principal: Principal,
        *,
        source: str,
        match: str = "email",
        dry_run: bool = False,
        rejects: RejectsFile | None = None,
        batch_size: int = BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if match not in KEY_COLUMN:
            raise InvalidInput("--match must be email, shopify or external", field="match")
        self.db = db
        self.principal = principal
        self.source = check_source(source)
        self.match = match
        self.rejects = rejects
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(source=self.source, match=match, dry_run=dry_run)
        self._batch: list[ParsedRow] = []
        self._claims: set[tuple[str, str]] = set()
        self._pending_rows = 0
        self._next_analyze = 2_000
        self._lanes = 1 if db.is_sqlite else POSTGRESQL_LANES
        self._writer: ThreadPoolExecutor | None = None
        self._writing: deque[_Writing] = deque()
        # Batches are written on this thread, one at a time (``run_chunks`` on SQLite).
        self._here = False
        # Chunks built ahead whose contacts were not all new: written one by one, next.
        self._again: deque[Chunk] = deque()
        # Refused rows not yet in the rejects file: it is written in the file's order, so a
        # row waits there while a row before it may still be refused by its batch's write.
        self._refused: list[tuple[SourceRow, str | None, str]] = []

    def run(self, rows: Iterable[SourceRow]) -> ImportReport:
        try:
            for row in rows:
                self.feed(row)
            self.flush()
        finally:
            self.close()
        return self.report

    def run_chunks(self, chunks: Iterable[Chunk]) -> ImportReport:
        """``run`` of rows read, checked and built ahead in batches (``ahead.chunks``): each
        chunk's batch is written as it arrives, as it was built if every row in it was
        accepted and is new (``_submit_built``), else row by row as ``run`` writes it."""
        # SQLite writes one batch at a time: on this thread, whose only work is the writing.
        self._here = self.db.is_sqlite
        try:
            for chunk in chunks:
                self._take_again()
                built = chunk.complete()
                if built is not None and built.all_posted():
                    self._submit_built(chunk, built)
                else:
                    self._take_chunk(chunk)
            self.flush()
            while self._again:
                self._take_again()
                self.flush()
        finally:
            self.close()
        return self.report

    def _take_chunk(self, chunk: Chunk) -> None:
        """A chunk's rows, unpacked, taken one by one and written as one batch."""
        self._wait_for(chunk.claims)
        for row, parsed in chunk.rows():
            self.take(row, parsed, cut=False)
        self._claims = set(chunk.claims)
        if self._batch:
            self._submit()

    def _take_again(self) -> None:
        while self._again:
            self._take_chunk(self._again.popleft())

    def _wait_for(self, claims: set[tuple[str, str]]) -> None:
        """Before a chunk's batch: settle the batches in flight that hold one of its unique
        values (``claims``), and write first the chunks that turned out not new, which
        come before it in the file (a later row about the same contact must find it
        written as the earlier row has it)."""
        while True:
            self._make_room(claims)
            if not self._again:
                return
            self._take_again()

    def _make_room(self, claims: set[tuple[str, str]], *, alone: bool = False) -> None:
        """Settle batches in flight until a lane is free and none of them holds one of
        ``claims`` (``alone``: until none is in flight; with ``_here``, always so)."""
        while self._writing and (
            alone
            or self._here
            or len(self._writing) >= self._lanes
            or any(not claims.isdisjoint(item.claims) for item in self._writing)
        ):
            self._settle()

    def close(self) -> None:
        """Wait for the batches being written (their commits stand) and stop the writers."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def feed(self, row: SourceRow) -> None:
        self.take(row, parse_row(self.principal, self.match, row))

    def take(
        self, row: SourceRow, parsed: ParsedRow | list[DomainError], *, cut: bool = True
    ) -> None:
        """A row as ``parse_row`` answered it. ``cut=False``: the caller cut the batches
        already, by the rules below, and gives the batch its claims (``run_chunks``)."""
        self.report.rows += 1
        self._pending_rows += 1
        if not isinstance(parsed, ParsedRow):
            self._reject(row, parsed)
            if len(self._batch) == 0:
                self._advance()
            return
        if not cut:
            self._batch.append(parsed)
            return
        claims = parsed.customer.claims(self.match)
        if any(claim in self._claims for claim in claims):
            self._submit()  # a later row about the same contact sees the earlier one written
        self._batch.append(parsed)
        self._claims.update(claims)
        if len(self._batch) >= self.batch_size:
            self._submit()

    def _advance(self) -> None:
        if self._writing:
            return  # counted with the batches being written
        if self.progress is not None and self._pending_rows:
            self.progress(self._pending_rows)
        self._pending_rows = 0

    def _reject(self, row: SourceRow, errors: Sequence[DomainError]) -> None:
        self.report.rejected += 1
        for error in errors:
            self._refuse(row, error.field, error.message)

    def _refuse(self, row: SourceRow, field: str | None, reason: str) -> None:
        if self.rejects is not None:
            self._refused.append((row, field, reason))
            self._write_refused()

    def _write_refused(self) -> None:
        """Write the refused rows that come before every row still to be written."""
        if self.rejects is None or not self._refused:
            return
        pending = [item.first for item in self._writing if item.first is not None]
        pending += [chunk.first for chunk in self._again]
        if self._batch:
            pending.append(self._batch[0].row.line)
        first = min(pending, default=None)
        ready = [item for item in self._refused if first is None or item[0].line < first]
        if not ready:
            return
        self._refused = [
            item for item in self._refused if first is not None and item[0].line >= first
        ]
        for row, field_, reason in sorted(ready, key=lambda item: item[0].line):
            self.rejects.write(row, field_, reason)

    def flush(self, extra: Callable[[Connection], None] | None = None) -> None:
        """Write the batch (and run ``extra`` in its transaction: a vendor's cursor); when
        this returns, every row fed so far is written and counted."""
        self._submit(extra)
        while self._writing:
            self._settle()

    def _submit_built(self, chunk: Chunk, built: Prepared) -> None:
        """Hand a batch built ahead to a writer as ``_submit`` does: it is written as it was
        built if every contact in it is new (each balance built as posted), and counted from
        what was built, its rows never unpacked; else nothing is written, and its chunk's
        rows are taken one by one after the batches before it have settled."""
        claims = chunk.claims
        self._wait_for(claims)
        principal = self.principal

        def open_wallets(connection: Connection, _: list[tuple[int, str, str]]) -> None:
            postings.write_opened(connection, principal, built.opened)

        def command(connection: Connection) -> bool:
            created = customers.create_if_new(
                connection,
                principal,
                built.values,
                built.contacts,
                match=self.match,
                now=built.now,
                open_wallets=open_wallets,
            )
            return created is not None

        future = self._launch(lambda: self._transaction(command))
        self._writing.append(_Writing([], 0, claims, future, chunk.first, (chunk, built)))
        if self._here:
            self._settle()

    def _launch(self, write: Callable[[], _T]) -> Future[_T]:
        """``write`` on a writer's thread, or here and now (``_here``): its answer, or what
        it raised, is taken in ``_settle``."""
        if not self._here:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(self._lanes, thread_name_prefix="patron-import")
            return self._writer.submit(write)
        future: Future[_T] = Future()
        try:
            future.set_result(write())
        except Exception as error:  # raised where a writer's would be: in _settle
            future.set_exception(error)
        return future

    def _transaction(self, command: Callable[[Connection], _T]) -> _T:
        """``command``'s answer in a transaction of its own: committed, or on a dry run
        rolled back."""
        if not self.report.dry_run:
            return run_alone(self.db, command)
        try:
            with self.db.write() as connection:
                raise _DryRun(command(connection))
        except _DryRun as done:
            result: _T = done.result
            return result

    def _submit(self, extra: Callable[[Connection], None] | None = None) -> None:
        """Hand the batch to a writer: once a lane is free, and once every batch in flight
        that holds one of its unique values has committed (with ``_here``, it is written
        here and now)."""
        self._make_room(self._claims, alone=extra is not None)
        batch, claims = self._batch, self._claims
        self._batch, self._claims = [], set()
        if not batch and extra is None:
            self._advance()
            return

        def write() -> _Written:
            def command(connection: Connection) -> _Written:
                written = self._write(connection, batch)
                if extra is not None:
                    extra(connection)
                return written

            return self._transaction(command)

        rows, self._pending_rows = self._pending_rows, 0
        first = batch[0].row.line if batch else None
        self._writing.append(_Writing(batch, rows, claims, self._launch(write), first))
        if self._here:
            self._settle()

    def _settle(self) -> None:
        """Wait for the oldest batch in flight and count it."""
        item = self._writing[0]
        try:
            answer = item.future.result()
        finally:
            self._writing.popleft()
        if item.built is None:
            outcomes, owners, results = answer
            self._count(item.batch, outcomes, owners, results)
        elif answer:
            self._count_built(item.built[1])
        else:  # someone holds one of its values: its rows are written one by one
            self._again.append(item.built[0])
        self._write_refused()
        if self.rejects is not None:
            self.rejects.flush()
        self._refresh_statistics()
        self._pending_rows += item.rows
        self._advance()

    def _write(self, connection: Connection, batch: list[ParsedRow]) -> _Written:
        """Upsert the batch's contacts; open the new ones' wallets with their balances and
        post the balances of those that were there before (each key applied once)."""
        principal, source = self.principal, self.source
        now = utcnow()
        owners: list[tuple[int, CreditType]] = []
        results: list[postings.OpeningResult] = []

        def open_wallets(connection: Connection, opened: list[tuple[int, str, str]]) -> None:
            new_owners, built = _new_wallets(principal, source, batch, opened, now)
            owners.extend(new_owners)
            results.extend(postings.write_opened(connection, principal, built))

        outcomes = customers.import_customers(
            connection,
            principal,
            [parsed.customer for parsed in batch],
            match=self.match,
            source=source,
            now=now,
            open_wallets=open_wallets,
        )
        openings: list[postings.OpeningBalance] = []
        keys: set[str] = set()
        for index, outcome in enumerate(outcomes):
            wallet_uuid, customer_uuid = outcome.wallet_uuid, outcome.customer_uuid
            if outcome.status == "created" or wallet_uuid is None or customer_uuid is None:
                continue
            for owner, opening in _opening_balances(
                source, batch[index], index, wallet_uuid, customer_uuid
            ):
                if opening.idempotency_key not in keys:
                    keys.add(opening.idempotency_key)
                    owners.append(owner)
                    openings.append(opening)
        if openings:
            results += postings.post_openings(
                connection, principal, openings, now, with_entries=False
            )
        return outcomes, owners, results

    def _refresh_statistics(self) -> None:
        """On PostgreSQL, when the rows written pass 2,000, 20,000, 200,000, ...: ANALYZE the
        tables an import fills, or each batch's lookups slow down as they grow."""
        written = self.report.created
        if self.db.is_sqlite or self.report.dry_run or written < self._next_analyze:
            return
        while self._next_analyze <= written:
            self._next_analyze *= 10
        with self.db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            customers.refresh_statistics(connection)
            wallets.refresh_statistics(connection)

    def _count_built(self, built: Prepared) -> None:
        """Count a batch written as built: every row a new contact, every balance posted."""
        report, rows = self.report, len(built.contacts.values)
        report.rows += rows
        report.created += rows
        for kind, amount in built.credit.items():
            report.credit[kind] += amount
        self._pending_rows += rows

    def _count(
        self,
        batch: list[ParsedRow],
        outcomes: list[customers.ImportOutcome],
        owners: list[tuple[int, CreditType]],
        results: list[postings.OpeningResult],
    ) -> None:
        report = self.report
        for parsed, outcome in zip(batch, outcomes, strict=True):
            if outcome.status == "rejected":
                self._reject(parsed.row, [outcome.error or NotFound("refused")])
            elif outcome.status == "created":
                report.created += 1
            elif outcome.status == "updated":
                report.updated += 1
            else:
                report.unchanged += 1
        places = {
            CreditType.GLOBAL: self.principal.currency_precision,
            CreditType.LOCAL: self.principal.points_precision,
        }
        for (index, kind), result in zip(owners, results, strict=True):
            parsed = batch[index]
            if result.status == "posted":  # its entry is the row's balance of this kind
                report.credit[kind] += parsed.balances[kind]
            elif result.status == "already":
                report.balances_already_imported += 1
            elif result.status == "differs":
                report.balances_not_reposted += 1
                if self.rejects is not None:
                    column = "global_balance" if kind is CreditType.GLOBAL else "local_balance"
                    before = (
                        str(from_minor(result.previous, places[kind]))
                        if result.previous is not None
                        else "another amount"
                    )
                    self._refuse(
                        parsed.row,
                        column,
                        f"{before} was already imported from source '{self.source}' for this "
                        "contact; the new figure is not posted (use another --source to add it)",
                    )
            elif result.status == "refused" and result.error is not None:
                report.balances_not_reposted += 1
                self._refuse(parsed.row, result.error.field, result.error.message)
