from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ports.tts_engine import TtsEngine


@dataclass(frozen=True)
class ModelInfo:
    """A model a worker serves, as `list_models` shows it. `architecture` is a config name
    f5-tts ships (F5TTS_v1_Base, F5TTS_Base, F5TTS_Small, E2TTS_Base) or a yaml path;
    `languages` come first-read-first (the first is a request's language when it names none)."""

    name: str
    architecture: str
    languages: tuple[str, ...]
    licence: str
    loaded: bool
    default: bool = False


class ModelRegistry(Protocol):
    """The models one worker serves, each its own engine behind its own micro-batcher, so
    items of different models never share a forward pass."""

    @property
    def default(self) -> str:
        """The model of a request that names none and whose voice names none."""
        ...

    def info(self, name: str) -> ModelInfo:
        """Raises InvalidInput naming the choices for a model this worker does not serve."""
        ...

    def models(self) -> list[ModelInfo]: ...

    def engine(self, name: str) -> TtsEngine:
        """The model's engine, loaded now if it is not (unloading the least recently used
        past the bound); raises InvalidInput for an unknown name, EngineError if loading fails."""
        ...

    def unknown_characters(self, name: str, text: str) -> set[str]:
        """Characters of `text` the model's vocabulary lacks (which the model would drop)."""
        ...
