"""Every layer only looks down: the import rules of the house, checked on the source with ast.

A unit is a top-level package of bronze_sync (`bronze_sync/sync/`) or a top-level module
(`bronze_sync/clock.py`). LAYERS lists them from the bottom up; a unit may import units of
its own layer or of a lower one, never of a higher one. Only the Dagster layer imports
dagster, the code location's modules never import the entry point Dagster loads, and no
two modules import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bronze_sync"
ROOT = "bronze_sync"

# Bottom to top. Move a unit only with the code: the order is what the imports are.
LAYERS: list[set[str]] = [
    # Shared plumbing with no knowledge of syncing; the package itself (__version__).
    {ROOT, "errors", "clock", "faults", "processes", "redact", "identifiers", "retry"},
    {"config"},
    # Arrow row helpers (keys, value comparison, UTC timestamps) and the staging area.
    {"rows", "staging"},
    # The two ends of a sync: reading sources, writing bronze Delta tables.
    {"sources", "bronze"},
    # PII protection wraps a source: it sits above sources, below the sync that uses it.
    {"metadata", "diff", "history", "pii"},
    {"alerts"},
    {"checkpoints"},
    {"purge", "rollback", "maintenance"},
    {"sync"},
    {"validation", "monitoring"},
    # Demo data, the Dataverse emulator and the benchmarks build on the domain, never under it.
    {"demo"},
    {"testing"},
    {"bench"},
    # Dagster: defs wires the domain in, definitions is the module Dagster loads.
    {"defs"},
    {"definitions"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}
DAGSTER_UNITS = {"defs", "definitions", "cli"}
DAGSTER_MODULES = ("dagster", "dagster_")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in a module."""

    module: str  # the importing module, dotted
    target: str  # the imported module (or module.name for `from m import name`)
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`: no import at run time

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        guarded = type_only or (isinstance(child, ast.If) and _is_type_checking(child))
        yield child, guarded
        yield from _walk(child, guarded)


def imports_of(path: Path) -> list[Import]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node, type_only in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, line, type_only) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(module, f"{base}.{a.name}", line, type_only) for a in node.names]
    return found


ALL_IMPORTS = [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]
MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def _internal(target: str) -> str | None:
    """Return the bronze_sync module an import target names (a name's module), else None."""
    if target != ROOT and not target.startswith(ROOT + "."):
        return None
    return target if target in MODULES else target.rpartition(".")[0]


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(m) for m in MODULES}
    missing = sorted(units - LAYER_OF.keys())
    assert not missing, f"give these packages a place in LAYERS: {missing}"


def upward_imports(imports: list[Import]) -> list[str]:
    """Return, one line each, the imports by which a unit reaches into a higher layer."""
    found = []
    for imp in imports:
        target = _internal(imp.target)
        if target is None:
            continue
        source, reached = unit_of(imp.module), unit_of(target)
        if LAYER_OF[reached] > LAYER_OF[source]:
            found.append(f"{imp}: {source} (layer {LAYER_OF[source]}) is below {reached}")
    return found


def test_no_layer_imports_a_higher_one() -> None:
    offending = upward_imports(ALL_IMPORTS)
    assert not offending, "a lower layer imports a higher one:\n" + "\n".join(offending)


def test_only_the_dagster_layer_imports_dagster() -> None:
    offending = [
        str(i)
        for i in ALL_IMPORTS
        if i.target.startswith(DAGSTER_MODULES) and unit_of(i.module) not in DAGSTER_UNITS
    ]
    assert not offending, "domain code imports dagster:\n" + "\n".join(offending)


def test_defs_never_imports_the_entry_point() -> None:
    offending = [
        str(i)
        for i in ALL_IMPORTS
        if unit_of(i.module) == "defs" and _internal(i.target) == f"{ROOT}.definitions"
    ]
    assert not offending, "defs/ imports bronze_sync.definitions:\n" + "\n".join(offending)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle of `graph` (its modules, first repeated last), else None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycles_between_modules() -> None:
    # Imports under TYPE_CHECKING are annotations only: they never run, so form no cycle.
    graph: dict[str, set[str]] = {}
    for imp in ALL_IMPORTS:
        target = _internal(imp.target)
        if target and target != imp.module and not imp.type_only:
            graph.setdefault(imp.module, set()).add(target)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_catch_a_violation() -> None:
    # The rules must fail on the mistakes they exist for, or they prove nothing.
    upward = Import("bronze_sync.bronze.rewrite", "bronze_sync.diff.plan.plan_sync", 1, False)
    assert upward_imports([upward]) == [
        "bronze_sync.bronze.rewrite (line 1) imports bronze_sync.diff.plan.plan_sync: "
        "bronze (layer 3) is below diff"
    ]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _internal("bronze_sync.rows.values.rows_differ") == "bronze_sync.rows.values"
    assert _internal("dagster") is None
