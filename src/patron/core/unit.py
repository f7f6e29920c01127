"""Running one command as one transaction, with the retries that races make necessary, and
group commit: concurrent commands of one process share one transaction and one COMMIT.

Group commit. A command that arrives while another batch is being written waits; when that
batch is done, every command waiting is written as the next batch: one transaction, each
command in its own SAVEPOINT, one COMMIT (one fsync). Only then is each caller answered,
with its own result or its own error. So nothing is acknowledged before it is durable, a
crash loses only commands that were never answered, and a lone command pays nothing: it
finds no batch running and is written at once (without a savepoint).

A batch is first written straight: its commands one after another, no savepoints. Most
batches commit so, and a command pays no savepoint (on PostgreSQL a savepoint made a
command's round trip a pipeline of two, the largest single cost of a write in the
interpreter). Should any command of it fail, the batch is rolled back whole and written again,
each command in its own SAVEPOINT, as below; the batches after such a failure are written with
savepoints at once (``CAREFUL_BATCHES``), so that a run of failures (a drained hot wallet)
does not pay for each batch twice. A command must therefore be able to run again: it is, after
a failed transaction, in any case.

In a batch with savepoints, a command that fails with a domain error (insufficient credit, a
validation rule) rolls back its savepoint only and raises that error to its caller; the
others commit. A command that
fails in the database (a unique race, a deadlock, a locked SQLite file) is rolled back to its
savepoint and run again on its own, after the batch, exactly as a command without group
commit would have been retried. If the COMMIT itself is refused (a locked SQLite file),
nothing of the batch was written and every command of it is run again on its own; if the
connection breaks at the COMMIT (a failover), the batch may or may not have been written, so
each caller gets that error (a 503) rather than a second run.

A batch runs the commands that name the row they lock first (``lock_key``: a wallet's uuid)
in that key's order, then the others in their order of arrival. Two batches (of two workers)
that move the same wallets then take their locks in the same order, and do not deadlock.
Commands on one wallet keep their order of arrival.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from patron.core import metrics, on_loop
from patron.core.db import (
    Database,
    WriterQueue,
    confirm_refusals,
    confirm_writes,
    defer_savepoint,
    forget_memo,
    is_lock_contention,
    is_store_unavailable,
    is_transaction_conflict,
    is_unique_violation,
    run_sql,
    settle_savepoint,
    write_check,
)
from patron.core.errors import Conflict

T = TypeVar("T")

_ATTEMPTS = 3
# Turns of the event loop a batch of work on it waits for after it is planned (one more than
# a plain ``call_soon``). A turn runs what was ready before it, then what the socket reads of
# that turn started: requests that arrived together get to their commands in the next turn,
# and join the batch instead of each paying its own BEGIN, token read and COMMIT. Measured on
# PostgreSQL with 16 clients: batches of 1-5 commands became 4-12, and a SPEND's server CPU
# fell by a sixth; an idle loop's turns cost microseconds.
_LOOP_TURNS = 1
# How many commands one batch holds at most; the rest wait for the next batch.
DEFAULT_BATCH_LIMIT = 64
# How many batches after one whose commands did not all succeed are written with a savepoint
# for each command at once, rather than straight first.
CAREFUL_BATCHES = 8


def run_command(
    db: Database, command: Callable[[Connection], T], *, lock_key: str | None = None
) -> T:
    """Run ``command`` in one write transaction, shared with concurrent commands of this
    process when ``db`` groups commits (see the module's text). ``lock_key``: the row the
    command locks first (a wallet's uuid), by which a batch orders its commands.

    A unique-key race (two requests creating the same email, or replaying the same
    idempotency key at once) rolls the loser back whole; running it again lets its own
    checks see the winner's committed row and answer as a replay or a clear conflict.
    """
    check = write_check()
    if check is not None:
        command = _checked(check, command)
    group = group_of(db)
    if group is None or _inside.active:
        return _run_alone(db, command)
    if on_loop.active():
        return group.run_on_loop(command, lock_key)
    return group.run(command, lock_key)


def _checked(
    check: Callable[[Connection], None], command: Callable[[Connection], T]
) -> Callable[[Connection], T]:
    """``command`` that first runs its request's write check (``db.confirm_writes``) in its
    own transaction or savepoint: a batch's commands each run theirs."""

    def checked(connection: Connection) -> T:
        check(connection)
        return command(connection)

    return checked


def run_alone(db: Database, command: Callable[[Connection], T]) -> T:
    """Run ``command`` in a transaction of its own, never grouped with others, with the same
    retries: a bulk job's batch, already large, that its caller writes beside others on
    their own connections (an import writes two batches at once on PostgreSQL)."""
    return _run_alone(db, command)


def _run_alone(db: Database, command: Callable[[Connection], T]) -> T:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.write() as connection:
                return command(connection)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            if attempt == _ATTEMPTS:
                raise Conflict("the request conflicts with a concurrent change; retry it") from None
        except OperationalError as error:
            retry = is_lock_contention(error) or is_transaction_conflict(error)
            if not retry or attempt == _ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


class _Inside(threading.local):
    """Set while this thread writes a batch: a command that runs another command (none does
    today) must not wait for the batch it is part of."""

    active = False


_inside = _Inside()

# What a slot's waiter is told to do when woken.
_DONE = "done"
_LEAD = "lead"
_ALONE = "alone"


@dataclass(eq=False)
class _Slot(Generic[T]):
    command: Callable[[Connection], T]
    # What a waiting thread sleeps on (``run``); a command on an event loop waits for its
    # future instead and makes none.
    woken: threading.Event | None = None
    lock_key: str | None = None
    outcome: str = ""
    result: Any = None
    error: BaseException | None = None


def _lock_order(slot: _Slot[Any]) -> tuple[bool, str]:
    """Where a command goes in its batch: those naming the row they lock first, by it (a
    stable sort: one wallet's commands keep their order), then the rest as they came."""
    return (slot.lock_key is None, slot.lock_key or "")


@dataclass
class GroupStats:
    """What group commit has done in this process: for tests and the benchmark."""

    batches: int = 0
    commands: int = 0
    largest: int = 0
    alone_after_batch: int = 0
    on_loop: int = 0  # batches of work on an event loop (``run_on_loop``)
    straight: int = 0  # batches committed without savepoints
    rewritten: int = 0  # batches written again with savepoints after a command failed


class GroupCommit:
    """The batches of one store in one process (see the module's text)."""

    def __init__(self, db: Database, *, limit: int = DEFAULT_BATCH_LIMIT, lanes: int = 1) -> None:
        self._db = db
        self._limit = limit
        self._lanes = lanes
        self._lock = threading.Lock()
        self._waiting: list[_Slot[Any]] = []
        self._writers = 0
        # Commands of work on an event loop (``on_loop``), per loop, for the batch it is
        # about to write: an entry exists while that write is planned.
        self._on_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Slot[Any], Any]]] = {}
        # The loops' batches waiting for SQLite's turn (a task is only weakly held by its loop).
        self._turns: set[asyncio.Task[None]] = set()
        # Batches still to be written with savepoints at once (``CAREFUL_BATCHES``).
        self._careful = 0
        self.stats = GroupStats()

    @property
    def waiting(self) -> int:
        """Commands waiting for the next batch."""
        with self._lock:
            return len(self._waiting)

    def run(self, command: Callable[[Connection], T], lock_key: str | None = None) -> T:
        slot: _Slot[T] = _Slot(command, threading.Event(), lock_key=lock_key)
        with self._lock:
            self._waiting.append(slot)
            lead = self._writers < self._lanes
            if lead:
                self._writers += 1
        if not lead:
            assert slot.woken is not None
            slot.woken.wait()
            if slot.outcome == _LEAD:
                slot.outcome = ""
                lead = True
        if lead:
            self._lead(slot)
        if slot.outcome == _ALONE:
            return _run_alone(self._db, command)
        if slot.error is not None:
            raise slot.error
        result: T = slot.result
        return result

    def run_on_loop(self, command: Callable[[Connection], T], lock_key: str | None = None) -> T:
        """``run`` for work on the event loop (``on_loop.run``): the command waits for the
        loop's next batch while the loop goes on. That batch is written once the loop has
        let every request already in hand reach its own command (``_LOOP_TURNS``): all of
        them share it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending = self._on_loop.get(loop)
        if pending is None:
            pending = self._on_loop[loop] = []
            loop.call_soon(self._plan_on_loop, loop, _LOOP_TURNS)
        pending.append((_Slot(command, lock_key=lock_key), future))
        return on_loop.wait(future)

    def _plan_on_loop(self, loop: asyncio.AbstractEventLoop, turns: int) -> None:
        """Write the loop's batch after ``turns`` more turns of the loop: a request whose
        bytes the loop read in the turn that planned it reaches its own command first."""
        if turns > 0:
            loop.call_soon(self._plan_on_loop, loop, turns - 1)
            return
        queue = self._db.writer_queue
        if queue is None:
            self._write_on_loop(loop)
        elif queue.take_nowait():
            try:
                self._write_on_loop(loop)
            finally:
                queue.give_back()
        else:
            # Another writer has SQLite's turn: the batch stays open (commands that arrive
            # meanwhile join it) until the loop has the turn.
            task = loop.create_task(self._write_in_turn(loop, queue))
            self._turns.add(task)
            task.add_done_callback(self._turns.discard)

    async def _write_in_turn(self, loop: asyncio.AbstractEventLoop, queue: WriterQueue) -> None:
        try:
            await queue.take()
        except BaseException as error:
            for _slot, future in self._on_loop.pop(loop, []):
                if not future.done():
                    future.set_exception(error)
            raise
        try:
            self._write_on_loop(loop)
        finally:
            queue.give_back()

    def _write_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop's batch (a callback of the loop, on its thread): written as ``run``
        writes one, then each command's future is given its result or its error."""
        pending = self._on_loop.pop(loop, [])
        self.stats.on_loop += 1
        # The batch's transaction is no one request's: each command runs its own check. (A
        # callback runs in a copy of the context that planned it: this stays here.)
        confirm_writes(None)
        confirm_refusals(None)
        try:
            for start in range(0, len(pending), self._limit):
                chunk = pending[start : start + self._limit]
                self._write([slot for slot, _future in chunk])
                for slot, future in chunk:
                    if slot.outcome == _ALONE:
                        try:
                            slot.result, slot.error = _run_alone(self._db, slot.command), None
                        except Exception as error:  # the command's own answer
                            slot.error = error
                    if future.done():  # its request was cancelled
                        continue
                    if slot.error is not None:
                        future.set_exception(slot.error)
                    else:
                        future.set_result(slot.result)
        except BaseException as error:
            for _slot, future in pending:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise

    def _lead(self, own: _Slot[Any]) -> None:
        """Write ``own`` command and what else waits as one batch, answer each, then hand
        the lane on."""
        with self._lock:
            if own in self._waiting:
                self._waiting.remove(own)
            batch = [own, *self._waiting[: self._limit - 1]]
            del self._waiting[: self._limit - 1]
        try:
            self._write(batch)
        finally:
            with self._lock:
                # The first command waiting takes this lane on (the count stays); else the
                # lane is free.
                successor = self._waiting.pop(0) if self._waiting else None
                if successor is None:
                    self._writers -= 1
            for slot in batch:
                if not slot.outcome:
                    slot.outcome = _ALONE
                if slot.woken is not None:
                    slot.woken.set()
            if successor is not None:
                successor.outcome = _LEAD
                assert successor.woken is not None
                successor.woken.set()

    def _write(self, batch: list[_Slot[Any]]) -> None:
        if len(batch) == 1:
            # Alone: no savepoint, and the retries of a command without group commit. It
            # keeps the lead meanwhile, so that what arrives now waits to form a batch.
            slot = batch[0]
            try:
                slot.result = _run_alone(self._db, slot.command)
            except Exception as error:  # the command's own answer
                slot.error = error
            slot.outcome = _DONE
            return
        ordered = sorted(batch, key=_lock_order)
        stats = self.stats
        _inside.active = True
        try:
            if self._careful > 0:
                self._careful -= 1
                self._write_with_savepoints(ordered)
            elif self._write_straight(ordered):
                stats.straight += 1
            else:
                stats.rewritten += 1
                self._careful = CAREFUL_BATCHES
                self._write_with_savepoints(ordered)
        finally:
            _inside.active = False
        stats.batches += 1
        stats.commands += len(batch)
        stats.largest = max(stats.largest, len(batch))
        stats.alone_after_batch += sum(1 for slot in batch if slot.outcome == _ALONE)

    def _write_straight(self, batch: list[_Slot[Any]]) -> bool:
        """The batch in one transaction without savepoints. False, with nothing written and
        no slot touched, if one of its commands failed."""
        results: list[Any] = []
        try:
            with self._db.write() as connection:
                for slot in batch:
                    try:
                        results.append(slot.command(connection))
                    except Exception:
                        raise _CommandFailed from None
        except _CommandFailed:
            return False
        except BaseException as error:
            self._settle_commit_failure(batch, error)
            if not isinstance(error, Exception):
                raise
            return True
        for slot, result in zip(batch, results, strict=True):
            slot.outcome, slot.result = _DONE, result
        return True

    def _write_with_savepoints(self, batch: list[_Slot[Any]]) -> None:
        """The batch in one transaction, each command in its own savepoint."""
        try:
            with self._db.write() as connection:
                for position, slot in enumerate(batch):
                    _write_one(connection, slot, position)
                    if slot.outcome != _DONE or slot.error is not None:
                        self._careful = CAREFUL_BATCHES
        except BaseException as error:
            self._settle_commit_failure(batch, error)
            if not isinstance(error, Exception):
                raise

    @staticmethod
    def _settle_commit_failure(batch: list[_Slot[Any]], error: BaseException) -> None:
        """What each command of a batch whose transaction failed as a whole is told."""
        if _commit_in_doubt(error):
            # The server went away at the COMMIT (a failover): the batch may be on the new
            # primary or not. Running it again could apply it twice, so each caller gets
            # the error (a 503) and retries with its idempotency key, as the caller of a
            # lone command does.
            for slot in batch:
                slot.outcome, slot.result, slot.error = _DONE, None, error
        else:
            # The COMMIT failed before anything was written (a locked SQLite file, a
            # connection already broken by a statement): run each command again alone.
            for slot in batch:
                slot.outcome, slot.result, slot.error = _ALONE, None, None


class _CommandFailed(Exception):
    """A command of a batch written straight failed: the batch's transaction is rolled back."""


def _commit_in_doubt(error: BaseException) -> bool:
    """A driver error that breaks the connection may come after the server wrote the COMMIT;
    a lock refused (SQLite) or an error SQLAlchemy raises itself (a connection invalidated by
    an earlier statement) means it was never written."""
    return (
        isinstance(error, DBAPIError)
        and is_store_unavailable(error)
        and not is_lock_contention(error)
    )


# A command's savepoint, never released: the batch's COMMIT ends them all. One statement a
# command instead of two (SAVEPOINT, RELEASE); on PostgreSQL it goes with the command's first
# statement (``defer_savepoint``), so a command that sends one statement pays one round trip.
# Each command of a batch has a name of its own: should a savepoint not have been made (its
# statement failed), rolling back to it fails the batch rather than going back to another
# command's savepoint and losing that command's writes.
_SAVEPOINT = "patron_command_{}"


def _write_one(connection: Connection, slot: _Slot[Any], position: int) -> None:
    """One command in its own savepoint; its error is its own."""
    name = _SAVEPOINT.format(position)
    defer_savepoint(connection, name)
    # (The savepoint is SQL of ours, which SQLAlchemy's savepoint events do not see: the
    # ledger entries the command counted for the metrics are forgotten here if it fails.)
    counted = metrics.pending_mark(connection)
    try:
        slot.result = slot.command(connection)
        slot.outcome = _DONE
    except SQLAlchemyError:
        # Rolled back to its savepoint; run again on its own after the batch, as a command
        # without group commit would have been after its transaction failed.
        _roll_back_to(connection, name)
        metrics.back_to_mark(connection, counted)
        slot.outcome = _ALONE
    except Exception as error:  # a domain error: the command's own answer
        _roll_back_to(connection, name)
        metrics.back_to_mark(connection, counted)
        slot.outcome, slot.error = _DONE, error
    finally:
        settle_savepoint(connection)


def _roll_back_to(connection: Connection, name: str) -> None:
    """Undo what the command wrote: nothing, if its savepoint was never sent (it failed
    before its first statement)."""
    if not settle_savepoint(connection):
        run_sql(connection, f"ROLLBACK TO SAVEPOINT {name}")
    forget_memo(connection)


_groups: weakref.WeakKeyDictionary[Database, GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def group_of(db: Database) -> GroupCommit | None:
    """The batches of ``db`` in this process, or None when it writes each command alone."""
    limit = db.group_commit
    if limit <= 1:
        return None
    group = _groups.get(db)
    if group is None:
        with _groups_lock:
            group = _groups.get(db)
            if group is None:
                group = _groups[db] = GroupCommit(db, limit=limit, lanes=db.group_lanes)
    return group


def group_stats(db: Database) -> GroupStats:
    """The group-commit figures of ``db`` in this process (zeros when it does not group)."""
    group = _groups.get(db)
    return group.stats if group is not None else GroupStats()
