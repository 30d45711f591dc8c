"""Several models in one worker: a table of specs, engines built on start or first use, and
at most `max_loaded` resident, the least recently used unloaded first.

The registry is built around whole engines: each model is the engine the worker builds for
one checkpoint (with its own micro-batcher), so nothing inside an engine knows there are
others. The default model is the worker's usual engine, given ready-made and never unloaded,
so a worker with one model behaves exactly as before."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from domain.errors import EngineError, InvalidInput
from ports.model_registry import ModelInfo
from ports.tts_engine import TtsEngine

log = structlog.get_logger()


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the TTS_MODELS setting."""

    name: str
    architecture: str
    checkpoint: str | None = None
    vocab: str | None = None
    languages: tuple[str, ...] = ()
    licence: str = ""
    preload: bool = False


class LoadedEngine:
    """An engine and how to let it go (its micro-batcher's thread, its weights)."""

    def __init__(self, engine: TtsEngine, close: Callable[[], None] = lambda: None) -> None:
        self.engine, self.close = engine, close


class LruModelRegistry:
    def __init__(
        self,
        default: ModelSpec,
        default_engine: Callable[[], TtsEngine],
        others: Sequence[ModelSpec],
        build: Callable[[ModelSpec], LoadedEngine],
        max_loaded: int,
    ) -> None:
        names = [default.name, *(spec.name for spec in others)]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must differ: {', '.join(names)}")
        self._default = default
        self._default_engine = default_engine
        self._specs = {spec.name: spec for spec in (default, *others)}
        self._build = build
        self._max_loaded = max_loaded
        self._loaded: OrderedDict[str, LoadedEngine] = OrderedDict()  # oldest use first
        self._lock = threading.Lock()
        self._vocab: dict[str, frozenset[str] | None] = {}

    @property
    def default(self) -> str:
        return self._default.name

    def start(self) -> LruModelRegistry:
        """Loads the models marked to load at start (as many as the bound allows)."""
        for spec in self._specs.values():
            if spec.preload and spec.name != self.default:
                self.engine(spec.name)
        return self

    def _spec(self, name: str) -> ModelSpec:
        if name not in self._specs:
            raise InvalidInput(f"unknown model {name[:64]!r}; this worker serves {', '.join(self._specs)}")
        return self._specs[name]

    def info(self, name: str) -> ModelInfo:
        spec = self._spec(name)
        loaded = name == self.default or name in self._loaded
        return ModelInfo(spec.name, spec.architecture, spec.languages, spec.licence, loaded, name == self.default)

    def models(self) -> list[ModelInfo]:
        return [self.info(name) for name in self._specs]

    def engine(self, name: str) -> TtsEngine:
        spec = self._spec(name)
        if name == self.default:
            return self._default_engine()
        with self._lock:  # one load at a time: two first jobs of a model load it once
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name].engine
            while self._loaded and len(self._loaded) >= self._max_loaded:
                evicted, old = self._loaded.popitem(last=False)
                log.info("model_unloaded", model=evicted)
                old.close()
            log.info("model_loading", model=name)
            self._loaded[name] = self._build(spec)
            return self._loaded[name].engine

    def unknown_characters(self, name: str, text: str) -> set[str]:
        spec = self._spec(name)
        if name not in self._vocab:
            self._vocab[name] = _read_vocab(spec.vocab) if spec.vocab and name != self.default else None
        vocab = self._vocab[name]
        # Chinese characters are not vocabulary misses: f5-tts turns them into pinyin first
        return set() if vocab is None else {c for c in text if c not in vocab and not "\u4e00" <= c <= "\u9fff"}

    def close(self) -> None:
        with self._lock:
            while self._loaded:
                self._loaded.popitem()[1].close()


def _read_vocab(path: str) -> frozenset[str]:
    """vocab.txt as f5-tts reads it: one token a line (the first is usually a space)."""
    try:
        with Path(path).open(encoding="utf-8") as lines:
            return frozenset(line[:-1] if line.endswith("\n") else line for line in lines)
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"cannot read the model's vocabulary {path}: {exc.__class__.__name__}") from None
