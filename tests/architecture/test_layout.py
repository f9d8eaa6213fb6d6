"""The house rules that imports obey: one way from capabilities to the client to the core, no circle,
no private name of another package, and nothing loaded that a program does not use."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("higgsfield_proto", "higgsfield_transports", "higgsfield_client")
VALUE_MODULES = ("higgsfield_client._statuses", "higgsfield_client._outputs")
CAPABILITIES = ("agents", "batch", "ray", "webhooks", "testing", "cli", "models", "mcp")
# The official package's module layout: adapters over the core client, like a capability.
OFFICIAL_MODULES = ("exceptions", "http", "types_", "auth", "utils", "mixins")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def imports_of(
    name: str, path: Path, *, module_level_only: bool, for_type_checkers: bool = True
) -> Iterator[Tuple[str, int]]:
    """Each module ``name`` imports (with the line), named in full: ``from . import x`` gives the
    submodule ``x`` when there is one. ``for_type_checkers=False`` leaves out the imports under
    ``if TYPE_CHECKING:``, which never run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    known = modules()

    def visit(nodes: List[ast.stmt]) -> Iterator[Tuple[str, int]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno
            elif isinstance(node, ast.ImportFrom):
                target = resolve(name, is_package, node)
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    yield (submodule if submodule in known else target), node.lineno
            elif is_type_checking(node) and not for_type_checkers:
                continue
            elif isinstance(node, (ast.If, ast.Try)):
                # module level, under `if TYPE_CHECKING:` or `try:` too
                for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    yield from visit(block)
                for handler in getattr(node, "handlers", []):
                    yield from visit(handler.body)
            elif not module_level_only:
                inner = [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
                yield from visit(inner)

    yield from visit(tree.body)


def graph(*, module_level_only: bool, for_type_checkers: bool = True) -> Dict[str, Set[str]]:
    known = modules()
    edges: Dict[str, Set[str]] = {}
    for name, path in known.items():
        imported = imports_of(
            name, path, module_level_only=module_level_only, for_type_checkers=for_type_checkers
        )
        edges[name] = {
            target
            for target, _ in imported
            if target in known and target != name
        }
    return edges


def find_cycle(edges: Dict[str, Set[str]]) -> List[str]:
    state: Dict[str, int] = {}
    stack: List[str] = []

    def walk(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                found = walk(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return []


def test_no_module_imports_another_in_a_circle() -> None:
    # Imports for type checkers count too: a circle there is one as soon as annotations are read.
    assert find_cycle(graph(module_level_only=True)) == []


def test_the_cycle_finder_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_results_and_statuses_never_import_a_client_even_lazily() -> None:
    edges = graph(module_level_only=False)
    for value in VALUE_MODULES:
        reached = {target for target in edges[value] if target.startswith("higgsfield_client")}
        assert reached <= set(VALUE_MODULES), (value, reached)


def layer(name: str) -> int:
    """0 the core, 1 the transports, 2 the core client, 3 a capability or an official module."""
    if name.startswith("higgsfield_proto"):
        return 0
    if name.startswith("higgsfield_transports"):
        return 1
    parts = name.split(".")
    above = (*CAPABILITIES, *OFFICIAL_MODULES, "__main__")
    return 3 if len(parts) > 1 and parts[1] in above else 2


def test_imports_at_module_level_run_from_capabilities_to_the_client_to_the_core() -> None:
    # The client reaches a capability only lazily (``client.agents``), or for type checkers.
    wrong = []
    for name, targets in graph(module_level_only=True, for_type_checkers=False).items():
        for target in targets:
            upward = layer(target) > layer(name)
            if upward:
                wrong.append((name, target))
    assert wrong == []


def test_no_module_imports_a_private_module_of_another_package() -> None:
    private = []
    for name, path in modules().items():
        own = name.split(".")[0]
        if name.startswith("higgsfield_client.testing"):
            continue  # the emulator imports neither other package at all (below)
        for target, line in imports_of(name, path, module_level_only=False):
            top = target.split(".")[0]
            if top in PACKAGES and top != own and any(part.startswith("_") for part in target.split(".")[1:]):
                private.append(f"{path.relative_to(ROOT)}:{line} {target}")
    assert private == []


def test_the_emulator_imports_neither_the_core_nor_the_transports() -> None:
    for name, path in modules().items():
        if name.startswith("higgsfield_client.testing"):
            tops = {target.split(".")[0] for target, _ in imports_of(name, path, module_level_only=False)}
            assert not tops & {"higgsfield_proto", "higgsfield_transports"}, name


def loaded_by(code: str) -> Set[str]:
    """The modules a fresh interpreter loads to run ``code`` (not those loaded before it, such as
    coverage's own when the suite measures subprocesses)."""
    script = (
        f"import json, sys; before = set(sys.modules); {code}; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    return set(json.loads(output.strip().splitlines()[-1]))


# Third-party packages a program may not use, and logging: a tenth of the import time (the
# package looks its logger up once some other code has loaded logging).
UNWANTED_AT_IMPORT = (
    "rich", "sqlite3", "_sqlite3", "ray", "aiohttp", "requests", "trio", "h11", "logging", "opentelemetry",
)  # fmt: skip


def test_importing_the_package_loads_the_official_surface_and_no_capability() -> None:
    loaded = loaded_by("import higgsfield_client")
    assert "higgsfield_client._sync" in loaded
    assert "higgsfield_client._async" in loaded
    unwanted = {
        name
        for name in loaded
        if name.split(".")[0] in UNWANTED_AT_IMPORT
        or any(name.startswith(f"higgsfield_client.{room}") for room in (*CAPABILITIES, *OFFICIAL_MODULES))
        or name
        in (
            "higgsfield_proto._agent",
            "higgsfield_proto._agent_flows",
            "higgsfield_proto._webhooks",
            "higgsfield_proto._catalog",
            "higgsfield_proto._schema",
            "higgsfield_client._watch",  # watching a call, and its spans: on first use
            "higgsfield_client._tracing",
        )
        or name.startswith("higgsfield_transports")
    }
    assert unwanted == set()


@pytest.mark.parametrize(
    ("touch", "loads"),
    [
        ("higgsfield_client.AgentSession", "higgsfield_client.agents"),
        ("higgsfield_client.SyncClient(api_key='a:b').agents", "higgsfield_client.agents"),
        ("higgsfield_client.batch.Batch", "higgsfield_client.batch"),
        ("higgsfield_client.webhooks.WebhookReceiver", "higgsfield_client.webhooks"),
        ("higgsfield_client.models.snapshot_catalog", "higgsfield_client.models._snapshot"),
        ("higgsfield_client.http.client", "higgsfield_client.http.client"),
        ("higgsfield_client.exceptions.HiggsfieldClientError", "higgsfield_client.exceptions"),
        ("higgsfield_client.types_.StatusEnum", "higgsfield_client.types_"),
        ("higgsfield_client.SyncClient(retry=__import__('higgsfield_client.http.retry').http.retry.NoRetry())",
         "higgsfield_client.http.retry"),
        ("higgsfield_client.SyncClient(api_key='a:b').models", "higgsfield_client.models._client"),
        ("higgsfield_client.AsyncClient(api_key='a:b').models", "higgsfield_client.models._client"),
        ("higgsfield_client.mcp.HiggsfieldServer", "higgsfield_client.mcp"),
    ],
)
def test_a_capability_loads_on_first_use(touch: str, loads: str) -> None:
    loaded = loaded_by(f"import higgsfield_client; {touch}")
    assert loads in loaded


def test_opentelemetry_loads_only_once_the_application_traces() -> None:
    # Without a tracer provider, a call costs one lookup: the package's tracing code stays unloaded.
    untraced = loaded_by(
        "import opentelemetry.trace, higgsfield_client; from higgsfield_client._observe import tracer; "
        "assert tracer() is None"
    )
    assert "higgsfield_client._tracing" in untraced  # the provider check lives there
    assert "opentelemetry.sdk" not in untraced
    assert "higgsfield_client._watch" not in untraced
    traced = loaded_by(
        "from opentelemetry import trace; from opentelemetry.sdk.trace import TracerProvider; "
        "trace.set_tracer_provider(TracerProvider()); import higgsfield_client; "
        "from higgsfield_client._observe import tracer; assert tracer() is not None"
    )
    assert "higgsfield_client._tracing" in traced


def test_dir_shows_the_official_names_and_no_helper() -> None:
    import higgsfield_client

    names = dir(higgsfield_client)
    assert {"sync_client", "async_client", "SyncClient", "subscribe_async", "AgentSession"} <= set(names)
    assert {"exceptions", "http", "types_", "auth", "utils", "mixins", "agents"} <= set(names)
    assert not {"TYPE_CHECKING", "on_default_sync", "on_default_async", "importlib", "typing"} & set(names)
