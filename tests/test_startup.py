"""``patron serve`` as an operator starts it: settings, production mode, the port, GraphiQL.

Each test starts the real entry point as its own process on a fresh SQLite store.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, wait_until_up

JWT_SECRET = "k" * 48
PRODUCTION = {"PATRON_ENVIRONMENT": "production", "PATRON_JWT_SECRET": JWT_SECRET}


def environment(**given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env.update(given)
    return env


def patron(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Serving:
    """``patron serve --workers 1`` in the background; its output kept in a file."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output = folder / "serve.out"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "patron", "serve", "--port", str(self.port)),
                    *("--workers", "1", "--database", "sqlite:///store.db"),
                ],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(self.base_url, timeout=60)

    def stop(self) -> str:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)
        return self.output.read_text()


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[Serving]]:
    started: list[Serving] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


def test_production_without_a_jwt_secret_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = patron("serve", cwd=tmp_path, env=environment(PATRON_ENVIRONMENT="production"))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "patron: PATRON_JWT_SECRET must be a random value of at least 32 characters "
        "(PATRON_ENVIRONMENT is 'production'); generate one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_every_settings_problem_is_one_line_naming_its_variable(tmp_path: Path) -> None:
    env = environment(
        PATRON_ENVIRONMENT="production",
        PATRON_JWT_SECRET="changeme",
        PATRON_PORT="http",
        PATRON_MAX_ALIASES="0",
        PATRON_SECRET_KEY="short",
    )

    result = patron("serve", cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "patron: PATRON_PORT: input should be a valid integer, unable to parse string as an "
        "integer",
        "patron: PATRON_MAX_ALIASES: input should be greater than or equal to 1",
        "patron: PATRON_JWT_SECRET must be a random value of at least 32 characters "
        "(PATRON_ENVIRONMENT is 'production'); generate one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
        "patron: PATRON_SECRET_KEY: must be a random value of at least 32 characters",
    ]
    assert "changeme" not in result.stderr
    assert "short" not in result.stderr


def test_development_settings_problems_exit_2_too(tmp_path: Path) -> None:
    result = patron("serve", cwd=tmp_path, env=environment(PATRON_ENVIRONMENT="prod"))

    assert (result.returncode, result.stderr) == (
        2,
        "patron: PATRON_ENVIRONMENT: must be development or production\n",
    )


def test_production_creates_no_account_prints_no_token_and_serves_no_graphiql(
    tmp_path: Path, serving: list[Serving]
) -> None:
    server = Serving(tmp_path, environment(**PRODUCTION))
    serving.append(server)

    page = httpx.get(f"{server.base_url}/graphql")
    asset = httpx.get(f"{server.base_url}/graphql/static/graphiql-3.8.3.min.js")
    output = server.stop()

    assert page.status_code == 405
    assert asset.status_code == 404
    assert "No account yet: create one with  patron account create --name NAME" in output
    assert "GraphiQL off (PATRON_GRAPHIQL=true turns it on)" in output
    assert "patron_" not in output
    assert "Traceback" not in output
    with sqlite3.connect(tmp_path / "store.db") as connection:
        assert connection.execute("SELECT count(*) FROM accounts").fetchone() == (0,)


def test_production_serves_graphiql_when_the_setting_enables_it(
    tmp_path: Path, serving: list[Serving]
) -> None:
    server = Serving(tmp_path, environment(**PRODUCTION, PATRON_GRAPHIQL="true"))
    serving.append(server)

    page = httpx.get(f"{server.base_url}/graphql")
    output = server.stop()

    assert page.status_code == 200
    assert "GraphiQL at /graphql" in output


def test_development_creates_the_default_account_once_and_says_so(
    tmp_path: Path, serving: list[Serving]
) -> None:
    first = Serving(tmp_path, environment())
    serving.append(first)
    first_output = first.stop()
    second = Serving(tmp_path, environment())
    serving.append(second)
    second_output = second.stop()

    [token] = set(re.findall(r"patron_[A-Za-z0-9_-]{20,}", first_output))
    assert "Created the account 'default'" in first_output
    assert token not in second_output
    assert "patron token create --account <uuid>" in second_output


def test_a_busy_port_is_one_line_before_anything_is_announced_or_created(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = patron(
            "serve",
            "--port",
            str(port),
            "--database",
            "sqlite:///store.db",
            cwd=tmp_path,
            env=environment(),
        )

    assert result.returncode == 1
    assert result.stdout == ""
    assert json.loads(result.stderr) == {
        "error": {
            "code": "ADDRESS_UNAVAILABLE",
            "message": f"cannot listen on 127.0.0.1:{port}: address already in use "
            "(another server is using it; choose another with --port)",
        }
    }
    assert list(tmp_path.iterdir()) == []


def test_a_served_worker_keeps_its_startup_objects_out_of_the_collectors_sight(
    tmp_path: Path,
) -> None:
    """``patron serve``'s factory freezes what building the application left (``gc.freeze``):
    a full collection in the middle of requests walks only what requests left behind."""
    probe = (
        "import gc; from patron.api.app import served_app; app = served_app(); "
        "print(gc.get_freeze_count(), sum(gc.get_count()))"
    )
    env = environment(PATRON_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}")
    assert patron("migrate", cwd=tmp_path, env=env).returncode == 0
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = (int(part) for part in done.stdout.split())
    assert frozen > 50_000  # the schema, the tables, the statements
    assert tracked < 1_000  # nothing left for the collector's next pass
