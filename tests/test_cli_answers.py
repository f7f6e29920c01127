"""Every command, on a store it cannot use, answers one line that says what to do.

The commands are enumerated from the typer app, so a new one is covered without being listed
here. Each runs through ``patron.cli.main.run``, the function the ``patron`` entry point exits
with; a few run as a separate process too, exactly as a user types them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from patron.cli.main import app, run
from patron.core import migrate

# Commands that create or change a store by design, and one that needs none.
CREATES_A_STORE = {"migrate", "serve", "restore"}
NEEDS_NO_STORE = {"schema"}
# Values for required parameters that pass their own checks, so that the store is what fails.
VALUES = {
    "--name": "Shop",
    "--account": "8f0b2a51-52a4-4a4b-9d1e-3a2f4e7a9c10",
    "--shop": "my-shop.myshopify.com",
    "--token": "shpat_0123456789",
    "--api-key": "pk_0123456789",
}


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a group of commands
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(_leaves(typer.main.get_command(app)))


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def argv(path: tuple[str, ...]) -> list[str]:
    """The command with every required parameter given a plausible value."""
    args = list(path)
    for param in _command(path).params:
        if not param.required:
            continue
        if param.param_type_name == "option":
            args += [param.opts[0], VALUES.get(param.opts[0], "x")]
        else:
            args.append(VALUES["--account"])
    if path == ("serve",):
        args += ["--port", str(_free_port())]
    return args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and an environment without PATRON_* settings."""
    for name in list(os.environ):
        if name.startswith("PATRON_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def answer(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = run(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def test_every_command_is_enumerated() -> None:
    assert {("account", "create"), ("ledger", "verify"), ("outbox", "list")} <= set(COMMANDS)
    assert {("expire",), ("migrate",), ("serve",), ("schema",), ("worker",)} <= set(COMMANDS)


@pytest.mark.parametrize(
    "path", [c for c in COMMANDS if c[0] not in CREATES_A_STORE | NEEDS_NO_STORE], ids=" ".join
)
def test_on_a_missing_store_a_command_says_to_migrate_and_creates_nothing(
    path: tuple[str, ...], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = answer(argv(path), capsys)

    assert code == 1
    assert out == ""
    [line] = err
    assert json.loads(line) == {
        "error": {
            "code": "STORE_MISSING",
            "message": "there is no Patron store at sqlite:///./patron.db: "
            "run `patron migrate --database sqlite:///./patron.db` first",
        }
    }
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "path", [c for c in COMMANDS if c[0] not in CREATES_A_STORE | NEEDS_NO_STORE], ids=" ".join
)
def test_on_a_store_never_migrated_a_command_says_to_migrate_and_changes_nothing(
    path: tuple[str, ...], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite3.connect(folder / "x.db").close()  # an empty file: a store nobody migrated
    url = "sqlite:///x.db"

    code, out, err = answer([*argv(path), "--database", url], capsys)

    assert code == 1
    assert out == ""
    [line] = err
    assert json.loads(line)["error"] == {
        "code": "STORE_NOT_MIGRATED",
        "message": f"the store {url} is not migrated: run `patron migrate --database {url}` first",
    }
    assert [p.name for p in folder.iterdir()] == ["x.db"]
    assert (folder / "x.db").stat().st_size == 0


def test_a_store_behind_this_patron_is_named_with_both_revisions(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "sqlite:///old.db"
    migrate.upgrade(url, "d84d0629595b")  # the first revision only

    code, _, [line] = answer(["account", "list", "--database", url], capsys)

    assert code == 1
    assert json.loads(line)["error"] == {
        "code": "STORE_NOT_MIGRATED",
        "message": f"the store {url} is at revision d84d0629595b, this Patron needs "
        f"{migrate.head_revision()}: run `patron migrate --database {url}` first",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_bad_store_url_is_one_line_naming_the_setting_exit_2(
    path: tuple[str, ...],
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", "mysql://root@localhost/patron")

    code, out, err = answer(argv(path), capsys)

    assert code == 2
    assert out == ""
    assert err == ["patron: PATRON_DATABASE_URL: must start with sqlite:// or postgresql://"]
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("path", [c for c in COMMANDS if c[0] not in NEEDS_NO_STORE], ids=" ".join)
def test_an_unreachable_postgresql_is_one_line_naming_it(
    path: tuple[str, ...],
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = _free_port()  # nothing listens there
    url = f"postgresql://patron:s3cret@127.0.0.1:{closed}/patron"
    monkeypatch.setenv("PATRON_DATABASE_URL", url)

    code, out, err = answer(argv(path), capsys)

    assert code == 1
    assert out == ""
    [line] = err
    error = json.loads(line)["error"]
    assert error["code"] == "STORE_UNREACHABLE"
    assert error["message"].startswith(
        f"cannot reach the store postgresql://patron:***@127.0.0.1:{closed}/patron: "
    )
    assert "Connection refused" in error["message"]
    assert "s3cret" not in line
    assert list(folder.iterdir()) == []


def patron(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_entry_point_on_a_missing_store_leaves_no_file_behind(tmp_path: Path) -> None:
    created = patron(
        "account", "create", "--name", "X", "--database", "sqlite:///x.db", cwd=tmp_path
    )
    listed = patron("account", "list", cwd=tmp_path)

    assert (created.returncode, created.stdout) == (1, "")
    assert json.loads(created.stderr)["error"]["code"] == "STORE_MISSING"
    assert "patron migrate --database sqlite:///x.db" in created.stderr
    assert (listed.returncode, listed.stdout) == (1, "")
    assert "patron migrate --database sqlite:///./patron.db" in listed.stderr
    assert "Traceback" not in created.stderr + listed.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_failure_is_one_line_without_a_traceback(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("something broke\nacross lines")

    monkeypatch.setattr("patron.api.app.printed_schema", broken)

    code, out, err = answer(["schema"], capsys)

    assert (code, out) == (1, "")
    assert [json.loads(line) for line in err] == [
        {
            "error": {
                "code": "INTERNAL",
                "message": "unexpected RuntimeError: something broke across lines",
            }
        }
    ]
