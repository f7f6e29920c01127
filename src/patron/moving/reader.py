"""Starting a file import's reading process (``ahead``), early when the command is an import.

The reader spends about half a second loading its modules before it reads a row. Started by
``ahead.chunks`` it would make the import wait that long for its first batch; the ``patron``
command therefore starts it first thing when it is asked to import a large file
(``start_early``), so that it loads while the command loads its own, and ``ahead.chunks``
takes the process already started (``take``) and hands it its arguments. One the import
does not use (a small file after all, an error before the import, ``--help``) is stopped at
exit. This module imports nothing of Patron's: the command reaches it before anything else.

Either way the reader waits for its arguments on stdin and writes its chunks to stdout; it
runs in a session of its own (Ctrl-C reaches the importing process only), and it ends when
its pipes close, so it never outlives the command, however that ends (kill -9 included).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# A file this large holds ``ahead.AHEAD_ROWS`` rows or more of a few dozen bytes each: worth
# starting the reader for before the command knows (a smaller one costs a start for nothing).
EARLY_BYTES = 256 * 1024
# The pipe the chunks come through (a chunk of 1,000 rows is about 1.7 MB): Linux's largest
# for any user, so that a chunk is handed over in two reads, not in the default 64 KB pieces.
PIPE_BYTES = 1024 * 1024

# The reader started early, until the import takes it (at most one).
_started: list[subprocess.Popen[bytes]] = []


def spawn() -> subprocess.Popen[bytes]:
    """A reading process, loading its modules, then waiting for its arguments on stdin."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from patron.moving import ahead; ahead.reader_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if setting is not None:
        # Under a lower system limit the default pipe works, in more pieces.
        with contextlib.suppress(OSError):
            fcntl.fcntl(process.stdout.fileno(), setting, PIPE_BYTES)
    return process


def start_early(argv: Sequence[str]) -> None:
    """Start the reader now if ``argv`` (the command's arguments) imports a large file."""
    if _started or list(argv[:2]) != ["import", "contacts"] or "--help" in argv:
        return
    if not any(_large(argument) for argument in argv[2:]):
        return
    _started.append(spawn())
    atexit.register(_stop_unused)


def take() -> subprocess.Popen[bytes] | None:
    """The reader ``start_early`` started, once (None: there is none, or it was taken)."""
    return _started.pop() if _started else None


def _large(argument: str) -> bool:
    if argument.startswith("-"):
        return False
    try:
        return Path(argument).stat().st_size >= EARLY_BYTES
    except (OSError, ValueError):
        return False


def _stop_unused() -> None:
    process = take()
    if process is None:
        return
    if process.stdin is not None:
        process.stdin.close()
    if process.stdout is not None:
        process.stdout.close()
    process.terminate()
    process.wait(10)
