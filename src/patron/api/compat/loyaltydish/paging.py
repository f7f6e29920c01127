"""Relay windows over a list of known length: graphene's offset algorithm, bounds checked."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from patron.api.compat.loyaltydish import ids
from patron.core.errors import InvalidInput

MAX_PAGE = 100


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int
    has_previous: bool
    has_next: bool

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)

    def page_info(self) -> PageInfo:
        empty = self.size == 0
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.has_previous,
            start_cursor=None if empty else ids.offset_cursor(self.start),
            end_cursor=None if empty else ids.offset_cursor(self.end - 1),
        )


def page_size(value: int | None, field: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_PAGE:
        raise InvalidInput(f"{field} must be between 0 and {MAX_PAGE}, got {value}", field=field)
    return value


@dataclass(frozen=True, slots=True)
class Slice:
    """A client's first/after/last/before, checked."""

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None

    @classmethod
    def of(
        cls, first: int | None, after: str | None, last: int | None, before: str | None
    ) -> Slice:
        return cls(
            first=page_size(first, "first"),
            after=ids.cursor_offset(after, field="after") if after else None,
            last=page_size(last, "last"),
            before=ids.cursor_offset(before, field="before") if before else None,
        )

    def window(self, total: int) -> Window:
        lower = self.after + 1 if self.after is not None else 0
        upper = min(self.before, total) if self.before is not None else total
        start, end = lower, upper
        first = self.first if self.first is not None or self.last is not None else MAX_PAGE
        if first is not None:
            end = min(end, start + first)
        if self.last is not None:
            start = max(start, end - self.last)
        return Window(
            start=start,
            end=max(end, start),
            has_previous=self.last is not None and start > lower,
            has_next=first is not None and end < upper,
        )
