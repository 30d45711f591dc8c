"""One job in, one answer out: dispatch to a use case, render the result, log once.

Every failure becomes `{"error": "<code>: <message>"}`; an unexpected exception is logged
with its traceback on the worker and reaches the client only as `engine_error`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import structlog

from domain.errors import EngineError, TtsError
from domain.streaming import min_playback_margin
from domain.use_cases.synthesize import Progress, StreamChunk, Synthesize, TtsRequest
from domain.use_cases.voices import DeleteVoice, ListVoices, UploadVoice
from domain.voice_library import VoiceLibrary
from entrypoints.endpoints import ParsedJob, endpoint_of, parse, render_tts, tts_extra
from entrypoints.jobs import Limits
from ports.aligner import Aligner
from ports.blob_store import BlobStore
from ports.tts_engine import TtsEngine

log = structlog.get_logger("worker")


@dataclass
class WorkerService:
    synthesize: Synthesize
    upload_voice: UploadVoice
    list_voices: ListVoices
    delete_voice: DeleteVoice
    store: BlobStore
    limits: Limits
    aligner: Aligner | None = None
    sweep_outputs: Callable[[], object] | None = None  # starts a retention sweep: rate-limited, off this thread
    engine: TtsEngine | None = None  # for `health` only: jobs reach it through `synthesize`

    def handle(
        self, payload: object, job_id: str = "-", progress: Callable[[Progress], None] | None = None
    ) -> dict[str, Any]:
        """The job's answer; `progress`, when given, hears how far a tts job has come."""
        start = time.perf_counter()
        fields: dict[str, Any] = {"job_id": job_id, "endpoint": endpoint_of(payload)}
        try:
            job = parse(payload, self.limits)
        except TtsError as exc:
            return _failed(exc, start, fields)
        if progress is not None and isinstance(job.request, TtsRequest):
            job = replace(job, request=replace(job.request, progress=progress))
        return self._answer(job, start, fields)

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        """A streaming worker's answers: for `stream: true`, one dict per audio chunk and then
        the usual result; for any other job, its usual single answer."""
        start = time.perf_counter()
        fields: dict[str, Any] = {"job_id": job_id, "endpoint": endpoint_of(payload)}
        try:
            job = parse(payload, self.limits)
        except TtsError as exc:
            yield _failed(exc, start, fields)
            return
        request = job.request
        if not (isinstance(request, TtsRequest) and request.stream):
            yield self._answer(job, start, fields)
            return
        fields.update(job.describe(), stream=True)
        first_chunk = None
        ready_at: list[float] = []
        durations: list[float] = []
        try:
            for event in self.synthesize.stream(request):
                if isinstance(event, StreamChunk):
                    first_chunk = first_chunk or _since(start)
                    ready_at.append(time.perf_counter())
                    durations.append(event.duration)
                    chunk = {
                        "chunk": event.index,
                        "audio_base64": base64.b64encode(event.audio).decode("ascii"),
                        "duration": event.duration,
                        "format": request.format,
                        "sample_rate": self.synthesize.sample_rate,
                        "status": "streaming",
                    }
                    if event.words is not None:
                        chunk["words"] = [word.public() for word in event.words]
                    yield chunk
                else:
                    result = event
        except Exception as exc:
            yield _failed(exc, start, fields)
            return
        margin = min_playback_margin(ready_at, durations)
        log.info(
            "job_done",
            seconds=_since(start),
            first_chunk_seconds=first_chunk,
            min_playback_margin=None if margin is None else round(margin, 3),
            **tts_extra(result),
            **fields,
        )
        output = render_tts(result)
        self._stored(output)
        yield output

    def _answer(self, job: ParsedJob[Any], start: float, fields: dict[str, Any]) -> dict[str, Any]:
        fields.update(job.describe())
        try:
            output, extra = job.run(self)
        except Exception as exc:
            return _failed(exc, start, fields)
        log.info("job_done", seconds=_since(start), **fields, **extra)
        self._stored(output)
        return output

    def _stored(self, output: dict[str, Any]) -> None:
        """A stored answer is what grows outputs/: the moment to let old ones go."""
        if "audio_url" in output and self.sweep_outputs is not None:
            self.sweep_outputs()

    def health(self) -> dict[str, Any]:
        checks = [
            {"check": c.name, "ok": c.ok, "seconds": round(c.seconds, 4), "detail": c.detail}
            for c in self.store.check()
        ]
        ok = all(c["ok"] for c in checks)
        aligner = {"available": bool(self.aligner and self.aligner.available)}
        aligner["detail"] = self.aligner.detail if self.aligner else "no aligner configured"
        answer: dict[str, Any] = {"store": checks, "aligner": aligner}
        if self.engine is not None:
            # how it runs, not whether it is healthy: a failed background compile serves on
            answer["engine"] = asdict(self.engine.status())
        served = self.synthesize.models()
        if len(served) > 1:  # a worker with TTS_MODELS: which are loaded now
            answer["models"] = {info.name: {"loaded": info.loaded} for info in served}
        return {**answer, "healthy": ok, "status": "completed" if ok else "degraded"}


def warn_broken_aliases(voices: VoiceLibrary) -> None:
    """A warning at start-up for each alias whose voice does not exist, not a refusal to
    start: voices live in the shared store and may be uploaded after the worker starts (a
    worker that refused would also refuse the upload that fixes it). Using such an alias
    fails with voice_not_found naming both names, never a fallback."""
    try:
        broken = voices.broken_aliases()
    except TtsError as exc:  # the store check reports a failing store
        log.warning("aliases_not_checked", error=str(exc))
        return
    for alias, target in broken.items():
        log.warning("alias_voice_missing", alias=alias, voice=target, setting="VOICE_ALIASES")


def _failed(exc: Exception, start: float, fields: dict[str, Any]) -> dict[str, Any]:
    """The client's answer for a failed job, logged once: a TtsError as it is, anything
    else (with its traceback in the log) only as engine_error."""
    if isinstance(exc, TtsError):
        log.warning("job_failed", code=exc.code, error=exc.message, seconds=_since(start), **fields)
        return {"error": str(exc)}
    log.error("job_crashed", exc_info=exc, seconds=_since(start), **fields)
    return {"error": str(EngineError("the worker failed unexpectedly; the error was logged"))}


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)
