"""What every xdist worker pays at collection: each test module's module-level imports (every
worker collects every module). Libraries only a few tests use are imported by those tests, or
through `tests.lazy_import.lazily`, so the workers that never run them never import them."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.lazy_import import lazily

TESTS = Path(__file__).resolve().parents[1]
#: seconds of imports each cost a worker at collection on the 2-core box (python -X importtime)
ONLY_SOME_TESTS_NEED = {
    "x_transformers": 2.3,  # through einx and torch._dynamo
    "openai": 0.8,
    "moto": 0.35,
    "boto3": 0.2,
    "s3fs": 0.3,
}


def module_level_imports(path: Path) -> set[str]:
    """The top-level packages `path` imports when it is imported (not inside functions, nor
    under `if TYPE_CHECKING:`)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try | ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return found


def test_no_test_module_imports_a_library_only_some_tests_need() -> None:
    offenders = {
        str(path.relative_to(TESTS)): sorted(module_level_imports(path) & set(ONLY_SOME_TESTS_NEED))
        for path in TESTS.rglob("*.py")
        if module_level_imports(path) & set(ONLY_SOME_TESTS_NEED)
    }
    assert offenders == {}


def test_a_lazy_module_is_imported_by_its_first_public_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "heavy_library.py").write_text("ANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "heavy_library", raising=False)
    module = lazily("heavy_library")
    # what pytest's collection asks every global of a test module
    assert getattr(module, "_mock_name", None) is None
    assert not hasattr(module, "__wrapped__")
    assert "heavy_library" not in sys.modules
    assert module.ANSWER == 42
    assert "heavy_library" in sys.modules


def test_hydras_pytest_plugin_is_not_loaded(pytestconfig: pytest.Config) -> None:
    """hydra-core's plugin (0.3-0.45 s of imports per process) serves no test: pyproject's addopts leave it out."""
    assert not pytestconfig.pluginmanager.has_plugin("hydra_pytest")
