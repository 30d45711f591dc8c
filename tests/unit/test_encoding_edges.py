"""Each way in encodes an answer once, for its own protocol: a counting encoder sees every
sample of the answer once (the use case encodes nothing); a streamed job holds its file, not its samples."""

from __future__ import annotations

import base64
import io
import tracemalloc
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import pytest
import soundfile as sf
from starlette.testclient import TestClient

from adapters.av_encoder import AvEncoder
from adapters.soundfile_codec import SoundfileCodec
from domain.audio import Audio
from domain.use_cases.synthesize import StreamChunk, TtsResult
from entrypoints.openai_api import ServerSettings, create_app
from entrypoints.service import WorkerService
from entrypoints.wyoming_tts import WyomingTts
from ports.audio_encoder import AudioStream
from tests.helpers import make_test_container

TEXT = "A first short line. Then a second sentence, a little longer. And a third one to finish the answer."


class CountingEncoder(AvEncoder):
    """The real encoder, counting the samples each `encode` call and each stream is handed
    (its own chunked files encode through `encode`)."""

    def __init__(self) -> None:
        super().__init__(SoundfileCodec())
        self.encoded: list[int] = []  # samples per `encode` call
        self.streamed = 0  # samples pushed into stream encoders

    def encode(self, audio: Audio, fmt: str) -> bytes:
        self.encoded.append(audio.num_samples)
        return super().encode(audio, fmt)

    def open_stream(self, fmt: str, sample_rate: int) -> AudioStream:
        stream, counter = super().open_stream(fmt, sample_rate), self

        class Counted:
            def push(self, audio: Audio) -> bytes:
                counter.streamed += audio.num_samples
                return stream.push(audio)

            def finish(self) -> bytes:
                return stream.finish()

        return Counted()


def _samples(output: dict) -> int:
    return round(output["duration"] * output["sample_rate"])


@pytest.fixture
def encoder() -> CountingEncoder:
    return CountingEncoder()


def test_a_job_encodes_its_answer_once(encoder):
    output = WorkerService(make_test_container(encoder=encoder).app()).handle({"text": TEXT, "return": "base64"})
    assert len(encoder.encoded) == 1 and encoder.encoded[0] == pytest.approx(_samples(output), abs=24)


def _stored(url: str) -> bytes:
    with open(url.removeprefix("file://"), "rb") as file:
        return file.read()


@pytest.mark.parametrize("ret", ["url", "base64"])
def test_a_streamed_job_encodes_each_chunk_once(encoder, ret):
    """Each chunk is a complete file (the README's contract), encoded once, whether the last
    answer stores the whole file or (inline) leaves the audio to the chunks."""
    service = WorkerService(make_test_container(encoder=encoder).app())
    *chunks, final = service.stream({"text": TEXT, "stream": True, "return": ret})
    assert len(encoder.encoded) == len(chunks) > 1 and encoder.streamed == 0
    assert sum(encoder.encoded) == pytest.approx(_samples(final), abs=24)


@pytest.mark.parametrize("fmt", ["wav", "pcm"])
def test_a_streamed_job_stores_the_whole_file_joined_from_the_chunks(encoder, fmt, tmp_path):
    """The stored whole file is joined from the chunks' files, never encoded again."""
    service = WorkerService(make_test_container(f"file://{tmp_path}", encoder=encoder).app())
    *chunks, final = service.stream({"text": TEXT, "stream": True, "format": fmt, "seed": 2})
    assert len(encoder.encoded) == len(chunks) > 1
    header = 44 if fmt == "wav" else 0
    whole, files = _stored(final["audio_url"]), [base64.b64decode(c["audio_base64"]) for c in chunks]
    assert whole[header:] == b"".join(file[header:] for file in files)
    if fmt == "wav":
        assert sf.info(io.BytesIO(whole)).frames == sum(encoder.encoded)


def test_a_streamed_compressed_job_encodes_the_whole_file_once_more(encoder, tmp_path):
    """A flac (mp3, ogg, opus, aac) of the whole answer cannot be joined from complete files of
    its pieces: its samples are encoded once more, once, at the end, for the stored file."""
    service = WorkerService(make_test_container(f"file://{tmp_path}", encoder=encoder).app())
    *chunks, final = service.stream({"text": TEXT, "stream": True, "format": "flac"})
    assert encoder.encoded[:-1] == [pytest.approx(chunk["duration"] * 24000, abs=24) for chunk in chunks]
    assert encoder.encoded[-1] == sum(encoder.encoded[:-1])
    assert _stored(final["audio_url"])[:4] == b"fLaC"


class SteadyStream:
    """A use case streaming `pieces` one-second chunks, each made as it is asked for."""

    sample_rate = 24000

    def __init__(self, pieces: int) -> None:
        self.pieces = pieces

    def stream(self, request):
        for index in range(self.pieces):
            yield StreamChunk(index, Audio(array("f", [0.25]) * self.sample_rate, self.sample_rate), 1.0)
        yield TtsResult("default", request.text, float(self.pieces), self.sample_rate, request.format, 1, self.pieces)


def test_a_streamed_wav_job_holds_its_file_never_its_samples():
    """The whole file of the last answer is joined from the chunks' files: the worker holds
    those and the joined file (2 bytes a sample each), never the answer's float samples (4
    bytes a sample) beside its file, as when the whole answer was encoded again at the end."""
    pieces = 200
    service = WorkerService(make_test_container(synthesize=SteadyStream(pieces)).app())
    tracemalloc.start()
    try:
        (answer,) = deque(service.stream({"text": "x", "stream": True, "format": "wav"}), maxlen=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer["status"] == "completed" and answer["audio_url"]
    assert peak < 2.5 * pieces * SteadyStream.sample_rate * 2


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_an_openai_stream_is_one_continuous_encoding(encoder, stream_format):
    api = make_test_container(encoder=encoder).app()
    with TestClient(create_app(api, ServerSettings()), base_url="http://127.0.0.1") as client:
        body = {
            "model": "f5-tts",
            "input": TEXT,
            "voice": "default",
            "response_format": "wav",
            "stream_format": stream_format,
        }
        answer = client.post("/v1/audio/speech", json=body)
    assert answer.status_code == 200 and encoder.encoded == []
    if stream_format == "audio":  # a streamed wav: the header, then 16-bit samples
        assert encoder.streamed == (len(answer.content) - 44) // 2 > 0


def test_an_openai_body_is_encoded_once(encoder):
    api = make_test_container(encoder=encoder).app()
    with TestClient(create_app(api, ServerSettings()), base_url="http://127.0.0.1") as client:
        body = {"model": "f5-tts", "input": TEXT, "voice": "default", "response_format": "wav", "stream": False}
        answer = client.post("/v1/audio/speech", json=body)
    assert answer.status_code == 200 and encoder.encoded == [(len(answer.content) - 44) // 2]


def test_wyoming_encodes_each_chunk_once_as_pcm(encoder):
    api = make_test_container(encoder=encoder).app()
    tts = WyomingTts(api, ThreadPoolExecutor(1))
    events = api.synthesize.stream(tts.request(TEXT, None))
    sent = 0
    while True:
        event, data = tts.next_pcm(events)
        if isinstance(event, TtsResult):
            break
        assert isinstance(event, StreamChunk) and len(data) == 2 * event.audio.num_samples
        sent += event.audio.num_samples
    assert encoder.encoded and sum(encoder.encoded) == sent
    assert round(sent / 24000, 3) == pytest.approx(event.duration, abs=1e-3)
