"""Response bodies that leave while synthesis goes on: raw audio, or OpenAI's SSE events.

Both take the use case's stream already advanced to its first event, so every error that
comes before any audio (unknown voice, bad text) is an ordinary HTTP error, and then encode
the chunks' samples into one continuous file as they arrive.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import structlog

from domain.audio import Audio
from domain.errors import EngineError, TtsError
from domain.use_cases.synthesize import Progress, StreamChunk, TtsResult
from entrypoints.openai_requests import api_error
from ports.audio_encoder import AudioStream

log = structlog.get_logger("openai_api")
Event = StreamChunk | TtsResult
MEL_HOP = 256  # samples per generated mel frame: the "tokens" F5-TTS produces
ENCODE_BLOCK = 1 << 18  # samples encoded and sent at a time: 1 MiB of float32, about 11 s at 24 kHz


class EncodedSpeech:
    """The encoded bytes of a streamed synthesis, piece by piece; logs the outcome once."""

    def __init__(
        self,
        first: Event,
        events: Iterator[Event],
        encoder: AudioStream,
        fields: dict[str, Any],
        progress: list[Progress] | None = None,
    ) -> None:
        self._first: Event | None = first
        self._events, self._encoder, self._fields = events, encoder, fields
        self._start = time.perf_counter()
        self._chunks = 0
        self._logged = False  # the outcome, logged once: done, failed or abandoned
        self.result: TtsResult | None = None
        self.words: list[dict[str, Any]] = []  # timed words not yet sent (`timestamps: true`)
        self.progress = progress if progress is not None else []  # filled by the use case, not yet sent

    def __iter__(self) -> Iterator[bytes]:
        event: Event = self._first
        self._first = None  # each piece is let go once sent (a long pause makes one of hundreds of MB)
        while isinstance(event, StreamChunk):
            self._chunks += 1
            self.words.extend(word.public() for word in event.words or ())
            yield from self._encoded(event.audio)
            event = next(self._events)
        self._events = iter(())  # the use case's finished generator, and the last piece it still holds
        if tail := self._encoder.finish():
            yield tail
        self.result = event
        self._logged = True
        log.info("speech_done", stream=True, chunks=self._chunks, audio_seconds=event.duration, **self._timing())

    def _encoded(self, piece: Audio) -> Iterator[bytes]:
        """A piece (a long pause makes one of many minutes) fed to the encoder a block at a
        time, each block's bytes leaving before the next is encoded: the body never holds
        more than a block's encoding, whatever the piece's length."""
        samples = piece.samples
        for start in range(0, len(samples), ENCODE_BLOCK):
            if data := self._encoder.push(Audio(samples[start : start + ENCODE_BLOCK], piece.sample_rate)):
                yield data

    def failed(self, exc: Exception) -> dict[str, Any]:
        """The OpenAI error object for a failure mid-stream, logged (with its traceback when
        it is not one of ours); the client gets only the stable code and message. After the
        client left (logged already), the failure is the job's cancellation: not logged again."""
        if self._logged:  # its client left (logged then): the job's cancellation, for nobody
            return api_error(EngineError("the job was cancelled")).body()
        self._logged = True
        if isinstance(exc, TtsError):
            log.warning("speech_failed", code=exc.code, error=exc.message, **self._timing())
            return api_error(exc).body()
        log.error("speech_crashed", exc_info=exc, **self._timing())
        return api_error(EngineError("the worker failed unexpectedly; the error was logged")).body()

    def abandoned(self) -> None:
        """Called once the response is over: a stream that neither ended nor failed was left
        by its client, which the log says too, with how far it got."""
        if not self._logged:
            self._logged = True
            log.info("speech_abandoned", stream=True, chunks=self._chunks, **self._timing())

    def _timing(self) -> dict[str, Any]:
        return {"seconds": round(time.perf_counter() - self._start, 4), **self._fields}


def audio_body(speech: EncodedSpeech) -> Iterator[bytes]:
    """The file's bytes as they are encoded. A failure after the first bytes cannot change
    the status any more: the connection is cut, so the client sees an incomplete body."""
    try:
        yield from speech
    except Exception as exc:
        speech.failed(exc)
        raise


def sse_body(speech: EncodedSpeech, text: str) -> Iterator[bytes]:
    """`speech.audio.delta` events with base64 audio, then `speech.audio.done` with usage
    (input characters as input tokens, generated mel frames as output tokens); an `error`
    event when synthesis fails midway. With `timestamps: true`, `speech.words.delta` events
    carry the words (seconds of the whole answer) as their audio is sent, and `speech.progress`
    events how far synthesis has come."""
    try:
        for data in speech:
            yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
            yield from _words(speech)
            yield from _progress(speech)
        yield from _words(speech)
    except Exception as exc:
        yield _event({"type": "error", **speech.failed(exc)})
        return
    result = speech.result
    frames = round(result.duration * result.sample_rate / MEL_HOP) if result else 0
    usage = {"input_tokens": len(text), "output_tokens": frames, "total_tokens": len(text) + frames}
    yield _event({"type": "speech.audio.done", "usage": usage})


def _words(speech: EncodedSpeech) -> Iterator[bytes]:
    """This worker's extension event: the words timed so far (`timestamps: true`), sent
    after the audio that holds them; clients that do not know the type skip it."""
    if speech.words:
        words, speech.words = speech.words, []
        yield _event({"type": "speech.words.delta", "words": words})


def _progress(speech: EncodedSpeech) -> Iterator[bytes]:
    """This worker's extension event: how far synthesis has come (chunks done of planned,
    seconds of audio, share of the text spoken), after the audio it counts; the last one
    only, when several chunks went out in one delta."""
    if speech.progress:
        latest, speech.progress[:] = speech.progress[-1], []
        yield _event({"type": "speech.progress", **asdict(latest)})


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
