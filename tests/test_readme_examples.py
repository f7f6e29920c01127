"""The README's curl examples run as printed: the tour and the LoyaltyDish sign-up and login."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import ThreadServer
from tests.support.tenants import Tenant

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BASE = "http://127.0.0.1:8080"


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def curls(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Each ``curl`` of the ``sh`` blocks of ``text``: its path, headers and body."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        words = shlex.split(block, comments=True)
        starts = [index for index, word in enumerate(words) if word == "curl"]
        for start in starts:
            path, headers, body = "", {}, ""
            index = start + 1
            while index < len(words) and words[index] not in {"curl", "export", "make"}:
                word = words[index]
                if word.startswith(BASE):
                    path = word.removeprefix(BASE)
                elif word == "-H":
                    name, _, value = words[index + 1].partition(": ")
                    headers[name] = value
                    index += 1
                elif word == "-d":
                    body = words[index + 1]
                    index += 1
                index += 1
            found.append((path, headers, body))
    return found


def send(
    server: ThreadServer, call: tuple[str, dict[str, str], str], values: dict[str, str]
) -> Any:
    path, headers, body = call
    for name, value in values.items():
        path = path.replace(name, value)
        body = body.replace(name, value)
        headers = {key: text.replace(name, value) for key, text in headers.items()}
    response = httpx.post(f"{server.base_url}{path}", headers=headers, content=body)
    assert response.status_code == 200, response.text
    answer = json.loads(response.text)
    assert "errors" not in answer, answer
    return answer["data"]


def test_the_tour_runs_as_printed_and_asks_for_no_unconnected_service(
    server: ThreadServer, tenant: Tenant
) -> None:
    create, add, read = curls(section("A five-minute tour"))
    values = {"$TOKEN": tenant.token}

    created = send(server, create, values)["createContact"]
    wallet = created["contact"]["wallet"]["uuid"]
    added = send(server, add, {**values, "WALLET-UUID": wallet})["addCreditEntry"]
    [contact] = send(server, read, values)["account"]["contacts"]

    assert created["success"] is True
    assert "connectedServices" not in create[2]
    assert added["success"] is True
    assert contact["wallet"]["globalCreditBalance"] == 25.0


def test_the_loyaltydish_example_signs_up_logs_in_and_reads_its_points(
    server: ThreadServer, tenant: Tenant
) -> None:
    register, login, me = curls(section("LoyaltyDish API"))
    values = {"$ACCOUNT": tenant.uuid}

    registered = send(server, register, values)["register"]
    logged_in = send(server, login, values)["obtainToken"]
    mine = send(server, me, {"$ACCESS": logged_in["token"]})["me"]

    assert (registered["success"], registered["errors"]) == (True, None)
    assert (logged_in["success"], logged_in["errors"]) == (True, None)
    assert registered["token"]
    assert logged_in["refreshToken"]
    assert mine["pointsEarned"] == 0
