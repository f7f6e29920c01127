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
ready, so memory stays bounded. A chunk with a row refused comes with its rows packed: the
importing process writes it row by row. One whose rows were all accepted comes without them
(packing them cost the reader a twelfth of its work, and a first import never needs them):
if its batch cannot be written as built after all (a contact there already: a re-run), the
importing process reads those rows again from the file (``_Rereader``) and asks the reader,
through its stdin, to pack every chunk's rows from then on, as a re-run needs them all.

The reader runs in a session of its own (Ctrl-C reaches the importing process only, which
stops it), and it stops when the pipe closes: it never outlives the import, however that
ends (kill -9 included).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import struct
import sys
import threading
from collections.abc import Callable, Generator, Iterator
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
    with its rows built ahead (None: no row accepted). The rows themselves (``items``, a
    pickle of each ``ParsedRow`` or ``Refused`` as ``_pack`` makes it) come only if one was
    refused or the importing process asked for them; else (None) it reads them again from
    the file if it cannot write the batch as it was built (``again``, set on arrival)."""

    items: bytes | None
    count: int
    accepted: int
    prepared: Prepared | None
    first: int  # the line of the first row
    # The unique values of the accepted rows (their ``ImportedCustomer.claims``), as the
    # reader cut the chunk by them: the importing process waits on them, never computes them.
    claims: set[tuple[str, str]]
    again: _Rereader | None = None

    def complete(self) -> Prepared | None:
        """The batch built ahead, if every row of the chunk was accepted into it."""
        return self.prepared if self.accepted == self.count else None

    def rows(self) -> Iterator[tuple[SourceRow, ParsedRow | list[DomainError]]]:
        """Each row as ``parse_row`` answered it."""
        if self.items is None:
            assert self.again is not None, "a chunk sent without its rows is read again"
            yield from self.again.rows(self.first, self.count)
            return
        items: list[_Packed] = pickle.loads(self.items)  # noqa: S301 - our own
        for item in items:
            yield _unpack(item)


class _Rereader:
    """The rows of chunks the reader sent without them, read and checked again in the
    importing process, as the reader read them: from the same file, by the same rules.

    The file is read on from where the last chunk's rows ended (chunks are taken in the
    file's order), from its start otherwise. Its first use asks the reader to send every
    later chunk's rows (``ask``): a batch not new is most often the first of many (a
    re-run). A file changed since the import began is not read again: its rows may not be
    the ones the reader built the chunk of."""

    def __init__(
        self, path: Path, kind: str, principal: Principal, match: str, ask: Callable[[], None]
    ) -> None:
        self._path, self._kind, self._principal, self._match = path, kind, principal, match
        self._ask: Callable[[], None] | None = ask
        self._stamp = _stamp(path)
        self._rows: Iterator[SourceRow] | None = None
        self._line = 0  # the line of the last row taken

    def rows(
        self, first: int, count: int
    ) -> Iterator[tuple[SourceRow, ParsedRow | list[DomainError]]]:
        if self._ask is not None:
            self._ask()
            self._ask = None
        if _stamp(self._path) != self._stamp:
            raise ReaderStopped(
                "the file changed while it was being imported; run the import again to finish it",
                field="file",
            )
        if self._rows is None or self._line >= first:
            self.close()
            _, self._rows = files.open_rows(self._path, self._kind)
        taken = 0
        for row in self._rows:
            if row.line < first:
                continue
            self._line = row.line
            yield row, parse_row(self._principal, self._match, row)
            taken += 1
            if taken == count:
                return
        raise ReaderStopped(
            "the file ended before the rows the reader read; run the import again to finish it",
            field="file",
        )

    def close(self) -> None:
        rows, self._rows = self._rows, None
        if isinstance(rows, Generator):
            rows.close()


def _stamp(path: Path) -> tuple[int, int]:
    """The file's size and time of change: another after any write to it."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


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
    asking, out = process.stdin, process.stdout
    assert asking is not None
    assert out is not None

    def ask() -> None:
        """Ask the reader to send every later chunk's rows (one byte on its stdin)."""
        with contextlib.suppress(OSError):  # it is gone: the import learns so from its pipe
            asking.write(b"P")
            asking.flush()

    again: _Rereader | None = None
    try:
        if path.is_file():
            again = _Rereader(path, kind, principal, match, ask)
        pickle.dump(
            (str(path), kind, principal, source, match, batch_size),
            asking,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        asking.flush()
        while True:
            message = _receive(out)
            if message is None:
                return
            if isinstance(message, _Failed):
                raise ReaderStopped(f"reading the file failed: {message.message}", field="file")
            message.again = again
            yield message
    except EOFError:
        process.wait(10)
        raise ReaderStopped(
            f"the process reading the file stopped (exit code {process.returncode}); "
            "run the import again to finish it",
            field="file",
        ) from None
    finally:
        if again is not None:
            again.close()
        with contextlib.suppress(OSError):
            asking.close()
        out.close()
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
    asked: int | None = None,
) -> None:
    """The reading process's work: every chunk of the file to ``out``, then None (or why it
    failed). A chunk whose rows were all accepted comes without them until the importing
    process asks for them: a byte, or the end, on the descriptor ``asked`` (None: always
    with them)."""
    sender = _Sender(out)
    packing = asked is None
    try:
        _, rows = files.open_rows(path, kind)
        items: list[ParsedRow | Refused] = []
        batch: list[ParsedRow] = []
        claims: set[tuple[str, str]] = set()

        def cut() -> None:
            nonlocal items, batch, claims, packing
            prepared = prepare_batch(principal, source, match, batch) if batch else None
            if not packing and asked is not None and _asked(asked):
                packing = True
            packed = (
                pickle.dumps([_pack(item) for item in items], protocol=pickle.HIGHEST_PROTOCOL)
                if packing or len(batch) < len(items)
                else None
            )
            first = _source(items[0]).line
            sender.send(Chunk(packed, len(items), len(batch), prepared, first, claims))
            items, batch, claims = [], [], set()

        for row in rows:
            parsed = parse_row(principal, match, row)
            if not isinstance(parsed, ParsedRow):
                items.append((row, [(error.field, error.message) for error in parsed]))
                continue
            row_claims = parsed.customer.claims(match)
            if not claims.isdisjoint(row_claims):
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
    # Then stdin stays open: a byte on it asks for every later chunk's rows.
    asked = sys.stdin.buffer.fileno()
    read(Path(path), kind, principal, source, match, batch_size, sys.stdout.buffer, asked)


def _asked(descriptor: int) -> bool:
    """Whether the importing process asked for the chunks' rows (or closed the pipe, ending
    the import: packing them then costs nothing worth saving)."""
    ready, _, _ = select.select([descriptor], [], [], 0)
    if not ready:
        return False
    with contextlib.suppress(OSError):
        os.read(descriptor, 64)
    return True
