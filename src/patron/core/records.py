"""Projected reads: rows of just the columns a request needs, as named tuples.

A read that prints four fields of a contact decodes four columns, not the thirty a model
holds. Each projected record has the model's attribute names and the model's values (each
column's ``decode`` turns the stored value into what the model would hold), so code written
against a model's attributes reads a record the same way.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Decode = Callable[[Any], Any]
# Record types are made per column set; clients repeat few documents, and this bounds them.
RECORD_TYPES = 512


def unchanged(value: Any) -> Any:
    """A column whose stored value is the model's value."""
    return value


@functools.lru_cache(maxsize=RECORD_TYPES)
def record_type(kind: str, names: tuple[str, ...]) -> type[Any]:
    """The named tuple of one column set."""
    return collections.namedtuple(kind, names)


def records(
    kind: str,
    rows: Sequence[Sequence[Any]],
    names: tuple[str, ...],
    decoders: Mapping[str, Decode],
    extra: tuple[str, ...] = (),
) -> list[Any]:
    """``rows`` (values in ``names`` order) as records of ``names`` + ``extra`` (the extra
    attributes start as 0: values the caller computes, such as unswept expired credit)."""
    make = record_type(kind, names + extra)._make
    tail = (0,) * len(extra)
    decode = [decoders.get(name, unchanged) for name in names]
    if all(step is unchanged for step in decode):
        return [make((*row, *tail)) for row in rows]
    return [
        make(
            [
                *(
                    value if step is unchanged else step(value)
                    for step, value in zip(decode, row, strict=True)
                ),
                *tail,
            ]
        )
        for row in rows
    ]
