"""Text to speech in a stored voice."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from domain.audio import cross_fade
from domain.chunking import chunk_budget, split_text
from domain.errors import InvalidInput, StorageError
from domain.synthesis import SynthesisItem, SynthesisParams, prepare_ref_text
from domain.timing import StageTimer
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from ports.audio_codec import AudioCodec
from ports.blob_store import BlobStore
from ports.tts_engine import TtsEngine

MAX_SEED = 2**31 - 1
CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}


@dataclass(frozen=True)
class TtsRequest:
    text: str
    voice: str = DEFAULT_VOICE
    params: SynthesisParams = field(default_factory=SynthesisParams)
    seed: int | None = None
    format: str = "wav"
    return_base64: bool = False


@dataclass(frozen=True)
class TtsResult:
    """`audio` is set when the client asked for the bytes, `audio_url` otherwise."""

    voice: str
    text: str
    duration: float
    sample_rate: int
    format: str
    seed: int
    chunks: int
    audio: bytes | None = None
    audio_url: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Synthesize:
    def __init__(
        self,
        engine: TtsEngine,
        voices: VoiceLibrary,
        codec: AudioCodec,
        store: BlobStore,
        url_ttl: int = 3600,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._engine = engine
        self._voices = voices
        self._codec = codec
        self._store = store
        self._url_ttl = url_ttl
        self._new_id = new_id

    def __call__(self, request: TtsRequest) -> TtsResult:
        timer = StageTimer()
        info, reference = self._voices.reference(request.voice, timer)
        seed = request.seed if request.seed is not None else random.SystemRandom().randint(0, MAX_SEED)
        ref_text = prepare_ref_text(reference.text)
        budget = chunk_budget(ref_text, min(reference.audio.duration, 12.0), request.params.speed)
        chunks = [chunk.strip() for chunk in split_text(request.text, budget)]
        if not chunks:
            raise InvalidInput("text has nothing to speak")
        items = [
            SynthesisItem(reference=reference, text=chunk, params=request.params, seed=seed + index)
            for index, chunk in enumerate(chunks)
        ]
        with timer.stage("engine"):
            parts = self._engine.synthesize(items)
            audio = cross_fade(parts, request.params.cross_fade_duration)
        with timer.stage("encode"):
            data = self._codec.encode(audio, request.format)
        result = TtsResult(
            voice=info.name,
            text=request.text,
            duration=round(audio.duration, 3),
            sample_rate=audio.sample_rate,
            format=request.format,
            seed=seed,
            chunks=len(chunks),
            timings=timer.seconds,
        )
        if request.return_base64:
            return replace(result, audio=data)
        with timer.stage("store"):
            url = self._publish(data, request.format)
        return replace(result, audio_url=url)

    def _publish(self, data: bytes, fmt: str) -> str:
        key = f"outputs/{self._new_id()}.{fmt}"
        self._store.put(key, data, CONTENT_TYPES[fmt])
        try:
            return self._store.url(key, self._url_ttl)
        except StorageError:
            self._store.delete(key)
            raise
