"""A streamed answer whose client hangs up frees the engine's rows at the next step: through
the OpenAI server, the use case and the step scheduler, with a fake row engine (no checkpoint)
that holds one step of the stream's second engine call until the client has left."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Sequence

import httpx
import pytest
import structlog

from adapters.fake_engine import FakeEngine
from adapters.step_scheduler import StepScheduler
from application.bootstrap import bootstrap
from ports.tts_engine import EngineCapacity
from tests.e2e.openai_server import serving_in_process
from tests.e2e.test_openai_streaming import PARAGRAPH
from tests.helpers import make_test_container
from tests.unit.test_step_scheduler import FakeRow, FakeRowEngine

SAFETY = 60  # seconds; a bound on a hang, never how the test synchronises


class HeldStep(FakeRowEngine):
    """The first step after `finishes` engine calls have finished holds until `release` (after
    one: the stream's first chunk has been delivered)."""

    def __init__(self, finishes: int) -> None:
        super().__init__()
        self.finishes = finishes
        self.finished = 0
        self.holding = threading.Event()
        self.release = threading.Event()

    def capacity(self) -> EngineCapacity:
        return EngineCapacity(batch_items=8, jobs=4)

    def warm_up(self, reference: object = None) -> None:
        return None

    def synthesize(self, items, *, urgent: bool = False):  # the port, for anything that calls it directly
        return FakeEngine().synthesize(items)

    def step(self, rows: Sequence[FakeRow]) -> None:
        super().step(rows)
        if self.finished >= self.finishes and not self.holding.is_set():
            self.holding.set()
            assert self.release.wait(SAFETY)

    def finish(self, rows: Sequence[FakeRow]) -> list:
        self.finished += 1
        return super().finish(rows)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + SAFETY
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_stream_whose_client_left_frees_its_rows_at_the_next_step() -> None:
    engine = HeldStep(finishes=1)
    speech = {"model": "tts-1", "input": PARAGRAPH, "voice": "default", "response_format": "pcm"}
    container = make_test_container(engine=engine)
    scheduler = container.batched_engine()
    assert isinstance(scheduler, StepScheduler)
    with structlog.testing.capture_logs() as logs, serving_in_process(bootstrap(container=container)) as server:
        with httpx.stream("POST", f"{server.base_url}/v1/audio/speech", json=speech, timeout=SAFETY) as answer:
            pieces = answer.iter_bytes()
            assert next(pieces)  # the first chunk is out
            assert engine.holding.wait(SAFETY)  # a step of the stream's next call is running
        # the client hung up while that step ran: the server notices and cancels the job at once
        wait_for(lambda: any(slot.ticket.cancelled for slot in scheduler._slots), "the server saw the client leave")
        engine.release.set()
        wait_for(lambda: any(e["event"] == "step_scheduler_cancelled" for e in logs), "the rows were dropped")
        steps_at_cancel = len(engine.steps())
        # the server goes on: another job runs, and none of the stream's rows step again
        again = httpx.post(f"{server.base_url}/v1/audio/speech", json={**speech, "input": "Hello."}, timeout=SAFETY)
        assert again.status_code == 200
        wait_for(lambda: any(e["event"] == "speech_abandoned" for e in logs), "the stream's end was logged")
    assert not any(e["event"] in ("speech_failed", "speech_crashed") for e in logs)  # its outcome, logged once
    first = engine.steps()[0]
    later = {name for rows in engine.steps()[steps_at_cancel:] for name in rows}
    assert later == {"Hello."}
    # the stream's second call stepped once (the held step), not its NFE steps
    of_the_second_call = [rows for rows in engine.steps() if rows != first and "Hello." not in rows]
    assert len(of_the_second_call) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["one-piece", "first-chunk"])
def test_a_client_that_leaves_before_any_audio_frees_its_rows_at_the_next_step(stream: bool) -> None:
    """An answer in one piece is sent once the audio is whole, and a stream starts once its first
    chunk is: a client that gives up waiting before (a timeout, a closed tab) would otherwise
    leave its rows stepping to the end for nobody."""
    engine = HeldStep(finishes=0)
    speech = {"model": "tts-1", "input": PARAGRAPH, "voice": "default", "response_format": "wav", "stream": stream}
    container = make_test_container(engine=engine)
    scheduler = container.batched_engine()
    with structlog.testing.capture_logs() as logs, serving_in_process(bootstrap(container=container)) as server:
        client = http.client.HTTPConnection(server.base_url.removeprefix("http://"), timeout=SAFETY)
        client.request("POST", "/v1/audio/speech", json.dumps(speech), {"Content-Type": "application/json"})
        assert engine.holding.wait(SAFETY)  # its first step is running
        client.close()  # the client gives up
        wait_for(lambda: any(slot.ticket.cancelled for slot in scheduler._slots), "the server saw the client leave")
        engine.release.set()
        wait_for(lambda: any(e["event"] == "step_scheduler_cancelled" for e in logs), "the rows were dropped")
        wait_for(lambda: any(e["event"] == "speech_abandoned" for e in logs), "the answer's end was logged")
        again = httpx.post(f"{server.base_url}/v1/audio/speech", json={**speech, "input": "Hello."}, timeout=SAFETY)
        assert again.status_code == 200
    (abandoned,) = [e for e in logs if e["event"] == "speech_abandoned"]
    assert abandoned["stream"] is stream and abandoned["chunks"] == 0
    assert not any(e["event"] in ("speech_failed", "request_failed", "request_crashed") for e in logs)
    assert [rows for rows in engine.steps() if "Hello." not in rows] == [engine.steps()[0]]  # the held step only
