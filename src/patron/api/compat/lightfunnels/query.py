"""The ``query`` string of ``customers``: ``order_by:<field> order_dir:asc|desc``, search terms.

Words without a field match name, email or phone; ``field:value`` (or ``field:"two words"``)
narrows by one field. Names are Lightfunnels'; they map onto the core's here and only here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from patron.api.compat.lightfunnels.cursors import decode_id
from patron.core.errors import InvalidInput
from patron.customers.search import check_search_size

MAX_QUERY = 1000
# Lightfunnels field -> core sort key
ORDER_FIELDS = {
    "id": "number",
    "_id": "number",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "name",
    "phone": "phone",
}
# Lightfunnels field -> core search term
TEXT_FIELDS = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "name",
    "name": "name",
    "notes": "notes",
    "city": "city",
    "country": "country",
}
_OTHER_FIELDS = ("id", "_id", "accepts_marketing")
_TOKEN = re.compile(r'(?:([A-Za-z_]+):)?(?:"([^"]*)"|(\S+))')


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    order_by: str = "number"
    descending: bool = True
    words: tuple[str, ...] = ()
    terms: dict[str, str | int | bool] = field(default_factory=dict)


def _term(name: str, value: str) -> tuple[str, str | int | bool]:
    if name in TEXT_FIELDS:
        return TEXT_FIELDS[name], value
    if name == "_id":
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise InvalidInput(f"_id:{value} must be a number", field="query")
        return "number", int(value)
    if name == "id":
        return "number", decode_id(value, field="query")
    if name == "accepts_marketing":
        if value not in {"true", "false"}:
            raise InvalidInput("accepts_marketing: must be true or false", field="query")
        return "accepts_marketing", value == "true"
    known = ", ".join([*TEXT_FIELDS, *_OTHER_FIELDS])
    raise InvalidInput(f"cannot search by '{name}': use one of {known}", field="query")


def parse_query(text: str) -> ParsedQuery:
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"query must be at most {MAX_QUERY} characters", field="query")
    order_by, descending = "number", True
    words: list[str] = []
    terms: dict[str, str | int | bool] = {}
    for match in _TOKEN.finditer(text):
        name = match.group(1)
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if name is None:
            if value:
                words.append(value)
        elif name == "order_by":
            if value not in ORDER_FIELDS:
                raise InvalidInput(
                    f"order_by:{value} is not supported: use one of {', '.join(ORDER_FIELDS)}",
                    field="query",
                )
            order_by = ORDER_FIELDS[value]
        elif name == "order_dir":
            if value.lower() not in {"asc", "desc"}:
                raise InvalidInput(f"order_dir:{value} must be asc or desc", field="query")
            descending = value.lower() == "desc"
        else:
            core_name, core_value = _term(name, value)
            terms[core_name] = core_value
        check_search_size(len(words) + len(terms), field="query")
    return ParsedQuery(order_by=order_by, descending=descending, words=tuple(words), terms=terms)
