"""The house rules of docs/architecture.md, checked on the code itself: compile time never imports
run time, the core names no capability, and both halves of every capability agree."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from dbs import demo_spec

from ecospec.generator.access import Access
from ecospec.generator.api import SchemaBuilder
from ecospec.generator.capabilities import API_PARTS
from ecospec.runtime.capabilities import CAPABILITIES
from ecospec.runtime.capability import handlers_of
from ecospec.runtime.catalog import build_catalog

PACKAGE = Path(__file__).resolve().parent.parent / "ecospec"
# The core: what every capability plugs into, and which must name none of them.
CORE = [
    "generator/api.py",
    "generator/apitypes.py",
    "runtime/execution.py",
    "runtime/documents.py",
    "runtime/compiler.py",
    "runtime/permissions.py",
    "runtime/writes.py",
    "runtime/records.py",
    "runtime/bus.py",
    "runtime/ecosystem.py",
    "runtime/endpoint.py",
    "runtime/app.py",
    "runtime/migrate.py",
    "runtime/system.py",
    "runtime/types.py",
    "runtime/capability.py",
]


def modules(folder: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def strings(tree: ast.Module) -> set[str]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def capability_fields() -> set[str]:
    """Every root field a capability adds to the demo's whole API."""
    builder = SchemaBuilder(demo_spec(), Access.full(demo_spec()))
    names: set[str] = set()
    for part in API_PARTS:
        added = part.fields(builder)
        names |= set(added.query) | set(added.mutation)
    return names


def test_compile_time_never_imports_run_time() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path, tree in modules(PACKAGE / "generator")
        for name in imported(tree)
        if name == "ecospec.runtime" or name.startswith("ecospec.runtime.")
    ]
    assert found == []


def test_the_core_imports_no_capability() -> None:
    allowed = {"runtime/ecosystem.py", "runtime/app.py", "runtime/migrate.py", "generator/api.py"}
    found = [
        f"{name}: {module}"
        for name in CORE
        for module in imported(ast.parse((PACKAGE / name).read_text(encoding="utf-8")))
        if ".capabilities" in module and not (name in allowed and module.endswith("capabilities"))
    ]
    assert found == []


def test_the_core_names_no_capability_field() -> None:
    fields = capability_fields()
    assert {"auditLog", "webhookDeliveries", "redeliverWebhook"} <= fields
    found = {
        name: sorted(fields & strings(ast.parse((PACKAGE / name).read_text(encoding="utf-8"))))
        for name in CORE
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_every_capability_field_has_a_handler_and_every_handler_a_field() -> None:
    spec = demo_spec()
    builder = SchemaBuilder(spec, Access.full(spec))
    queries: set[str] = set()
    mutations: set[str] = set()
    for part in API_PARTS:
        added = part.fields(builder)
        queries |= set(added.query)
        mutations |= set(added.mutation)
    handlers = handlers_of(CAPABILITIES, build_catalog(spec))
    assert set(handlers.reads) == queries
    assert set(handlers.writes) == mutations


def test_capability_names_are_unique() -> None:
    runtime = [c.name for c in CAPABILITIES]
    compile_time = [p.name for p in API_PARTS]
    assert len(set(runtime)) == len(runtime)
    assert len(set(compile_time)) == len(compile_time)
    assert set(compile_time) <= set(runtime)
