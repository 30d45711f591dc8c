"""The worker as every way in sees it: its use cases, its start-up, health and shutdown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from application.concurrency import Concurrency
from application.limits import Limits
from domain.errors import StorageError, TtsError
from domain.timing import StageTimer
from domain.use_cases.outputs import StoreOutput
from domain.use_cases.synthesize import Synthesize
from domain.use_cases.voices import UploadVoice
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from ports.aligner import Aligner
from ports.audio_encoder import AudioEncoder
from ports.blob_store import BlobStore
from ports.tts_engine import TtsEngine

log = structlog.get_logger("worker")


@dataclass
class App:
    """Built once by `bootstrap`; the entrypoints hold it and nothing under it."""

    synthesize: Synthesize
    store_output: StoreOutput
    upload_voice: UploadVoice
    voices: VoiceLibrary
    store: BlobStore
    encoder: AudioEncoder
    engine: TtsEngine  # the batched engine: jobs reach it through `synthesize`
    limits: Limits
    concurrency: Concurrency
    timer: StageTimer  # where start-up stages are timed (the worker's `worker_ready` breakdown)
    shutdown: Callable[[], object]  # stops the batchers' threads
    aligner: Aligner | None = None
    sweep_outputs: Callable[[], object] | None = None  # starts a retention sweep: rate-limited, off this thread

    def start(self, *, require_store: bool) -> None:
        """Prepare the default voice, warm the engine, check the store and the aliases, each
        a stage of `timer`. A failing store raises StorageError where `require_store` (the
        RunPod worker: its startup-failure mode takes over); else it is only logged, and
        `health` reports it (a server stays up and answers 503 there)."""
        reference = None
        with self.timer.stage("reference_prep"):  # the default voice read and decoded; its mel is made in the warm-up
            try:
                _, reference = self.voices.reference(DEFAULT_VOICE)
            except TtsError as exc:  # a speed-up only: the store check below reports a store that fails
                log.warning("default_voice_not_prepared", error=str(exc))
        with self.timer.stage("warm_up"):
            self.engine.warm_up(reference)
        with self.timer.stage("store_check"):
            failed = [check for check in self.store.check() if not check.ok]
        if failed:
            reason = f"store check {failed[0].name!r} failed: {failed[0].detail}"
            if require_store:
                raise StorageError(reason)
            log.warning("store_check_failed", reason=reason)
        self.warn_broken_aliases()

    def warn_broken_aliases(self) -> None:
        """A warning at start-up for each alias whose voice does not exist, not a refusal to
        start: voices live in the shared store and may be uploaded after the worker starts (a
        worker that refused would also refuse the upload that fixes it). Using such an alias
        fails with voice_not_found naming both names, never a fallback."""
        try:
            broken = self.voices.broken_aliases()
        except TtsError as exc:  # the store check reports a failing store
            log.warning("aliases_not_checked", error=str(exc))
            return
        for alias, target in broken.items():
            log.warning("alias_voice_missing", alias=alias, voice=target, setting="VOICE_ALIASES")

    def store_answer(
        self, data: bytes, fmt: str, caption_text: str | None = None, caption_format: str | None = None
    ) -> tuple[str, str | None]:
        """An encoded answer stored (`StoreOutput`), and a retention sweep started: storing is
        what grows outputs/, so it is the moment to let old answers go."""
        urls = self.store_output(data, fmt, caption_text, caption_format)
        if self.sweep_outputs is not None:
            self.sweep_outputs()
        return urls

    def health(self) -> dict[str, Any]:
        checks = [
            {"check": c.name, "ok": c.ok, "seconds": round(c.seconds, 4), "detail": c.detail}
            for c in self.store.check()
        ]
        ok = all(c["ok"] for c in checks)
        aligner = {"available": bool(self.aligner and self.aligner.available)}
        aligner["detail"] = self.aligner.detail if self.aligner else "no aligner configured"
        # how the engine runs, not whether it is healthy: a failed background compile serves on
        answer: dict[str, Any] = {"store": checks, "aligner": aligner, "engine": asdict(self.engine.status())}
        served = self.synthesize.models()
        if len(served) > 1:  # a worker with TTS_MODELS: which are loaded now
            answer["models"] = {info.name: {"loaded": info.loaded} for info in served}
        return {**answer, "healthy": ok, "status": "completed" if ok else "degraded"}
