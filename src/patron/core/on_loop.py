"""Synchronous request code run on the event loop, leaving it only where it waits.

A request's work is ordinary blocking code (the services, the ledger). ``run`` runs it in a
greenlet on the event loop's own thread; where that code would wait for something other
requests bring about (its command's turn in a group commit), it calls ``wait``, which hands
an awaitable to the loop and resumes when it is done. Meanwhile the loop serves other
requests. The database's own round trips still block the loop, as the known reads' do: on a
local network they cost less than a hand-off to a thread and back.

The bridge is the one greenlet-based libraries use (SQLAlchemy's asyncio support, for one):
the work runs in a child greenlet of the task's; ``wait`` switches to the parent with the
awaitable, the parent awaits it and switches back with its result or its exception.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import greenlet

T = TypeVar("T")


class _Work(greenlet.greenlet):
    """A request's work, run on the event loop by ``run``."""

    def __init__(self, fn: Callable[..., Any], parent: greenlet.greenlet) -> None:
        super().__init__(fn, parent)
        # The work sees the context variables of the task that runs it (greenlets have
        # their own otherwise).
        self.gr_context = parent.gr_context


def active() -> bool:
    """Whether this code runs inside ``run`` on the event loop (and may ``wait``)."""
    return isinstance(greenlet.getcurrent(), _Work)


def wait(awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``, awaited by the event loop while this work is paused.
    Only inside ``run``."""
    current = greenlet.getcurrent()
    parent = current.parent if isinstance(current, _Work) else None
    if parent is None:
        raise RuntimeError("on_loop.wait outside on_loop.run")
    return cast(T, parent.switch(awaitable))


async def run(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on this event loop's thread; its ``wait`` calls let the loop go on."""
    work = _Work(fn, greenlet.getcurrent())
    result: Any = work.switch(*args)
    while not work.dead:
        try:
            value = await result
        except BaseException:
            result = work.throw(*sys.exc_info())
        else:
            result = work.switch(value)
    return cast(T, result)
