"""A file import's reading, checking and row building, in a process of its own.

SQLite writes one batch at a time, and a batch's statements release the interpreter's lock
for each row they step through: Python work on another thread of the same process (reading
the next rows) holds every one of those steps up, so one process imports no faster than its
reading and its writing one after the other. On PostgreSQL the importing process's own
Python (reading, checking, building, and handing rows to two connections) was what held
the import, not the database. A large file import therefore reads its file in a second
process: it reads and checks each row by the API's rules, cuts the
batches where ``Importer`` would (at ``batch_size`` rows, or before a row that shares a
unique value with one in the batch), and builds each batch's rows as if every contact in it
is new (``prepare_batch``: ids, wallets, entries, events, keys). The importing process only
writes: for each batch it looks up who exists already, and writes the rows built ahead if
no one does (a first import), or builds them itself if someone does (a re-run).

The chunks come through a pipe, in the file's order, each sent by a thread of the reader
while the next is built; the reader waits while one chunk is being sent and the next is
ready, so memory stays bounded. A chunk's rows come packed: the importing process unpacks
them only for a batch it cannot write as built (a row refused, or a contact there already),
so a first import's batches cost it their statements and little more.

The reader runs in a session of its own (Ctrl-C reaches the importing process only, which
stops it), and it stops when the pipe closes: it never outlives the import, however that
ends (kill -9 included).
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from patron.accounts.principal import Principal
from patron.core.collector import settle_for_bulk_job
from patron.core.errors import DomainError, InvalidInput
from patron.customers.service import ImportedCustomer
from patron.moving import files, reader
from patron.moving.files import SourceRow
from patron.moving.importer import ParsedRow, Prepared, parse_row, prepare_batch
from patron.wallets.models import CreditType

# Files with fewer rows are read in the importing process: starting another costs more.
AHEAD_ROWS = 10_000
_LENGTH = struct.Struct("!Q")

# A refused row: the row, and (field, message) of each reason.
Refused = tuple[SourceRow, list[tuple[str | None, str]]]

# A row as it travels packed: plain values only, which pickle at a fraction of the cost of
# the objects they make (a chunk's rows took the reader an eighth of its time to pack as
# ``ParsedRow`` s). ``_pack`` and ``_unpack`` are inverses: (line, values, original (None:
# the same as values), problem, then either the cleaned profile, the identities and the
# balances (type, amount) of a row accepted, or the (field, message) of each reason).
_Packed = tuple[Any, ...]


def _source(item: ParsedRow | Refused) -> SourceRow:
    return item.row if isinstance(item, ParsedRow) else item[0]


def _pack(item: ParsedRow | Refused) -> _Packed:
    row = _source(item)
    same = row.original is row.values or row.original == row.values
    head = (row.line, row.values, None if same else row.original)
    if not isinstance(item, ParsedRow):
        return (*head, row.problem, item[1])
    balances = [(kind.value, amount) for kind, amount in item.balances.items()]
    return (*head, row.problem, item.customer.profile, item.customer.identities, balances)


def _unpack(packed: _Packed) -> tuple[SourceRow, ParsedRow | list[DomainError]]:
    line, values, original, problem = packed[:4]
    row = SourceRow(line, values, dict(values) if original is None else original, problem)
    if len(packed) == 5:
        return row, [InvalidInput(message, field=field) for field, message in packed[4]]
    profile, identities, balances = packed[4:]
    customer = ImportedCustomer(profile, identities)
    return row, ParsedRow(row, customer, {CreditType(kind): amount for kind, amount in balances})


# No slots on what is pickled: a slotted dataclass pickles field by field in Python.
@dataclass
class Chunk:
    """Rows in the file's order, refused ones among them; the accepted ones are one batch,
    with its rows built ahead (None: no row accepted). The rows themselves come packed
    (``items``, a pickle of each ``ParsedRow`` or ``Refused`` as ``_pack`` makes it): the
    importing process unpacks them only when it cannot write the batch as it was built."""

    items: bytes
    count: int
    accepted: int
    prepared: Prepared | None
    first: int  # the line of the first row
    # The unique values of the accepted rows (their ``ImportedCustomer.claims``), as the
    # reader cut the chunk by them: the importing process waits on them, never computes them.
    claims: set[tuple[str, str]]

    def complete(self) -> Prepared | None:
        """The batch built ahead, if every row of the chunk was accepted into it."""
        return self.prepared if self.accepted == self.count else None

    def rows(self) -> Iterator[tuple[SourceRow, ParsedRow | list[DomainError]]]:
        """Each row as ``parse_row`` answered it."""
        items: list[_Packed] = pickle.loads(self.items)  # noqa: S301 - our own
        for item in items:
            yield _unpack(item)


@dataclass(frozen=True)
class _Failed:
    message: str


class ReaderStopped(DomainError):
    """The reading process ended without finishing the file (what was written stands: run
    the import again to finish it)."""

    code = "IMPORT_STOPPED"


def chunks(
    path: Path,
    kind: str,
    principal: Principal,
    *,
    source: str,
    match: str,
    batch_size: int,
) -> Iterator[Chunk]:
    """The file's rows as ``Chunk`` s, read and built by a reading process (the one the
    command started early, or one started now); it is stopped when the iteration ends,
    however it ends."""
    process = reader.take() or reader.spawn()
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        with process.stdin:
            pickle.dump(
                (str(path), kind, principal, source, match, batch_size),
                process.stdin,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        while True:
            message = _receive(process.stdout)
            if message is None:
                return
            if isinstance(message, _Failed):
                raise ReaderStopped(f"reading the file failed: {message.message}", field="file")
            yield message
    except EOFError:
        process.wait(10)
        raise ReaderStopped(
            f"the process reading the file stopped (exit code {process.returncode}); "
            "run the import again to finish it",
            field="file",
        ) from None
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.terminate()
        process.wait(10)


def _receive(stream: IO[bytes]) -> Chunk | _Failed | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError
    try:
        message: Chunk | _Failed | None = pickle.loads(body)  # noqa: S301 - our own child's
    except Exception:  # unpickling damaged bytes raises almost anything
        raise ReaderStopped(
            "a batch from the process reading the file arrived damaged; run the import again "
            "to finish it",
            field="file",
        ) from None
    return message


def _write_all(descriptor: int, data: bytes) -> None:
    """All of ``data`` to the pipe, however many writes it takes.

    A write of more than the pipe holds returns early, having written part, when a signal
    reaches the process while it waits: a stop and continue (a debugger or a profiler
    attaching, a paused container, ``kill -STOP``) is enough. Python's buffered writer lost
    the rest of a 1.7 MB chunk then (a reader stopped and continued every few milliseconds
    corrupted the stream within two chunks), so the writes are counted here instead."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


class _Gone(Exception):
    """The importing process closed the pipe: it stopped, or is gone."""


class _Sender:
    """Sends chunks on a thread of its own, one waiting behind the one being sent: the reader
    builds the next chunk while the importing process takes the last (the pipe's writes
    release the interpreter's lock), so neither waits for the other's hand-over."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=1)
        self._gone = False
        self._thread = threading.Thread(target=self._run, name="patron-import-send", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._out.flush()
        descriptor = self._out.fileno()
        while (body := self._queue.get()) is not None:
            if self._gone:
                continue
            try:
                _write_all(descriptor, _LENGTH.pack(len(body)))
                _write_all(descriptor, body)
            except OSError:
                self._gone = True

    def send(self, message: Chunk | _Failed | None) -> None:
        if self._gone:
            raise _Gone
        self._queue.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def close(self) -> None:
        """Send what is queued, and stop."""
        self._queue.put(None)
        self._thread.join()
        if self._gone:
            raise _Gone


def read(
    path: Path,
    kind: str,
    principal: Principal,
    source: str,
    match: str,
    batch_size: int,
    out: IO[bytes],
) -> None:
    """The reading process's work: every chunk of the file to ``out``, then None (or why it
    failed)."""
    sender = _Sender(out)
    try:
        _, rows = files.open_rows(path, kind)
        items: list[ParsedRow | Refused] = []
        batch: list[ParsedRow] = []
        claims: set[tuple[str, str]] = set()

        def cut() -> None:
            nonlocal items, batch, claims
            prepared = prepare_batch(principal, source, match, batch) if batch else None
            packed = pickle.dumps([_pack(item) for item in items], protocol=pickle.HIGHEST_PROTOCOL)
            first = _source(items[0]).line
            sender.send(Chunk(packed, len(items), len(batch), prepared, first, claims))
            items, batch, claims = [], [], set()

        for row in rows:
            parsed = parse_row(principal, match, row)
            if not isinstance(parsed, ParsedRow):
                items.append((row, [(error.field, error.message) for error in parsed]))
                continue
            row_claims = parsed.customer.claims(match)
            if any(claim in claims for claim in row_claims):
                cut()  # as ``Importer.take`` does: the later row sees the earlier one written
            items.append(parsed)
            batch.append(parsed)
            claims.update(row_claims)
            if len(batch) >= batch_size:
                cut()
        if items:
            cut()
        sender.send(None)
        sender.close()
    except _Gone:
        return  # nothing to tell
    except Exception as error:  # told to the importing process, which stops the import
        try:
            sender.send(_Failed(str(error) or type(error).__name__))
            sender.close()
        except _Gone:
            return


def reader_main() -> None:
    """The reading process: its work's arguments on stdin, its chunks to stdout."""
    settle_for_bulk_job()
    arguments: Any = pickle.load(sys.stdin.buffer)  # noqa: S301 - from the importing process
    path, kind, principal, source, match, batch_size = arguments
    read(Path(path), kind, principal, source, match, batch_size, sys.stdout.buffer)
