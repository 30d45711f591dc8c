"""Several models in one worker: a table of specs, engines built on start or first use, and
at most `max_loaded` resident, the least recently used unloaded first.

The registry is built around whole engines: each model is the engine the worker builds for
one checkpoint (with its own micro-batcher), so nothing inside an engine knows there are
others. The default model is the worker's usual engine, given ready-made and never unloaded,
so a worker with one model behaves exactly as before. A model with calls running is never
unloaded: a job is not cut short because another model was needed."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from domain.audio import Audio
from domain.errors import EngineError, InvalidInput
from domain.synthesis import SynthesisItem
from ports.model_registry import ModelInfo
from ports.tts_engine import EngineStatus, TtsEngine

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
    """An engine and how to let it go (its micro-batcher's thread, its weights); `in_use`
    counts the calls running on it, which keep it loaded."""

    def __init__(self, engine: TtsEngine, close: Callable[[], None] = lambda: None) -> None:
        self.engine, self.close = engine, close
        self.in_use = 0


class LruModelRegistry:
    def __init__(
        self,
        default: ModelSpec,
        default_engine: Callable[[], TtsEngine],
        others: Sequence[ModelSpec],
        build: Callable[[ModelSpec], LoadedEngine],
        max_loaded: int,
        local_file: Callable[[str], str] = str,
    ) -> None:
        names = [default.name, *(spec.name for spec in others)]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must differ: {', '.join(names)}")
        self._default = default
        self._default_engine = default_engine
        self._specs = {spec.name: spec for spec in (default, *others)}
        self._handles = {spec.name: _ModelEngine(self, spec.name) for spec in others}
        self._build = build
        self._max_loaded = max_loaded
        self._loaded: OrderedDict[str, LoadedEngine] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # guards _loaded and the in_use counts; never held while loading
        self._loading = threading.Lock()  # one load at a time: two first jobs of a model load it once
        self._vocab: dict[str, frozenset[str] | None] = {}
        self._local_file = local_file  # a model file's local path (an hf:// one fetched, for the F5 engine)

    @property
    def default(self) -> str:
        return self._default.name

    def start(self) -> LruModelRegistry:
        """Loads the models marked to load at start (as many as the bound allows)."""
        for spec in self._specs.values():
            if spec.preload and spec.name != self.default:
                with self.using(spec.name):
                    pass
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
        """The default model's engine, or a TTS_MODELS entry's handle, which loads the model
        when a call needs it (so a model unloaded after a job was planned is loaded again)."""
        self._spec(name)
        return self._default_engine() if name == self.default else self._handles[name]

    @contextlib.contextmanager
    def using(self, name: str) -> Iterator[TtsEngine]:
        """The model's engine, loaded if it is not, and kept loaded until the block ends."""
        entry = self._acquire(name)
        try:
            yield entry.engine
        finally:
            with self._lock:
                entry.in_use -= 1

    def _acquire(self, name: str) -> LoadedEngine:
        spec = self._spec(name)
        if (entry := self._take(name)) is not None:
            return entry
        with self._loading:  # models already loaded keep serving while this one loads
            if (entry := self._take(name)) is not None:
                return entry
            with self._lock:
                evicted = self._evict_for_one()
            for old_name, old in evicted:  # unloaded before the new one loads: its memory is needed
                log.info("model_unloaded", model=old_name)
                old.close()
            log.info("model_loading", model=name)
            entry = self._build(spec)
            with self._lock:
                entry.in_use += 1
                self._loaded[name] = entry
            return entry

    def _take(self, name: str) -> LoadedEngine | None:
        with self._lock:
            entry = self._loaded.get(name)
            if entry is not None:
                self._loaded.move_to_end(name)
                entry.in_use += 1
            return entry

    def _evict_for_one(self) -> list[tuple[str, LoadedEngine]]:
        """Idle models, least recently used first, until one more fits the bound. A model
        with calls running stays: the bound is then exceeded until a later load finds it idle."""
        evicted = []
        for name in list(self._loaded):
            if len(self._loaded) < self._max_loaded:
                break
            if self._loaded[name].in_use == 0:
                evicted.append((name, self._loaded.pop(name)))
        return evicted

    def unknown_characters(self, name: str, text: str) -> set[str]:
        spec = self._spec(name)
        if name not in self._vocab:
            local = self._local_file(spec.vocab) if spec.vocab and name != self.default else None
            self._vocab[name] = _read_vocab(local) if local else None
        vocab = self._vocab[name]
        # Chinese characters are not vocabulary misses: f5-tts turns them into pinyin first
        return set() if vocab is None else {c for c in text if c not in vocab and not "\u4e00" <= c <= "\u9fff"}

    def close(self) -> None:
        with self._lock:
            loaded = list(self._loaded.values())
            self._loaded.clear()
        for entry in loaded:
            entry.close()


class _ModelEngine:
    """A TTS_MODELS entry as a TtsEngine: each call runs on the model's engine, loading it
    first if needed and holding it loaded while the call runs."""

    def __init__(self, registry: LruModelRegistry, name: str) -> None:
        self._registry, self.model_id = registry, name

    @property
    def sample_rate(self) -> int:
        with self._registry.using(self.model_id) as engine:
            return engine.sample_rate

    def status(self) -> EngineStatus:
        with self._registry.using(self.model_id) as engine:
            return engine.status()

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        with self._registry.using(self.model_id) as engine:
            return engine.synthesize(items, urgent=urgent)


def _read_vocab(path: str) -> frozenset[str]:
    """vocab.txt as f5-tts reads it: one token a line (the first is usually a space)."""
    try:
        with Path(path).open(encoding="utf-8") as lines:
            return frozenset(line[:-1] if line.endswith("\n") else line for line in lines)
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"cannot read the model's vocabulary {path}: {exc.__class__.__name__}") from None
