"""Text to speech in a stored voice."""

from __future__ import annotations

import random
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from domain.audio import Audio, CrossFader, cross_fade
from domain.chunking import chunk_budget, split_text
from domain.errors import InvalidInput, StorageError
from domain.synthesis import SynthesisItem, SynthesisParams, prepare_ref_text
from domain.text.normalize import TextNormalizer
from domain.text.spoken import SpokenText
from domain.timing import StageTimer
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from ports.audio_encoder import AudioEncoder
from ports.blob_store import BlobStore
from ports.tts_engine import TtsEngine

MAX_SEED = 2**31 - 1
FIRST_CHUNK_BYTES = 60  # about one short sentence: the first streamed audio comes fast
CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg; codecs=opus",
    "aac": "audio/aac",
    "pcm": "audio/pcm",
}


@dataclass(frozen=True)
class TtsRequest:
    text: str
    voice: str = DEFAULT_VOICE
    params: SynthesisParams = field(default_factory=SynthesisParams)
    seed: int | None = None
    format: str = "wav"
    return_base64: bool = False
    stream: bool = False
    normalize: bool = True


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


@dataclass(frozen=True)
class StreamChunk:
    """One streamed piece: a complete file in the job's format (`audio`), and its samples
    (`piece`), which a continuous stream encoder joins into one file."""

    index: int
    audio: bytes
    duration: float
    piece: Audio | None = None


@dataclass(frozen=True)
class _Plan:
    voice: str
    seed: int
    items: list[SynthesisItem]


class Synthesize:
    def __init__(
        self,
        engine: TtsEngine,
        voices: VoiceLibrary,
        codec: AudioEncoder,
        store: BlobStore,
        normalizer: TextNormalizer,
        url_ttl: int = 3600,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._engine = engine
        self._voices = voices
        self._codec = codec
        self._store = store
        self._normalizer = normalizer
        self._url_ttl = url_ttl
        self._new_id = new_id

    @property
    def sample_rate(self) -> int:
        return self._engine.sample_rate

    def __call__(self, request: TtsRequest) -> TtsResult:
        timer = StageTimer()
        plan = self._plan(request, timer, first_max_bytes=None)
        with timer.stage("engine"):
            audio = cross_fade(self._engine.synthesize(plan.items), request.params.cross_fade_duration)
        return self._finish(request, plan, audio, timer)

    def stream(self, request: TtsRequest) -> Iterator[StreamChunk | TtsResult]:
        """The audio chunk by chunk as the engine finishes it, then the whole result.

        The first chunk is short and synthesized alone, so the first audio comes early; the
        rest run as one batch. Chunks are cross-faded as they stream, so their samples
        concatenate to exactly the final audio."""
        timer = StageTimer()
        plan = self._plan(request, timer, first_max_bytes=FIRST_CHUNK_BYTES)
        fader = CrossFader(request.params.cross_fade_duration, self._engine.sample_rate)
        pieces: list[Audio] = []
        batches = [plan.items[:1], plan.items[1:]]
        for batch in batches:
            if not batch:
                continue
            with timer.stage("engine"):
                parts = self._engine.synthesize(batch)
            for part in parts:
                piece = fader.push(part)
                if len(pieces) + 1 == len(plan.items):
                    piece = Audio(piece.samples + fader.finish().samples, piece.sample_rate)
                with timer.stage("encode"):
                    data = self._codec.encode(piece, request.format)
                yield StreamChunk(index=len(pieces), audio=data, duration=round(piece.duration, 3), piece=piece)
                pieces.append(piece)
        audio = Audio(array("f", b"".join(p.samples.tobytes() for p in pieces)), self._engine.sample_rate)
        yield self._finish(request, plan, audio, timer)

    def _plan(self, request: TtsRequest, timer: StageTimer, first_max_bytes: int | None) -> _Plan:
        info, reference = self._voices.reference(request.voice, timer)
        seed = request.seed if request.seed is not None else random.SystemRandom().randint(0, MAX_SEED)
        ref_text = prepare_ref_text(reference.text)
        budget = chunk_budget(ref_text, min(reference.audio.duration, 12.0), request.params.speed)
        spoken = self._normalizer(request.text) if request.normalize else SpokenText.verbatim(request.text)
        chunks = [chunk.strip() for chunk in split_text(spoken.text, budget, first_max_bytes)]
        if not chunks:
            raise InvalidInput("text has nothing to speak")
        items = [
            SynthesisItem(reference=reference, text=chunk, params=request.params, seed=seed + index)
            for index, chunk in enumerate(chunks)
        ]
        return _Plan(voice=info.name, seed=seed, items=items)

    def _finish(self, request: TtsRequest, plan: _Plan, audio: Audio, timer: StageTimer) -> TtsResult:
        with timer.stage("encode"):
            data = self._codec.encode(audio, request.format)
        result = TtsResult(
            voice=plan.voice,
            text=request.text,
            duration=round(audio.duration, 3),
            sample_rate=audio.sample_rate,
            format=request.format,
            seed=plan.seed,
            chunks=len(plan.items),
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
