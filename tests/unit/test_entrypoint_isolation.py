"""Each way in parses its own wire format into the application's typed requests: no
entrypoint module imports another way in's module (its parser, its payloads, its start-up).

Checked on the source, imports inside functions included. Every module of `entrypoints/`
belongs to one way in or to the short list of shared infrastructure below, so a new module
is placed on purpose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WAYS_IN = {
    "job API": {"runpod_handler", "service", "endpoints", "process_clock"},
    "OpenAI server": {"openai_api", "openai_requests", "openai_streams", "slow_clients"},
    "CLI": {"cli"},
    "Wyoming": {"wyoming_server", "wyoming_tts"},
}
#: what every way in may use, and why it is not one way in's own
SHARED = {
    "entrypoints": "CODE_STARTED, when this project's code first ran (the start-up breakdown)",
    "logging_setup": "structlog's configuration, the same for every process",
    "servers": "the long-running servers' start-up over the App, and which addresses are loopback",
}
#: one process serving two ways in: with WYOMING_URI the OpenAI server starts the Wyoming server beside
#: it, over the same App (it starts it; it parses none of its messages)
HOSTS = {("openai_api", "wyoming_tts")}


def entrypoint_imports(path: Path) -> set[str]:
    """The entrypoints modules `path` imports, by their short names (`entrypoints` itself for the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "entrypoints":
                found.add(
                    parts[1] if len(parts) > 1 and (ROOT / "entrypoints" / f"{parts[1]}.py").exists() else "entrypoints"
                )
    return found


def modules() -> list[str]:
    return sorted(path.stem for path in (ROOT / "entrypoints").glob("*.py") if path.stem != "__init__")


def test_every_entrypoint_module_is_placed():
    placed = set().union(*WAYS_IN.values()) | set(SHARED)
    assert set(modules()) - placed == set()
    assert placed - set(modules()) - {"entrypoints"} == set()


@pytest.mark.parametrize("module", modules())
def test_no_entrypoint_imports_another_way_ins_module(module):
    own = next((members for members in WAYS_IN.values() if module in members), set())
    allowed = own | set(SHARED) | {target for source, target in HOSTS if source == module}
    assert entrypoint_imports(ROOT / "entrypoints" / f"{module}.py") - allowed == set()


@pytest.mark.parametrize("module", sorted(set(SHARED) - {"entrypoints"}))
def test_shared_infrastructure_imports_no_way_in(module):
    assert entrypoint_imports(ROOT / "entrypoints" / f"{module}.py") <= set(SHARED)
