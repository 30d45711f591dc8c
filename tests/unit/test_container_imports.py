"""container.py hides the web frameworks dependency_injector probes while it imports it: the
hiding must end with the block and leave modules imported before it alone."""

from __future__ import annotations

import importlib
import sys

import pytest

from container import _hidden


def test_a_hidden_module_fails_inside_the_block_and_imports_after_it() -> None:
    sys.modules.pop("colorsys", None)
    with _hidden("colorsys"), pytest.raises(ImportError):
        importlib.import_module("colorsys")
    assert importlib.import_module("colorsys").__name__ == "colorsys"
    assert sys.modules["colorsys"] is not None


def test_a_module_imported_before_the_block_stays_usable() -> None:
    json = importlib.import_module("json")
    with _hidden("json"):
        assert importlib.import_module("json") is json
    assert sys.modules["json"] is json


def test_the_block_is_left_as_it_found_things_when_it_raises() -> None:
    sys.modules.pop("colorsys", None)
    with pytest.raises(RuntimeError), _hidden("colorsys"):
        raise RuntimeError("boom")
    assert "colorsys" not in sys.modules
