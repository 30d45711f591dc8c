"""The Wyoming protocol's TTS side over the App: `describe`, `synthesize` and streamed text.

The Wyoming server (entrypoints/wyoming_server.py) serves it alone; the OpenAI server serves
it beside HTTP when WYOMING_URI is set, so one process and one model serve both.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlparse

import structlog
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from application.app import App
from application.fields import spoken
from domain.errors import EngineError, InvalidInput, TtsError
from domain.use_cases.synthesize import StreamChunk, TtsRequest, TtsResult
from domain.voice import DEFAULT_VOICE, VoiceInfo
from entrypoints.servers import is_loopback

DEFAULT_URI = "tcp://127.0.0.1:10200"
SAMPLES_PER_CHUNK = 1024  # samples in one audio-chunk event, as wyoming-piper sends them
WIDTH, CHANNELS = 2, 1  # 16-bit mono PCM (the "pcm" output format)
LANGUAGES = ["en", "zh"]  # what F5TTS_v1_Base was trained on
ATTRIBUTION = Attribution(name="SWivid/F5-TTS", url="https://github.com/SWivid/F5-TTS")
# A sentence ends at . ! ? or an ellipsis (with closing quotes or brackets) before white
# space, at a CJK full stop, question or exclamation mark, or at a line break.
_SENTENCE = re.compile(r".*?(?:[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+|\n+)", re.S)
log = structlog.get_logger("wyoming")


class Sentences:
    """Text that arrives in pieces, given back a whole sentence at a time as soon as it is
    complete (its end is only certain once what follows it has arrived). Text that runs past
    `max_chars` without a sentence end is given back up to its last space before that, so a
    client streaming endless text holds a bounded buffer and every piece fits the limits."""

    def __init__(self, max_chars: int) -> None:
        self._text = ""
        self._max = max(1, max_chars)

    def add(self, text: str) -> list[str]:
        self._text += text
        done: list[str] = []
        while match := _SENTENCE.match(self._text):
            self._text = self._text[match.end() :]
            if sentence := match.group().strip():
                done.append(sentence)
        while len(self._text) > self._max:
            cut = self._text.rfind(" ", 0, self._max + 1)
            cut = cut if cut > 0 else self._max
            piece, self._text = self._text[:cut].strip(), self._text[cut:].lstrip()
            if piece:
                done.append(piece)
        return done

    def finish(self) -> str:
        rest, self._text = self._text.strip(), ""
        return rest


@dataclass(frozen=True)
class WyomingTts:
    """What the handlers share: the worker's use cases and the threads that run them (each
    synthesis waits on the engine's batcher in a thread of its own, so concurrent clients'
    chunks share engine calls)."""

    api: App
    executor: Executor

    @classmethod
    def from_api(cls, api: App, threads: int = 64) -> WyomingTts:
        return cls(api, ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wyoming"))

    def info(self) -> Info:
        """Read at every describe: voices uploaded since appear without a restart."""
        stored, aliases = self.api.voices.with_aliases()
        voices = [_voice(info.name, info) for info in stored]
        voices += [_voice(alias, info, f"alias of {info.name}") for alias, info in aliases.items()]
        program = TtsProgram(
            name="f5-tts-worker",
            description="F5-TTS voice cloning: your stored voices",
            attribution=ATTRIBUTION,
            installed=True,
            version=None,
            voices=sorted(voices, key=lambda voice: voice.name),
            supports_synthesize_streaming=True,
        )
        return Info(tts=[program])

    def request(self, text: str, voice: SynthesizeVoice | None) -> TtsRequest:
        """The shared field rules (text limits, voice names) for one synthesis."""
        name = voice.name if voice is not None and voice.name else None
        said, speaker, _ = spoken(self.api.limits, text=text, voice=name)
        return TtsRequest(text=said, voice=speaker, format="pcm")

    def next_pcm(self, events: Iterator[StreamChunk | TtsResult]) -> tuple[StreamChunk | TtsResult, bytes]:
        """The stream's next event, and a chunk's samples in 16-bit PCM (encoded once, here)."""
        event = next(events)
        return event, self.api.encoder.encode(event.audio, "pcm") if isinstance(event, StreamChunk) else b""


def _voice(name: str, info: VoiceInfo, note: str | None = None) -> TtsVoice:
    described = "the built-in voice" if name == DEFAULT_VOICE else f"{info.duration:.1f} s reference"
    return TtsVoice(
        name=name,
        description=f"{name} ({note or described})",
        attribution=ATTRIBUTION,
        installed=True,
        version=None,
        languages=list(LANGUAGES),
    )


class ClientGone(Exception):
    """The client closed its connection: its synthesis stops."""


class TtsHandler(AsyncEventHandler):
    """One client connection: its events in order, one synthesis at a time."""

    def __init__(self, tts: WyomingTts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self._tts = tts
        self._voice: SynthesizeVoice | None = None
        self._sentences: Sentences | None = None  # set while text is streamed in

    async def handle_event(self, event: Event) -> bool:
        try:
            return await self._handle(event)
        except ClientGone:
            log.info("wyoming_client_gone")
            return False

    async def _handle(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            try:
                info = await self._run(self._tts.info)
            except Exception as exc:
                await self._error(exc)
                return True
            await self._write(info.event())
        elif Synthesize.is_type(event.type):
            if self._sentences is None:  # inside a stream it repeats the streamed text, for older servers
                synthesize = Synthesize.from_event(event)
                await self._speak(synthesize.text, synthesize.voice)
        elif SynthesizeStart.is_type(event.type):
            limits = self._tts.api.limits  # a piece of max_text_bytes // 4 characters fits the byte limit too
            self._sentences = Sentences(min(limits.max_text_chars, limits.max_text_bytes // 4))
            self._voice = SynthesizeStart.from_event(event).voice
        elif SynthesizeChunk.is_type(event.type):
            if self._sentences is None:
                await self._error(InvalidInput("synthesize-chunk came before synthesize-start"))
                return True
            for sentence in self._sentences.add(SynthesizeChunk.from_event(event).text):
                await self._speak(sentence, self._voice)
        elif SynthesizeStop.is_type(event.type):
            if self._sentences is not None and (rest := self._sentences.finish()):
                await self._speak(rest, self._voice)
            self._sentences = None
            await self._write(SynthesizeStopped().event())
        return True

    async def _speak(self, text: str, voice: SynthesizeVoice | None) -> None:
        """audio-start, the chunks as the use case makes them, audio-stop; or an `error`
        event (before any audio when the request is refused, or where synthesis failed)."""
        start = time.perf_counter()
        rate = self._tts.api.synthesize.sample_rate
        events: Iterator[StreamChunk | TtsResult] | None = None
        try:
            request = self._tts.request(text, voice)
            fields = {"voice": request.voice, "text_chars": len(request.text)}
            events = self._tts.api.synthesize.stream(request)
            event, data = await self._run(self._tts.next_pcm, events)  # planning errors come here, before any audio
            await self._write(AudioStart(rate=rate, width=WIDTH, channels=CHANNELS).event())
            first = None
            while isinstance(event, StreamChunk):
                first = first or round(time.perf_counter() - start, 4)
                for offset in range(0, len(data), SAMPLES_PER_CHUNK * WIDTH):
                    piece = data[offset : offset + SAMPLES_PER_CHUNK * WIDTH]
                    await self._write(AudioChunk(rate=rate, width=WIDTH, channels=CHANNELS, audio=piece).event())
                if self.writer.is_closing() or self.reader.at_eof():
                    raise ClientGone
                event, data = await self._run(self._tts.next_pcm, events)
            await self._write(AudioStop().event())
            seconds = round(time.perf_counter() - start, 4)
            log.info("wyoming_speech_done", seconds=seconds, first_chunk_seconds=first, audio_seconds=event.duration,
                     **fields)  # fmt: skip
        except ClientGone:
            await self._stop(events)
            raise
        except Exception as exc:
            await self._stop(events)
            await self._error(exc)

    async def _stop(self, events: Iterator[Any] | None) -> None:
        """A synthesis stopped midway: its generator closed now (in a worker thread, as it
        runs), so it asks the engine for nothing more and frees what it holds."""
        close = getattr(events, "close", None)
        if close is not None:
            await self._run(close)

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._tts.executor, call, *args)

    async def _write(self, event: Event) -> None:
        try:
            await self.write_event(event)
        except (ConnectionError, RuntimeError) as exc:  # RuntimeError: the transport is already closed
            raise ClientGone from exc

    async def _error(self, exc: Exception) -> None:
        """The client's `error` event: a TtsError's code and message as they are, anything
        else logged with its traceback and sent only as engine_error."""
        if isinstance(exc, TtsError):
            log.warning("wyoming_request_failed", code=exc.code, error=exc.message)
            error = exc
        else:
            log.error("wyoming_request_crashed", exc_info=exc)
            error = EngineError("the server failed unexpectedly; the error was logged")
        await self._write(Error(text=error.message, code=error.code).event())


def wyoming_server(uri: str) -> AsyncServer:
    """The server for `uri` (tcp://HOST:PORT, unix://PATH); SystemExit for anything else."""
    try:
        return AsyncServer.from_uri(uri)
    except ValueError as exc:
        raise SystemExit(f"bad Wyoming URI {uri!r}: {exc}") from None


def handlers(tts: WyomingTts) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], TtsHandler]:
    return partial(TtsHandler, tts)


def warn_if_exposed(uri: str) -> None:
    parts = urlparse(uri)
    if parts.scheme == "tcp" and parts.hostname and not is_loopback(parts.hostname):
        log.warning("wyoming_unauthenticated", uri=uri, note="Wyoming has no authentication: keep the port private")
