"""`timestamps: true` on the OpenAI-compatible server (an extension field): words arrive as
`speech.words.delta` events beside the SSE audio; where the answer has no room for them
(plain audio) or the worker lacks the weights, the request is refused as invalid input."""

from __future__ import annotations

import itertools
import json

import pytest

from adapters.fake_aligner import FakeAligner
from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from tests.e2e.openai_server import serving_in_process
from tests.helpers import make_test_container
from tests.lazy_import import lazily

openai = lazily("openai")  # the official client: 0.8 s of imports, paid by the worker that runs these tests

TEXT = " ".join(f"Sentence {i} costs $4.50 and the server streams it." for i in range(5))


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0)


def test_sse_carries_the_written_words_in_order():
    with serving_in_process(bootstrap(container=make_test_container(engine=FakeEngine()))) as server:
        create = client(server).audio.speech.with_streaming_response.create
        extra = {"timestamps": True}
        with create(model="f5-tts", voice="default", input=TEXT, stream_format="sse", extra_body=extra) as resp:
            events = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and kinds.count("speech.words.delta") > 1
    assert kinds.index("speech.audio.delta") < kinds.index("speech.words.delta")  # audio first, then its words
    words = [w for e in events if e["type"] == "speech.words.delta" for w in e["words"]]
    assert [w["word"] for w in words] == TEXT.split()
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(words))


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"timestamps": True}, "timestamps"), ({"timestamps": True, "stream": False}, "timestamps"),
     ({"captions": "srt"}, "captions")],
)  # fmt: skip
def test_where_the_answer_has_no_room_for_words_it_is_refused(extra, param):
    container = make_test_container(engine=FakeEngine())
    with serving_in_process(bootstrap(container=container)) as server, pytest.raises(openai.BadRequestError) as caught:
        client(server).audio.speech.create(model="tts-1", voice="alloy", input="Hi.", extra_body=extra)
    assert caught.value.code == "invalid_input" and caught.value.body["param"] == param


def test_without_aligner_weights_sse_timestamps_are_refused_before_any_audio():
    container = make_test_container(engine=FakeEngine(), aligner=FakeAligner(available=False))
    with serving_in_process(bootstrap(container=container)) as server, pytest.raises(openai.BadRequestError) as caught:
        client(server).audio.speech.create(
            model="tts-1", voice="alloy", input="Hi.", extra_body={"timestamps": True, "stream_format": "sse"}
        )
    assert caught.value.code == "invalid_input" and "built without" in caught.value.message
