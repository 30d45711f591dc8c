"""No import cycle among the repository's own modules: a module's top-level imports (those
that run when it is imported; an import inside a function runs later, when called) form a
graph with no cycle. A cycle works until someone imports its modules in another order, then
fails with a half-initialised module."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ports", "adapters", "application", "entrypoints", "benchmarks", "harness", "scripts")
MODULES = ("container.py", "settings.py")


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when imported: its body's, and those under its top-level
    `if` and `try` (not `if TYPE_CHECKING:`, which never runs)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            found += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += _top_level(node.body) + _top_level(node.orelse) + _top_level(node.finalbody)
            for handler in node.handlers:
                found += _top_level(handler.body)
        elif isinstance(node, ast.With):
            found += _top_level(node.body)
    return found


def import_graph(root: Path, packages: tuple[str, ...], modules: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Each module under `root` (the `packages`' and the top-level `modules`) mapped to the
    modules of the same set that its top-level imports run, its target's packages included."""
    paths = [path for package in packages for path in sorted((root / package).rglob("*.py"))]
    paths += [root / module for module in modules if (root / module).exists()]
    known = {module_name(root, path): path for path in paths}
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
        executed = {".".join(t.split(".")[:i]) for t in targets for i in range(1, t.count(".") + 2)}
        graph[name] = {target for target in executed if target in known and target != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_repository_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, PACKAGES, MODULES)
    assert {"container", "settings", "adapters.f5.engine", "benchmarks.ceiling"} <= set(graph)
    assert "adapters.f5.config" in graph["container"]  # the graph sees the repository's own imports
    found = cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found or [])


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.parametrize(
    "b_imports_a",
    ["from pkg import a", "import pkg.a", "from . import a", "from .a import thing", "if True:\n    import pkg.a"],
)
def test_a_cycle_is_found_however_it_is_spelled(tmp_path: Path, b_imports_a: str) -> None:
    write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from pkg.b import thing\n", "pkg/b.py": b_imports_a + "\n"})
    found = cycle(import_graph(tmp_path, ("pkg",)))
    assert found is not None and set(found) == {"pkg.a", "pkg.b"}


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/__init__.py": "from pkg.sub.c import C\n", "pkg/sub/__init__.py": "", "pkg/sub/c.py": ""})
    write(tmp_path, {"pkg/other.py": "import pkg.sub.c\n", "pkg/sub/c.py": "import pkg.other\n"})
    found = cycle(import_graph(tmp_path, ("pkg",)))
    assert found is not None and {"pkg", "pkg.sub.c"} <= set(found)


def test_imports_that_run_later_or_never_make_no_cycle(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n\n"
            "def later():\n    import pkg.a\n",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] == {"pkg", "pkg.b"} and graph["pkg.b"] == set() and cycle(graph) is None
