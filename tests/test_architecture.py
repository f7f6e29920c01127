"""Dependencies point one way: only the API and CLI adapters know of web or GraphQL libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "patron"

# Top-level packages that belong to the transport adapters, never to the domain.
WEB_AND_GRAPHQL = frozenset({"strawberry", "graphql", "starlette", "uvicorn", "httpx", "fastapi"})
ADAPTERS = ("api", "cli")
# ``python -m patron`` starts the CLI: the one module outside the adapters allowed to.
ENTRY_POINT = "__main__.py"
# Packages that talk to other systems, and the one client library each may use for it.
ALLOWED = {"integrations": frozenset({"httpx"})}


def imported_modules(source: str, package: str = "patron") -> list[str]:
    """Every module a piece of Python source imports, wherever the import sits.

    Relative imports are resolved against ``package``; ``from x import y`` counts as both
    ``x`` and ``x.y``, since ``y`` may be a module.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
            else:
                base = []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def forbidden_imports(source: str, package: str = "patron.customers") -> list[str]:
    return [
        module
        for module in imported_modules(source, package)
        if module.split(".")[0] in WEB_AND_GRAPHQL
        or module in {"patron.api", "patron.cli"}
        or module.startswith(("patron.api.", "patron.cli."))
    ]


def package_of(path: Path) -> str:
    """The package a module's relative imports start from (its own, for an __init__)."""
    return ".".join(path.relative_to(SOURCE.parent).parent.parts)


def domain_modules() -> list[Path]:
    modules = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative.parts[0] not in ADAPTERS and relative.parts != (ENTRY_POINT,):
            modules.append(path)
    return modules


def allowed_for(path: Path) -> frozenset[str]:
    return ALLOWED.get(path.relative_to(SOURCE).parts[0], frozenset())


def test_the_domain_imports_no_web_or_graphql_library_nor_an_adapter() -> None:
    offenders = {
        str(path.relative_to(SOURCE.parent)): problems
        for path in domain_modules()
        if (
            problems := [
                module
                for module in forbidden_imports(path.read_text(encoding="utf-8"), package_of(path))
                if module.split(".")[0] not in allowed_for(path)
            ]
        )
    }

    assert offenders == {}


def test_the_check_sees_the_domain_packages() -> None:
    packages = {path.relative_to(SOURCE).parts[0] for path in domain_modules()}

    assert {"core", "accounts", "customers", "wallets"} <= packages
    assert not packages & set(ADAPTERS)


@pytest.mark.parametrize(
    "source",
    [
        "import strawberry",
        "import graphql.language",
        "from starlette.requests import Request",
        "import uvicorn as server",
        "def later():\n    import httpx\n",
        "try:\n    from fastapi import FastAPI\nexcept ImportError:\n    pass\n",
        "from patron.api.graphql import schema",
        "from patron.cli.main import app",
        "import importlib\nimportlib.import_module('strawberry.types')",
        "from ..api.graphql import context",
        "from .. import api",
        "from patron import cli",
    ],
)
def test_the_check_catches_each_kind_of_forbidden_import(source: str) -> None:
    assert forbidden_imports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy",
        "from patron.core.errors import NotFound",
        "from . import tables",
        "import graphqlish",
        "from patron.apiary import bees",
        "from patron.client import session",
    ],
)
def test_the_check_allows_what_the_domain_may_use(source: str) -> None:
    assert forbidden_imports(source) == []
