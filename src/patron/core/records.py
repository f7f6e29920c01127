"""Projected reads: rows of just the columns a request needs, as named tuples.

A read that prints four fields of a contact decodes four columns, not the thirty a model
holds. Each projected record has the model's attribute names and the model's values (each
column's ``decode`` turns the stored value into what the model would hold), so code written
against a model's attributes reads a record the same way.
"""

from __future__ import annotations

import collections
import dataclasses
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


Maker = Callable[[Sequence[Any]], Any]
_MAKERS: dict[tuple[type[Any], tuple[str, ...], tuple[tuple[str, Decode], ...]], Maker] = {}


def model_maker(
    model: type[Any], columns: tuple[str, ...], convert: tuple[tuple[str, Decode], ...] = ()
) -> Maker:
    """A function that makes a ``model`` (a slotted dataclass, frozen or not) from a row of
    ``columns`` (a result's field names: each field of the model without a default must be
    among them; more may be), each value through its ``convert`` step where one is given.

    Written out once per column layout, as ``collections.namedtuple`` and ``dataclasses``
    write their own code: each slot set through its descriptor, with no dict per row and no
    keyword arguments. A frozen dataclass's ``__init__`` calls ``object.__setattr__`` for
    every field; for a page of rows this costs a third of that."""
    key = (model, columns, convert)
    found = _MAKERS.get(key)
    if found is not None:
        return found
    at = {name: index for index, name in enumerate(columns)}
    steps = dict(convert)
    namespace: dict[str, Any] = {"_new": object.__new__, "_model": model}
    lines = ["def make(row):", "    made = _new(_model)"]
    for number, field in enumerate(dataclasses.fields(model)):
        if field.name not in at:  # a field the row does not hold starts at its default
            if field.default is dataclasses.MISSING:
                raise KeyError(f"the rows have no column {field.name!r} of {model.__name__}")
            namespace[f"_default{number}"] = field.default
            namespace[f"_set{number}"] = getattr(model, field.name).__set__
            lines.append(f"    _set{number}(made, _default{number})")
            continue
        value = f"row[{at[field.name]}]"
        if field.name in steps:
            namespace[f"_convert{number}"] = steps[field.name]
            value = f"_convert{number}({value})"
        namespace[f"_set{number}"] = getattr(model, field.name).__set__
        lines.append(f"    _set{number}(made, {value})")
    lines.append("    return made")
    # Nothing of the text comes from outside: names are made here, indexes from ``columns``.
    exec("\n".join(lines), namespace)  # noqa: S102
    made: Maker = namespace["make"]
    if len(_MAKERS) >= RECORD_TYPES:  # clients repeat few layouts; this bounds them
        _MAKERS.clear()
    _MAKERS[key] = made
    return made


def models(
    model: type[Any], rows: Sequence[Any], convert: tuple[tuple[str, Decode], ...] = ()
) -> list[Any]:
    """``model_maker``'s models of the rows of one result (SQLAlchemy rows: their
    ``_fields`` name the columns)."""
    if not rows:
        return []
    make = model_maker(model, tuple(rows[0]._fields), convert)
    return [make(row) for row in rows]
