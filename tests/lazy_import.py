"""A test module's heavy library, imported when its tests first use it rather than at collection.

Every xdist worker collects every test module, so a module-level import is paid by all of
them, while the tests that use it run on one."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy(ModuleType):
    def __getattr__(self, attribute: str) -> Any:
        # Private and dunder names are what collection probes a module's globals for (pytest
        # asks every one for `_mock_name` and `__wrapped__`): answering them would import.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self.__name__), attribute)


def lazily(name: str) -> ModuleType:
    """Module `name`, imported on the first use of one of its public attributes."""
    return _Lazy(name)
