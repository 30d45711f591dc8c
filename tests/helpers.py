"""Shared test helpers: audio fixtures, the tiny models written once per run, and the real
container with fakes swapped in."""

from __future__ import annotations

import contextlib
import io
import json
import re
import runpy
from collections.abc import Mapping
from pathlib import Path

from dependency_injector import providers
from filelock import FileLock

from container import Container, build_container
from harness.audio import audio_file, claimed_long_flac, tone

ROOT = Path(__file__).resolve().parents[1]
__all__ = [
    "ROOT",
    "audio_file",
    "claimed_long_flac",
    "make_test_container",
    "model_cache",
    "script_settings",
    "shut_down_test_containers",
    "tiny_f5_env",
    "tone",
]


_open_containers: list[Container] = []


def make_test_container(
    storage_url: str = "memory://test-store", env: Mapping[str, str] | None = None, **overrides: object
) -> Container:
    """The production container, configured for tests (`env` adds settings), with any provider
    overridden. conftest shuts every one down after its test, so no batcher thread outlives it."""
    container = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": storage_url, **(env or {})})
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    _open_containers.append(container)
    return container


def shut_down_test_containers() -> None:
    while _open_containers:
        _open_containers.pop().shutdown_resources()


#: where this run keeps the models the scripts write, shared by its xdist workers (set by
#: conftest for the session); None: each call writes its own copy into `out`
model_cache: Path | None = None


def _run_script(script: str, out: Path, *args: str) -> dict[str, str]:
    """The script's `main` in this process, its printed settings captured: a second interpreter
    would import torch again, most of such a write's CPU. torch's global random state is left as it
    was, so which test process wrote a model changes nothing in the tests it runs after."""
    import torch

    printed = io.StringIO()
    main = runpy.run_path(str(ROOT / "scripts" / script))["main"]
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(printed):
        main([str(out), *args])
    return dict(line.split("=", 1) for line in printed.getvalue().splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def script_settings(script: str, out: Path, *args: str) -> dict[str, str]:
    """The KEY=VALUE settings that load the tiny random model one of the project's scripts
    writes (make_tiny_checkpoint.py, make_tiny_aligner.py) with `args` (such as `--arch v0`).
    The script runs once per test run and set of arguments:
    its files land in the run's `model_cache`, under a file lock its workers share, and every
    later call reads the settings it printed (`out` is used only without a cache). The files
    are the script's, read-only by convention: a test that alters one works on a copy."""
    if model_cache is None:
        return _run_script(script, out, *args)
    target = model_cache / "-".join((Path(script).stem, *(arg.lstrip("-") for arg in args)))
    with FileLock(f"{target}.lock"):
        saved = target.with_suffix(".json")
        if not saved.exists():
            saved.write_text(json.dumps(_run_script(script, target, *args)))
        return json.loads(saved.read_text())


def tiny_f5_env(out: Path) -> dict[str, str]:
    """The settings that run the real F5 engine on the tiny checkpoint written to `out`: offline,
    fp32 (bitwise-reproducible on any CPU), loaded as production loads the real weights."""
    return {
        **script_settings("make_tiny_checkpoint.py", out),
        "TTS_ENGINE": "f5",
        "HF_HUB_OFFLINE": "1",
        "TTS_DTYPE": "fp32",
    }
