"""What `pip install .` ships: every package the worker imports at run time, so the console
script (`f5-tts-worker`, which does not run from the checkout's folder) finds them all."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {"tests", "benchmarks", "harness", "scripts"}  # run from a checkout only


def test_every_production_package_is_declared_in_pyproject():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.glob("**/__init__.py")
        if init.parent.relative_to(ROOT).parts[0] not in NOT_SHIPPED | {".venv", "build", "data"}
        and not init.parent.relative_to(ROOT).parts[0].startswith(".")
    }
    assert found <= declared, f"declare these in pyproject's [tool.setuptools] packages: {sorted(found - declared)}"
