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
ALLOWED = {"integrations": frozenset({"httpx"}), "moving": frozenset({"httpx"})}


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


# Front doors: another package calls a domain's ``service`` or one named in-transaction module
# (``wallets/postings.py``), never its ``repository`` or ``tables``. The metadata that Alembic
# reads is assembled above every domain, in ``patron/tables.py``: it alone imports them all.
PRIVATE_MODULES = ("repository", "tables")
METADATA_ASSEMBLY = "tables.py"
MAX_MODULE_LINES = 800

# (importing module, imported module) -> why it is still allowed. This list may only shrink,
# and it is empty: a reach another domain needs becomes a function of that domain's front door
# (a service function, or a subquery from its ``subqueries`` module), not an entry here.
FRONT_DOOR_EXCEPTIONS: dict[tuple[str, str], str] = {}


def top_package(module: str) -> str | None:
    """The top-level package of ``patron.<package>...``, or None outside patron."""
    parts = module.split(".")
    if parts[0] != "patron" or len(parts) < 3:
        return None
    return parts[1]


def is_private(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return any(last == name or last.endswith(f"_{name}") for name in PRIVATE_MODULES)


def reaches_behind_front_doors(source: str, package: str) -> list[str]:
    """What ``source``, a module of ``package``, imports from behind another domain's door."""
    own = package.split(".")[1] if package.count(".") else None
    return sorted(
        {
            module
            for module in imported_modules(source, package)
            if is_private(module) and top_package(module) not in {None, own}
        }
    )


def all_modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def name_of(path: Path) -> str:
    return str(path.relative_to(SOURCE))


def test_no_package_reaches_into_another_domains_repository_or_tables() -> None:
    found = {
        (name_of(path), module)
        for path in all_modules()
        if name_of(path) != METADATA_ASSEMBLY
        for module in reaches_behind_front_doors(path.read_text(encoding="utf-8"), package_of(path))
    }

    assert sorted(found - FRONT_DOOR_EXCEPTIONS.keys()) == [], "new reach behind a front door"
    assert sorted(FRONT_DOOR_EXCEPTIONS.keys() - found) == [], "stale allow-list entry: remove it"


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("from patron.wallets import repository", "patron.orders"),
        ("from patron.wallets.tables import wallets", "patron.orders"),
        ("from patron.wallets.lot_tables import credit_lots", "patron.orders.promotions"),
        ("import patron.customers.repository as customers", "patron.api.graphql"),
        ("from ..customers.tables import customers", "patron.contact_persons"),
        ("from patron.integrations.shopify.tables import x", "patron.wallets"),
    ],
)
def test_the_front_door_check_catches_a_reach_behind_one(source: str, package: str) -> None:
    assert reaches_behind_front_doors(source, package) != []


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("from patron.wallets import postings, service", "patron.orders"),
        ("from patron.wallets.models import Reason", "patron.api.graphql"),
        ("from . import repository", "patron.orders"),
        ("from patron.orders.tables import orders", "patron.orders.promotions"),
        ("from .tables import stores", "patron.orders"),
        ("from patron.integrations.shopify.tables import x", "patron.integrations.outbox"),
    ],
)
def test_the_front_door_check_allows_the_doors_and_the_own_package(
    source: str, package: str
) -> None:
    assert reaches_behind_front_doors(source, package) == []


def package_graph() -> dict[str, set[str]]:
    """Which top-level package under src/patron imports which other."""
    graph: dict[str, set[str]] = {}
    for path in all_modules():
        relative = path.relative_to(SOURCE)
        if len(relative.parts) == 1:  # a module at the top (tables.py) is no package
            continue
        own = relative.parts[0]
        for module in imported_modules(path.read_text(encoding="utf-8"), package_of(path)):
            parts = module.split(".")
            other = parts[1] if parts[0] == "patron" and len(parts) > 1 else None
            if other and other != own and (SOURCE / other).is_dir():
                graph.setdefault(own, set()).add(other)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_packages_depend_on_each_other_one_way() -> None:
    assert cycles(package_graph()) == []


def test_the_cycle_check_finds_a_loop_however_long() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}

    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"core": set(), "orders": {"core"}}) == []


def test_no_module_grows_past_800_lines() -> None:
    long = {
        name_of(path): lines
        for path in all_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }

    assert long == {}
