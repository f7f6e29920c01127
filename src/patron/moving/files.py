"""Contact files: reading CSV or JSON Lines a row at a time, and writing the rejects file."""

from __future__ import annotations

import csv
import json
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from patron.core.errors import InvalidInput

# The columns a contact file may have (a CSV header, or a JSON line's keys), and an export writes.
COLUMNS = (
    "email",
    "name",
    "first_name",
    "last_name",
    "phone",
    "birthday",
    "shopify_id",
    "klaviyo_id",
    "lightspeed_id",
    "external_id",
    "global_balance",
    "local_balance",
    "note",
)
FORMATS = ("csv", "jsonl")


# Not frozen (nor any of the classes an import makes a few of a row): a frozen dataclass
# sets each field through ``object.__setattr__``, which made building one four times dearer.
@dataclass
class SourceRow:
    """One row as read: its line in the file (or its position in a vendor's list), its values
    by column (None: not given), and what to write back if it is refused."""

    line: int
    values: dict[str, Any]
    original: dict[str, Any]
    problem: str | None = None  # the row could not be read at all (malformed JSON)


def format_of(path: Path, given: str | None) -> str:
    if given is not None:
        chosen = given.strip().lower()
        if chosen not in FORMATS:
            raise InvalidInput(f"--format must be csv or jsonl, got '{given}'", field="format")
        return chosen
    suffix = path.suffix.lower()
    return "jsonl" if suffix in {".jsonl", ".ndjson", ".json"} else "csv"


def count_lines(path: Path) -> int:
    """Lines in the file (for a progress bar's total), read in blocks."""
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def open_rows(path: Path, kind: str) -> tuple[list[str], Iterator[SourceRow]]:
    """The file's columns and its rows, read lazily (memory does not grow with the file).

    A CSV header naming a column Patron does not know refuses the file before any row."""
    if not path.is_file():
        raise InvalidInput(f"no file at '{path}'", field="file")
    handle = path.open("r", encoding="utf-8-sig", newline="")
    try:
        if kind == "csv":
            return _csv_rows(handle)
        return ["row"], _jsonl_rows(handle)
    except BaseException:
        handle.close()
        raise


def columns_of(path: Path, kind: str) -> list[str]:
    """The file's columns, its header checked as ``open_rows`` checks it, no row read."""
    if not path.is_file():
        raise InvalidInput(f"no file at '{path}'", field="file")
    if kind != "csv":
        return ["row"]
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header, _ = _csv_header(csv.reader(handle))
    return header


def _csv_header(reader: Any) -> tuple[list[str], list[str]]:
    """The header as written and its column names, or why the file is refused."""
    try:
        header: list[str] = next(reader)
    except StopIteration:
        header = []
    except (csv.Error, UnicodeDecodeError) as error:
        raise InvalidInput(f"the file is not CSV: {error}", field="file") from None
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if not names or unknown:
        what = f"unknown column '{unknown[0]}'" if unknown else "no header"
        raise InvalidInput(
            f"the CSV file has {what}; its header names some of: {', '.join(COLUMNS)}",
            field="file",
        )
    if len(set(names)) != len(names):
        raise InvalidInput("the CSV header names a column twice", field="file")
    return header, names


def _csv_rows(handle: IO[str]) -> tuple[list[str], Iterator[SourceRow]]:
    reader = csv.reader(handle)
    try:
        header, names = _csv_header(reader)
    except InvalidInput:
        handle.close()
        raise

    as_written = names == header

    def rows() -> Iterator[SourceRow]:
        with handle:
            line = reader.line_num
            while True:
                start = line + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as error:
                    line = reader.line_num
                    yield SourceRow(start, {}, {}, problem=f"unreadable CSV: {error}")
                    continue
                line = reader.line_num
                if not cells:
                    continue
                if len(cells) != len(names):
                    yield SourceRow(
                        start,
                        {},
                        dict(zip(header, cells, strict=False)),
                        problem=f"{len(cells)} cells where the header has {len(names)}",
                    )
                    continue
                values = {
                    name: (cell.strip() or None) for name, cell in zip(names, cells, strict=True)
                }
                # Each cell as written (nothing stripped, none empty) under the header as
                # written: the row reads as it was written, one dict for both (most rows).
                if as_written and all(map(operator.is_, values.values(), cells)):
                    yield SourceRow(start, values, values)
                else:
                    yield SourceRow(start, values, dict(zip(header, cells, strict=False)))

    return header, rows()


def _jsonl_rows(handle: IO[str]) -> Iterator[SourceRow]:
    with handle:
        try:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    decoded = json.loads(text, parse_float=Decimal)
                except ValueError as error:
                    yield SourceRow(number, {}, {"row": text.rstrip("\n")}, f"not JSON: {error}")
                    continue
                if not isinstance(decoded, dict):
                    yield SourceRow(number, {}, {"row": text.rstrip("\n")}, "not a JSON object")
                    continue
                values = {
                    str(key): (value.strip() or None) if isinstance(value, str) else value
                    for key, value in decoded.items()
                }
                yield SourceRow(number, values, {"row": text.rstrip("\n")})
        except UnicodeDecodeError as error:
            yield SourceRow(0, {}, {}, problem=f"the file is not UTF-8: {error}")


class RejectsFile:
    """The rows an import refused: line, field, reason, then the row as it was read. The file
    is created on the first reject only."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.count = 0
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def write(self, row: SourceRow, field: str | None, reason: str) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "field", "reason", *self.columns])
        self._writer.writerow(
            [row.line, field or "", reason, *(_cell(row.original.get(c)) for c in self.columns)]
        )
        self.count += 1

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)
