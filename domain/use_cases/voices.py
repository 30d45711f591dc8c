"""Uploading voices."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.audio import Audio
from domain.errors import InvalidAudio, InvalidInput, VoiceExists
from domain.timing import StageTimer
from domain.voice import VoiceInfo
from domain.voice_library import VoiceLibrary
from ports.audio_codec import AudioCodec
from ports.audio_fetcher import AudioFetcher
from ports.model_registry import ModelRegistry
from ports.transcriber import Transcriber

# Speech runs at about 12-16 UTF-8 bytes a second whatever the script: conversational English
# is ~150-170 words a minute, 13-16 characters a second with spaces; Mandarin ~4-5 syllables a
# second at one 3-byte character each, 12-15 bytes. The engine paces what it generates by the
# reference's bytes per second, so a transcript far off that pace makes absurd audio (12 s of
# voice with the transcript "a" turned 599 characters into 66 minutes).
MIN_TRANSCRIPT_RATE = 3.0  # bytes/s: a fifth of normal speech (~30 words a minute)
MAX_TRANSCRIPT_RATE = 40.0  # bytes/s: past the fastest sustained speech (auctioneers, ~25-30 characters/s)


@dataclass(frozen=True)
class UploadRequest:
    """Exactly one of `url` and `data` is set (the parser guarantees it)."""

    name: str
    url: str | None = None
    data: bytes | None = None
    ref_text: str | None = None
    overwrite: bool = False
    model: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class UploadResult:
    voice: VoiceInfo
    transcribed: bool
    timings: dict[str, float] = field(default_factory=dict)


class UploadVoice:
    def __init__(
        self,
        voices: VoiceLibrary,
        codec: AudioCodec,
        fetcher: AudioFetcher,
        transcriber: Transcriber,
        min_seconds: float = 1.0,
        max_seconds: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        as_model_reads: Callable[[Audio], Audio] = lambda audio: audio,
        models: ModelRegistry | None = None,
    ) -> None:
        """`as_model_reads` turns a decoded upload into what is stored: the audio the engine
        reads from it (its rate, mono, the seconds it uses), so no request decodes more."""
        self._models = models
        self._voices = voices
        self._codec = codec
        self._fetcher = fetcher
        self._transcriber = transcriber
        self._min_seconds = min_seconds
        self._max_seconds = max_seconds
        self._now = now
        self._as_model_reads = as_model_reads
        self._writing = threading.Lock()

    def __call__(self, request: UploadRequest) -> UploadResult:
        timer = StageTimer()
        self._refuse_existing(request)
        if request.model is not None:  # InvalidInput naming the choices for a model not served
            if self._models is None:
                raise InvalidInput(f"unknown model {request.model[:64]!r}; this worker serves one model")
            self._models.info(request.model)
        with timer.stage("fetch"):
            data = request.data if request.data is not None else self._fetcher.fetch(request.url or "")
        with timer.stage("decode"):
            audio = self._codec.decode(data, self._max_seconds)
        if not self._min_seconds <= audio.duration <= self._max_seconds:
            raise InvalidAudio(
                f"the voice lasts {audio.duration:.1f} s; send {self._min_seconds:g}-{self._max_seconds:g} s of speech"
            )
        ref_text = (request.ref_text or "").strip()
        transcribed = not ref_text
        if transcribed:
            with timer.stage("transcribe"):
                ref_text = self._transcriber.transcribe(audio).strip()
            if not ref_text:
                raise InvalidInput("no speech was recognised in the voice; send ref_text with the upload", "ref_text")
        _refuse_implausible(ref_text, audio.duration, transcribed)
        with timer.stage("encode"):
            audio = self._as_model_reads(audio)
            wav = self._codec.encode(audio, "wav")
        info = VoiceInfo(
            name=request.name,
            ref_text=ref_text,
            duration=round(audio.duration, 3),
            sample_rate=audio.sample_rate,
            sha256=hashlib.sha256(wav).hexdigest(),
            created_at=self._now().isoformat(timespec="seconds"),
            model=request.model,
            language=request.language,
        )
        with self._writing, timer.stage("store"):
            self._refuse_existing(request)
            self._voices.save(info, wav)
        return UploadResult(voice=info, transcribed=transcribed, timings=timer.seconds)

    def _refuse_existing(self, request: UploadRequest) -> None:
        if self._voices.is_builtin(request.name) and request.overwrite:
            # every client's fallback voice: one client replacing it would change everyone's
            raise InvalidInput(f"the built-in voice {request.name!r} cannot be replaced; upload under another name")
        if request.overwrite:
            return
        if self._voices.exists(request.name) or self._voices.is_builtin(request.name):
            raise VoiceExists(f"a voice named {request.name!r} exists; send overwrite: true to replace it")


def _refuse_implausible(ref_text: str, seconds: float, transcribed: bool) -> None:
    """A transcript must be about as long as the speech in the clip (MIN/MAX_TRANSCRIPT_RATE)."""
    size = len(ref_text.encode("utf-8"))
    rate = size / seconds
    if MIN_TRANSCRIPT_RATE <= rate <= MAX_TRANSCRIPT_RATE:
        return
    which = "the recognised transcript" if transcribed else "ref_text"
    verdict = "too short" if rate < MIN_TRANSCRIPT_RATE else "too long"
    raise InvalidInput(
        f"{which} is {size} UTF-8 bytes for {seconds:.1f} s of audio ({rate:.1f} bytes/s), {verdict} for speech "
        f"({MIN_TRANSCRIPT_RATE:g}-{MAX_TRANSCRIPT_RATE:g} bytes/s): send the exact words spoken in the clip",
        "ref_text",
    )
