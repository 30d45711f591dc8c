"""The one way to build the worker (cosmicpython's bootstrap): settings in, an `App` out.

The only module of this layer that reaches the container, which alone names adapters."""

from __future__ import annotations

from application.app import App
from container import Container, build_container
from settings import Settings


def bootstrap(settings: Settings | None = None, container: Container | None = None) -> App:
    """The App over `container` (tests pass one with stand-ins), else over a new one built
    from `settings` (default: read from the environment). Nothing is warmed yet: the caller
    runs `App.start` when it is ready to, and `App.shutdown` when done; an App that fails to
    build (a store it cannot open) leaves no thread of the parts already started behind."""
    built = container if container is not None else build_container(settings=settings)
    try:
        return built.app()
    except BaseException:
        built.shutdown_resources()
        raise
