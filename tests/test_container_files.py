"""The Dockerfile and compose.yaml, read statically (no container engine runs in the tests):
they parse, name commands and settings Patron has, and check a health path the app serves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer
import yaml
from starlette.routing import Route

from patron.api.app import create_app
from patron.cli.main import app as cli
from patron.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def commands() -> set[str]:
    return set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]


def test_the_image_is_built_in_stages_and_runs_as_a_user_not_root() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert any(stage.endswith("AS build") for stage in stages)
    assert instructions("COPY")[-1].startswith("--from=build") or any(
        copy.startswith("--from=build") for copy in instructions("COPY")
    )
    [user] = instructions("USER")
    assert user.strip() not in {"root", "0"}
    assert "useradd" in DOCKERFILE


def test_the_image_starts_patron_serve_and_checks_a_health_path_the_app_serves(
    tmp_path: Path,
) -> None:
    assert instructions("ENTRYPOINT") == ['["patron"]']
    assert instructions("CMD") == ['["serve"]']
    [healthcheck] = instructions("HEALTHCHECK")
    [path] = re.findall(r"http://127\.0\.0\.1:8080(/\w+)", healthcheck)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}"))
    served = {route.path for route in app.routes if isinstance(route, Route)}
    assert path == "/healthz"
    assert path in served
    assert "PATRON_PORT=8080" in DOCKERFILE


def test_compose_migrates_once_then_serves_and_works_on_postgresql() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "migrate", "patron", "worker"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["patron"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    for name in ("patron", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    used = {services[name]["command"][0] for name in ("migrate", "patron", "worker")}
    assert used <= commands()


def test_compose_sets_only_settings_patron_has_and_publishes_no_metrics_port() -> None:
    environment = COMPOSE["services"]["patron"]["environment"]
    known = {f"PATRON_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= known
    assert environment["PATRON_DATABASE_URL"].startswith("postgresql://")
    assert environment["PATRON_ENVIRONMENT"] == "production"
    published = [shlex.split(port)[0] for port in COMPOSE["services"]["patron"]["ports"]]
    assert published == ["8080:8080"]
    assert not any(
        "9464" in port
        for service in COMPOSE["services"].values()
        for port in service.get("ports", [])
    )
