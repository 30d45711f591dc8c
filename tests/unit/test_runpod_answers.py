"""What the RunPod handlers hand runpod: answers whose repr (which runpod builds for its DEBUG
lines at every log level) leaves the audio out, and a streaming job that ends at its last answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from entrypoints.runpod_handler import SHOWN_CHARS, make_handler, make_streaming_handler

AUDIO = "UklGR" + "A" * 1_000_000  # a megabyte of base64, as a 20 s wav answer carries


class Service:
    """A job service with canned answers; `pulls` counts the stream's resumptions."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.pulls = 0

    def handle(self, payload: object, job_id: str = "-", progress: object = None) -> dict[str, Any]:
        return self.answers[-1]

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        for answer in self.answers:
            self.pulls += 1
            yield answer
        self.pulls += 1


def streamed(service: Service) -> list[dict[str, Any]]:
    handler = make_streaming_handler(service)  # type: ignore[arg-type]

    async def consume() -> list[dict[str, Any]]:
        return [answer async for answer in handler({"id": "j", "input": {}})]

    return asyncio.run(consume())


def test_an_answers_repr_gives_long_strings_by_their_length_and_it_is_the_same_answer() -> None:
    text = "x" * SHOWN_CHARS  # as long as a string may be and show
    answer = {"duration": 20.0, "audio_base64": AUDIO, "text": text, "segments": [{"voice": "v"}], "status": "done"}
    plain = asyncio.run(make_handler(Service([answer]))({"id": "j", "input": {}}))  # type: ignore[arg-type]
    for got in (plain, *streamed(Service([answer]))):
        line = f"Handler output: {got}"  # as runpod's rp_job formats it, whatever its log level
        assert len(line) < 500
        assert f"'audio_base64': '<{len(AUDIO)} chars>'" in line and f"'text': '{text}'" in line
        assert "'duration': 20.0" in line and "'segments': [{'voice': 'v'}]" in line
        assert got == answer and json.loads(json.dumps(got)) == answer


def test_a_stream_ends_at_its_last_answer_without_pulling_again() -> None:
    pieces = [{"chunk": 0, "status": "streaming"}, {"chunk": 1, "status": "streaming"}, {"status": "completed"}]
    service = Service(pieces)
    assert streamed(service) == pieces
    assert service.pulls == 3  # each answer's pull; none more to learn that the job is over


def test_a_plain_job_or_a_refusal_is_the_only_answer() -> None:
    for answer in ({"status": "completed", "duration": 1.0}, {"error": "invalid_input: text is empty"}):
        service = Service([answer])
        assert streamed(service) == [answer]
        assert service.pulls == 1
