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
    only its bootstrap reaches the container (the composition root). It validates the field
    rules every way in shares with pydantic, as `settings.py` validates the settings."""
    usable = FORBIDDEN - {"structlog", "pydantic"}
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & usable)
        for path in (ROOT / "application").rglob("*.py")
        if imported_roots(path) & usable - ({"container"} if path.name == "bootstrap.py" else set())
    }
    assert offenders == {}


def test_the_container_imports_no_entrypoint():
    assert "entrypoints" not in imported_roots(ROOT / "container.py")
