"""The ``patron`` command's entry point: what must happen before its modules load, then the
command (``main``).

A large file import's reading process is started here (``moving.reader.start_early``), so that
it loads its modules while the command loads its own (half a second each)."""

from __future__ import annotations

import sys


def main() -> None:
    from patron.moving import reader

    reader.start_early(sys.argv[1:])
    from patron.cli.main import main as command

    command()
