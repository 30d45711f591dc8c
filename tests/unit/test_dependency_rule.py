"""The layers' import rule, checked on the source: the domain stays pure and fast to test."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "torch",
    "torchaudio",
    "numpy",
    "f5_tts",
    "runpod",
    "fsspec",
    "s3fs",
    "boto3",
    "soundfile",
    "structlog",
    "dependency_injector",
    "pydantic",
    "requests",
    "adapters",
    "entrypoints",
    "container",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", ["domain", "ports"])
def test_inner_layers_import_no_framework(layer):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN)
        for path in (ROOT / layer).rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_ports_import_only_domain_values():
    for path in (ROOT / "ports").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("domain"):
                assert node.module.split(".")[1] in {"audio", "synthesis", "errors", "word_timing"}, path


def test_only_the_container_names_adapters():
    for layer in ("entrypoints", "application", "domain", "ports"):
        for path in (ROOT / layer).rglob("*.py"):
            assert "adapters" not in imported_roots(path), path


def test_the_application_layer_sits_under_the_entrypoints():
    """entrypoints -> application -> domain/ports: the application never reaches up, and
    only its bootstrap reaches the container (the composition root)."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & (FORBIDDEN - {"structlog"}))
        for path in (ROOT / "application").rglob("*.py")
        if imported_roots(path)
        & (FORBIDDEN - {"structlog"}) - ({"container"} if path.name == "bootstrap.py" else set())
    }
    assert offenders == {}


def test_the_container_imports_no_entrypoint():
    assert "entrypoints" not in imported_roots(ROOT / "container.py")


#: the ways in: each is started on its own (`python -m ...`) and speaks one protocol
WAYS_IN = ("runpod_handler", "openai_api", "cli", "wyoming_server")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


@pytest.mark.parametrize("way_in", WAYS_IN)
def test_no_way_in_imports_another(way_in):
    """Each way in reaches the worker through the application layer, not through another
    way in's module (its parser, its start-up, its payloads)."""
    others = {f"entrypoints.{name}" for name in WAYS_IN if name != way_in}
    assert imported_modules(ROOT / "entrypoints" / f"{way_in}.py") & others == set()
