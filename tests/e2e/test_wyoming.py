"""The Wyoming TTS server driven by the `wyoming` package's own client over loopback, as Home
Assistant drives it: in this process around a container whose fake engine the test can hold
and inspect, and as the commands the README gives (`python -m entrypoints.wyoming_server`,
and the OpenAI server with WYOMING_URI)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from dependency_injector import providers
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncTcpServer
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from container import Container, build_container
from domain.use_cases.synthesize import StreamChunk, TtsRequest
from domain.use_cases.voices import UploadRequest
from entrypoints.wyoming_tts import Sentences, WyomingTts, handlers
from settings import load_settings
from tests.e2e.worker import ROOT, free_port, serving_process, stop
from tests.helpers import audio_file

pytestmark = pytest.mark.slow
RATE = 24000
PARAGRAPH = " ".join(f"Sentence number {i} is long enough to be a chunk of its own." for i in range(10))
LONG_TEXT = " ".join([PARAGRAPH] * 3)
TIMEOUT = 60


@dataclass
class HeldEngine(FakeEngine):
    """The fake engine, whose call number `hold` waits until the test opens `gate`."""

    hold: int | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    held_items: int = 0

    def synthesize(self, items, **kwargs):
        if len(self.calls) == self.hold:
            self.held_items = len(items)
            self.held.set()
            self.gate.wait(TIMEOUT)
        return super().synthesize(items, **kwargs)


@dataclass
class Served:
    uri: str
    port: int
    container: Container
    engine: HeldEngine


@contextmanager
def wyoming_in_process(
    tmp_path: Path, hold: int | None = None, clock: Callable[[], float] | None = None, **env: str
) -> Iterator[Served]:
    settings = load_settings({
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path / 'store'}",
        "VOICE_CACHE_DIR": str(tmp_path / "voice-cache"),
        "LOG_LEVEL": "WARNING",
        **env,
    })  # fmt: skip
    container = build_container(settings=settings)
    engine = HeldEngine(hold=hold)
    container.engine.override(providers.Object(engine))
    if clock is not None:
        container.synthesize.add_kwargs(clock=clock)
    container.upload_voice()(UploadRequest(name="narrator", data=audio_file(3.0), ref_text="A calm and steady voice."))
    port = free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start(handlers(WyomingTts.from_api(bootstrap(container=container)))))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"tcp://127.0.0.1:{port}", port, container, engine)
    finally:
        engine.gate.set()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        container.shutdown_resources()


async def read_until(client: AsyncTcpClient, *types: str) -> list[Event]:
    """Events up to and including the first of one of `types` (or an error)."""
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), TIMEOUT)
        assert event is not None, f"the server closed the connection after {[e.type for e in events]}"
        events.append(event)
        if event.type in types or Error.is_type(event.type):
            return events


def pcm(events: list[Event]) -> bytes:
    return b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))


def expected_samples(container: Container, text: str, voice: str = "default") -> int:
    """The samples of the streaming use case's answer (its short first chunk makes it differ
    from a whole job's by a cross-fade or so)."""
    request = TtsRequest(text=text, voice=voice)
    return sum(
        chunk.audio.num_samples for chunk in container.synthesize().stream(request) if isinstance(chunk, StreamChunk)
    )


async def speaking(port: int, text: str, voice: str | None = None) -> list[Event]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        named = SynthesizeVoice(name=voice) if voice else None
        await client.write_event(Synthesize(text=text, voice=named).event())
        return await read_until(client, AudioStop().event().type)


def speak(port: int, text: str, voice: str | None = None) -> list[Event]:
    return asyncio.run(speaking(port, text, voice))


def test_describe_lists_the_stored_voices_and_aliases_with_streaming(tmp_path):
    with wyoming_in_process(tmp_path, VOICE_ALIASES="alloy=narrator") as served:

        async def run() -> Info:
            async with AsyncTcpClient("127.0.0.1", served.port) as client:
                await client.write_event(Describe().event())
                (event,) = await read_until(client, "info")
                return Info.from_event(event)

        info = asyncio.run(run())
    (program,) = info.tts
    assert program.supports_synthesize_streaming and program.installed
    voices = {voice.name: voice for voice in program.voices}
    assert set(voices) == {"alloy", "default", "narrator"}
    assert voices["alloy"].description == "alloy (alias of narrator)"
    assert all(voice.languages == ["en", "zh"] for voice in voices.values())


def test_one_shot_synthesis_is_16_bit_mono_pcm_of_the_right_length(tmp_path):
    with wyoming_in_process(tmp_path, VOICE_ALIASES="alloy=narrator") as served:
        events = speak(served.port, PARAGRAPH, "alloy")
        samples = expected_samples(served.container, PARAGRAPH, "narrator")
    kinds = [e.type for e in events]
    assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop" and set(kinds[1:-1]) == {"audio-chunk"}
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (RATE, 2, 1)
    chunks = [AudioChunk.from_event(e) for e in events[1:-1]]
    assert all((c.rate, c.width, c.channels) == (RATE, 2, 1) and 0 < len(c.audio) <= 2048 for c in chunks)
    assert len(pcm(events)) // 2 == samples  # the whole answer, as the use case makes it


def test_streamed_text_is_spoken_sentence_by_sentence_before_the_stream_ends(tmp_path):
    with wyoming_in_process(tmp_path) as served:

        async def run() -> tuple[list[Event], list[Event]]:
            async with AsyncTcpClient("127.0.0.1", served.port) as client:
                await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="narrator")).event())
                for piece in ("The first sen", "tence is complete. The sec"):
                    await client.write_event(SynthesizeChunk(text=piece).event())
                # no synthesize-stop yet: the first sentence's audio comes anyway
                early = await read_until(client, "audio-chunk")
                await client.write_event(SynthesizeChunk(text="ond one ends here.").event())
                await client.write_event(Synthesize(text="ignored: the streamed text again").event())
                await client.write_event(SynthesizeStop().event())
                return early, await read_until(client, SynthesizeStopped().event().type)

        early, rest = asyncio.run(run())
        first = expected_samples(served.container, "The first sentence is complete.", "narrator")
        second = expected_samples(served.container, "The second one ends here.", "narrator")
    events = early + rest
    kinds = [e.type for e in events if e.type != "audio-chunk"]
    assert kinds == ["audio-start", "audio-stop", "audio-start", "audio-stop", "synthesize-stopped"]
    stops = [i for i, e in enumerate(events) if e.type == "audio-stop"]
    assert len(pcm(events[: stops[0]])) // 2 == first
    assert len(pcm(events[stops[0] :])) // 2 == second


def test_refused_requests_answer_an_error_and_the_connection_stays_usable(tmp_path):
    with wyoming_in_process(tmp_path, MAX_TEXT_CHARS="200", VOICE_ALIASES="echo=ghost") as served:

        async def run() -> list[list[Event]]:
            answers = []
            async with AsyncTcpClient("127.0.0.1", served.port) as client:
                for text, voice in (("Hello.", "nobody"), ("Hello.", "echo"), ("   ", None), ("x" * 201, None)):
                    named = SynthesizeVoice(name=voice) if voice else None
                    await client.write_event(Synthesize(text=text, voice=named).event())
                    answers.append(await read_until(client, "audio-stop"))
                await client.write_event(Synthesize(text="Still here.").event())
                answers.append(await read_until(client, "audio-stop"))
                await client.write_event(Describe().event())
                answers.append(await read_until(client, "info"))
            return answers

        *refused, spoken, info = asyncio.run(run())
    errors = [Error.from_event(events[0]) for events in refused]
    assert all(len(events) == 1 for events in refused)  # no audio-start before a refusal
    assert [e.code for e in errors] == ["voice_not_found", "voice_not_found", "invalid_input", "invalid_input"]
    assert "nobody" in errors[0].text and "'echo'" in errors[1].text and "'ghost'" in errors[1].text
    assert "200" in errors[3].text
    assert spoken[0].type == "audio-start" and spoken[-1].type == "audio-stop" and len(pcm(spoken)) > 0
    assert info[0].type == "info"


def test_a_client_that_disconnects_mid_audio_stops_its_synthesis(tmp_path):
    ticks = iter(range(0, 10**9, 1000))  # a clock that races ahead: the stream asks for one chunk per call
    with wyoming_in_process(tmp_path, hold=1, clock=lambda: float(next(ticks))) as served:
        planned = served.container.synthesize()(TtsRequest(text=LONG_TEXT, return_base64=True)).chunks
        served.engine.calls.clear()

        async def run() -> None:
            client = AsyncTcpClient("127.0.0.1", served.port)
            await client.connect()
            await client.write_event(Synthesize(text=LONG_TEXT).event())
            await read_until(client, "audio-chunk")
            await client.disconnect()

        asyncio.run(run())
        served.engine.gate.set()  # a second chunk, if the server asked for it before it saw the client leave
        events = speak(served.port, "The server is still up.")  # a new client is answered
    spoken = [call for call in served.engine.calls if call[0].text != "The server is still up."]
    assert planned >= 10 and len(spoken) <= 3  # one chunk per call: the rest of the paragraph was never asked for
    assert events[-1].type == "audio-stop"


def test_sixteen_concurrent_clients_are_answered_and_batched_together(tmp_path):
    with wyoming_in_process(tmp_path, hold=0) as served:
        texts = [f"Client number {i} speaks." for i in range(16)]

        async def run() -> list[list[Event]]:
            return await asyncio.gather(*(speaking(served.port, text) for text in texts))

        async def release() -> None:
            await asyncio.to_thread(served.engine.held.wait, TIMEOUT)
            batcher = served.container.batched_engine()
            rest = len(texts) - served.engine.held_items  # requests that came too late for the held call
            assert await asyncio.to_thread(batcher.wait_until_queued, rest, TIMEOUT)
            served.engine.gate.set()

        async def both() -> list[list[Event]]:
            answers, _ = await asyncio.gather(run(), release())
            return answers

        answers = asyncio.run(both())
        samples = [expected_samples(served.container, text) for text in texts]
    assert [len(pcm(events)) // 2 for events in answers] == samples
    # every client's speech in two engine calls: the held one, and one with all the others
    assert len(served.engine.calls[0]) + len(served.engine.calls[1]) == len(texts)


def test_sentences_complete_only_when_what_follows_has_arrived():
    sentences = Sentences(1000)
    assert sentences.add("Dr") == [] and sentences.add("y. Really?") == ["Dry."]
    assert sentences.add(" Yes!\nNext line") == ["Really?", "Yes!"]
    assert sentences.add("。你好。") == ["Next line。", "你好。"]
    assert sentences.add(" \u201cQuoted.\u201d Tail") == ["\u201cQuoted.\u201d"]
    assert sentences.finish() == "Tail" and sentences.finish() == ""


def test_text_without_sentence_ends_is_cut_at_a_space_within_the_limit():
    sentences = Sentences(12)
    assert sentences.add("one two three four") == ["one two"]
    assert sentences.add(" five six seven") == ["three four", "five six"]
    assert sentences.add(" " + "x" * 30) == ["seven", "x" * 12, "x" * 12]
    assert sentences.finish() == "x" * 6


def wait_for_port(port: int, process, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.2)


def fake_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT),
        "LOG_FORMAT": "json",
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path / 'store'}",
        "VOICE_CACHE_DIR": str(tmp_path / "voice-cache"),
    }


def test_the_wyoming_command_serves_describe_and_synthesis(tmp_path):
    port = free_port()
    log_path = tmp_path / "wyoming.log"
    command = [sys.executable, "-m", "entrypoints.wyoming_server", "--uri", f"tcp://127.0.0.1:{port}"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **fake_env(tmp_path)}, stdout=log, stderr=log)
    try:
        wait_for_port(port, process, log_path)
        events = speak(port, "Hello from the command line.")
    finally:
        stop(process)
    assert events[0].type == "audio-start" and events[-1].type == "audio-stop" and len(pcm(events)) > RATE // 2


def test_the_openai_server_also_serves_wyoming_with_one_model(tmp_path):
    http_port, wyoming_port = free_port(), free_port()
    env = {**fake_env(tmp_path), "WYOMING_URI": f"tcp://127.0.0.1:{wyoming_port}"}
    command = [sys.executable, "-m", "entrypoints.openai_api", "--host", "127.0.0.1", "--port", str(http_port)]
    base = f"http://127.0.0.1:{http_port}"
    with serving_process(command, env, tmp_path / "server.log", f"{base}/health", 120) as process:
        wait_for_port(wyoming_port, process, tmp_path / "server.log")
        events = speak(wyoming_port, "Spoken over Wyoming.")
        answer = requests.post(
            f"{base}/v1/audio/speech",
            json={"model": "tts-1", "input": "Spoken over HTTP.", "response_format": "pcm", "stream": False},
            timeout=60,
        )
    assert events[-1].type == "audio-stop" and len(pcm(events)) > RATE // 2
    assert answer.status_code == 200 and len(answer.content) > RATE // 2
