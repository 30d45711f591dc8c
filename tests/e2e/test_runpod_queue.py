"""The worker as the image starts it (`python -m entrypoints.runpod_handler`, no local API),
taking jobs from a loopback stand-in of RunPod's queue (harness/runpod_queue.py) through the
runpod SDK's own worker loop: batch takes, streamed pieces, job errors, output posts that
fail, and SIGTERM mid-job. Fake engine, except the batching test on the tiny checkpoint."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from harness.loopback import serving
from tests.e2e.worker import Process, free_port, log_events
from tests.helpers import audio_file
from tests.runpod_queue import API_KEY, JobQueue, job_queue
from tests.runpod_queue import queue_worker as harness_queue_worker

pytestmark = pytest.mark.slow

ERROR_CODES = {
    "invalid_input",
    "voice_not_found",
    "voice_exists",
    "invalid_audio",
    "download_failed",
    "storage_error",
    "engine_error",
}
#: the shared workers' settings: "0" also carries what the progress test needs (progress after
#: every engine call of two items; aliases, one to a missing voice), which changes nothing for a
#: one-chunk job; "3 at once" takes up to three jobs at a time
SHARED = {
    "0": {"STREAMING": "0", "BATCH_MAX_ITEMS": "2", "PROGRESS_INTERVAL": "0",
          "VOICE_ALIASES": "alloy=default,echo=ghost"},
    "1": {"STREAMING": "1"},
    "3 at once": {"MAX_CONCURRENCY": "3"},
}  # fmt: skip
LONG_TEXT = " ".join(f"Sentence number {i} is here to make the text long enough to split." for i in range(12))


@contextmanager
def queue_worker(queue: JobQueue, tmp_path: Path, **env: str) -> Iterator[Process]:
    """The image's CMD, run from an empty folder, with RunPod's variables pointing at `queue`."""
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path / 'store'}",
           "VOICE_CACHE_DIR": str(tmp_path / "voice-cache"), **env}  # fmt: skip
    with harness_queue_worker(queue, tmp_path / "app", tmp_path / "worker.log", env) as process:
        process.log_path = tmp_path / "worker.log"  # type: ignore[attr-defined]
        yield process


@pytest.fixture(scope="module")
def shared_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], tuple[JobQueue, Any]]]:
    """`shared_worker(name)`: a queue and a worker on it with SHARED[name]'s settings, started on
    first use and shared by the tests of this module that only send their own jobs and read
    their own jobs' events (each worker start costs seconds of CPU: the app's imports)."""
    with contextlib.ExitStack() as stack:
        started: dict[str, tuple[JobQueue, Any]] = {}

        def get(name: str) -> tuple[JobQueue, Any]:
            if name not in started:
                queue = stack.enter_context(job_queue())
                tmp = tmp_path_factory.mktemp(f"shared-{name}")
                started[name] = queue, stack.enter_context(queue_worker(queue, tmp, **SHARED[name]))
            return started[name]

        yield get


def worker_events(process: Process, event: str) -> list[dict]:
    return log_events(Path(process.log_path).read_text(errors="replace"), event)  # type: ignore[attr-defined]


def test_jobs_are_taken_in_batches_up_to_max_concurrency_and_answered(shared_worker):
    queue, worker = shared_worker("3 at once")
    ids = queue.submit_many([{"text": f"Job number {i}.", "seed": i, "return": "base64"} for i in range(7)])
    done = queue.wait_done(*ids)
    assert worker.poll() is None
    ours = [e for e in queue.events if e.job_id in ids]  # the worker may have served another test's jobs before
    takes = [e for e in ours if e.kind == "take"]
    assert sorted(e.job_id for e in takes) == sorted(ids)  # each job taken once
    assert takes[0].body == 3 and takes[0].query["batch_size"] == ["3"]  # the first take asks for 3 at once
    assert all(e.body <= 3 and int(e.query.get("batch_size", ["1"])[0]) <= 3 for e in takes)  # never more
    assert all(e.headers.get("authorization") == API_KEY for e in takes)
    in_flight = peak = 0
    for event in ours:  # taken but not yet answered, in the order the queue saw them
        in_flight += {"take": 1, "done": -1}.get(event.kind, 0)
        peak = max(peak, in_flight)
    assert peak == 3
    for i, job_id in enumerate(ids):
        output = done[job_id]["output"]
        assert output["status"] == "completed" and output["seed"] == i and output["text"] == f"Job number {i}."
        assert base64.b64decode(output["audio_base64"])[:4] == b"RIFF"
    assert all(e.query["isStream"] == ["false"] for e in ours if e.kind == "done")


def test_pings_report_the_worker_and_its_jobs(shared_worker):
    queue, _ = shared_worker("0")
    queue.wait_done(queue.submit({"text": "Anyone there?"}))
    pings = queue.wait_for(lambda events: any(e.kind == "ping" for e in events))
    ping = next(e for e in pings if e.kind == "ping")
    assert ping.headers.get("authorization") == API_KEY
    assert ping.query.get("runpod_version")


def test_a_streamed_job_posts_its_chunks_one_by_one_before_its_output(shared_worker):
    queue, worker = shared_worker("1")
    job_id = queue.submit({"text": LONG_TEXT, "stream": True, "seed": 5, "format": "wav"})
    plain_id = queue.submit({"endpoint": "list_voices"})
    done = queue.wait_done(job_id, plain_id)
    assert worker.poll() is None
    events = [e for e in queue.of(job_id) if e.kind in ("stream", "done")]
    streamed = [e.body["output"] for e in events if e.kind == "stream"]
    assert [e.kind for e in events] == ["stream"] * len(streamed) + ["done"]  # every chunk before the output
    chunks = [piece for piece in streamed if piece["status"] == "streaming"]
    assert len(chunks) >= 3
    assert [piece["chunk"] for piece in chunks] == list(range(len(chunks)))  # one per POST, in order
    assert all(base64.b64decode(piece["audio_base64"])[:4] == b"RIFF" for piece in chunks)
    assert streamed[-1]["status"] == "completed" and streamed[-1]["seed"] == 5
    assert done[job_id] == {"output": streamed}  # return_aggregate_stream: the output repeats every piece
    plain = done[plain_id]["output"]  # a plain job on a streaming worker: one piece, the usual answer
    assert len(plain) == 1 and plain[0]["status"] == "completed" and plain[0]["voices"][0]["name"] == "default"


@pytest.mark.parametrize("streaming", ["0", "1"])
def test_failed_jobs_reach_the_queue_as_job_errors_with_stable_codes(shared_worker, streaming):
    bad = {
        "invalid_input": {"text": ""},
        "voice_not_found": {"text": "Hi.", "voice": "nobody"},
        "voice_exists": {"endpoint": "upload", "voice_name": "default", "voice_file_base64": "AAAA"},
        "invalid_audio": {"endpoint": "upload", "voice_name": "junk", "voice_file_base64": "AAAA"},
    }
    queue, worker = shared_worker(streaming)
    ids = dict(zip(bad, queue.submit_many(list(bad.values())), strict=True))
    good = queue.submit({"text": "Still fine.", "return": "base64"})
    done = queue.wait_done(good, *ids.values())
    assert worker.poll() is None
    for code, job_id in ids.items():
        body = done[job_id]
        assert set(body) == {"error"}, body  # a job error, no output
        assert body["error"].split(": ", 1)[0] == code
        assert "Traceback" not in body["error"] and "traceback" not in body["error"]
        assert not [e for e in queue.of(job_id) if e.kind == "stream"]
    output = done[good]["output"]
    assert (output[-1] if streaming == "1" else output)["status"] == "completed"


def test_a_job_whose_output_cannot_be_posted_does_not_kill_the_worker(shared_worker):
    # taken together, so the SDK's retries of the two failing posts overlap instead of adding up
    queue, worker = shared_worker("3 at once")
    refused, dropped, during = "job-refused", "job-dropped", "job-during"
    queue.refuse_output.update({refused: "500", dropped: "drop"})
    jobs = [
        {"text": "Nobody will hear this."},
        {"text": "Nor this."},
        {"text": "This arrives.", "return": "base64"},
    ]
    queue.submit_many(jobs, [refused, dropped, during])
    done = queue.wait_done(during)
    given_up = [f"{job_id} | Failed to return job results" for job_id in (refused, dropped)]
    wait_until(lambda: all(line in Path(worker.log_path).read_text() for line in given_up))  # type: ignore[attr-defined]
    after = queue.submit({"text": "And so does this, after the SDK gave up on both.", "return": "base64"})
    done |= queue.wait_done(after)
    assert worker.poll() is None
    assert queue.output_attempts[refused] >= 1 and queue.output_attempts[dropped] >= 1
    assert done[during]["output"]["status"] == "completed" and done[after]["output"]["status"] == "completed"
    assert not [e for e in queue.events if e.kind == "done" and e.job_id in (refused, dropped)]


def wait_until(condition: Callable[[], bool], timeout: float = 120) -> None:
    """Poll a condition no event announces (a line of the worker's log); the timeout bounds a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


@contextmanager
def held_download(body: bytes) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A loopback URL whose answer waits for `release`; `asked` is set once a client asks."""
    asked, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.set()
            release.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base_url:
        try:
            yield f"{base_url}/voice.wav", asked, release
        finally:
            release.set()


def test_sigterm_in_the_middle_of_a_job_finishes_it_and_leaves_nothing_half_written(tmp_path):
    store = tmp_path / "store"
    with (
        held_download(audio_file(3.0)) as (url, asked, release),
        job_queue() as queue,
        queue_worker(queue, tmp_path, RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS="1") as worker,
    ):
        job = {"endpoint": "upload", "voice_name": "late", "voice_file_url": url, "ref_text": "Late words."}
        job_id = queue.submit(job)
        assert asked.wait(120)  # the job is in its fetch stage
        worker.send_signal(signal.SIGTERM)
        release.set()
        done = queue.wait_done(job_id)
        assert worker.wait(timeout=60) == 0
    assert done[job_id]["output"]["voice"]["name"] == "late"
    files = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    assert files == ["voices/late.json", "voices/late.wav"]  # both halves, no temp file
    meta = json.loads((store / "voices" / "late.json").read_text())
    assert meta["ref_text"] == "Late words."
    assert worker_events(worker, "worker_stopped")  # the container's resources were shut down


def test_concurrent_jobs_share_engine_batches_on_the_tiny_checkpoint(tmp_path, tiny_checkpoint):
    env = {**tiny_checkpoint, "TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1", "TTS_DTYPE": "fp32", "TTS_DEVICE": "cpu"}
    # a CPU engine runs one job at a time by default: ask for batches, which are what is tested
    env |= {"MAX_CONCURRENCY": "4", "BATCH_MAX_ITEMS": "16", "BATCH_WAIT_MS": "200", "LOG_LEVEL": "DEBUG"}
    with job_queue() as queue, queue_worker(queue, tmp_path, **env) as worker:
        jobs = [{"text": LONG_TEXT[:200], "seed": 1, "nfe_step": 4}]  # two chunks: long enough to be several items
        jobs += [{"text": f"Short job {i}.", "seed": i, "nfe_step": 4, "return": "base64"} for i in range(3)]
        ids = queue.submit_many(jobs)
        done = queue.wait_done(*ids, timeout=600)
        assert worker.poll() is None
    assert all(body["output"]["status"] == "completed" for body in done.values())
    assert [e.body for e in queue.events if e.kind == "take"] == [4] * 4  # one take of all four
    batches = worker_events(worker, "engine_batch")
    chunks = {e["job_id"]: e["chunks"] for e in worker_events(worker, "job_done")}
    assert sum(b["items"] for b in batches) == sum(chunks[i] for i in ids)  # every chunk went through the batcher
    assert max(b["jobs"] for b in batches) >= 2, batches  # jobs taken together ran in one engine call
    ready = worker_events(worker, "worker_ready")
    assert len(ready) == 1 and ready[0]["engine"].startswith("F5TTS_tiny")


def test_a_worker_that_cannot_start_stays_up_and_answers_every_job_with_the_reason(tmp_path):
    unreachable = {
        "STORAGE_URL": "s3://voices-bucket",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",  # a refused connection is as dead on the first try as after backoff
        "MAX_CONCURRENCY": "4",  # the SDK waits a second between takes of a full queue of one
    }
    with job_queue() as queue, queue_worker(queue, tmp_path, **unreachable) as worker:
        ids = queue.submit_many([{"text": "Hello."}, {"endpoint": "health"}, {"endpoint": "upload"}])
        done = queue.wait_done(*ids)
        later = queue.wait_done(queue.submit({"endpoint": "list_voices"}))
        assert worker.poll() is None  # up, not crash-looping
    answers = {body["error"] for body in [*done.values(), *later.values()]}
    assert len(answers) == 1, answers  # every job, health included, gets the same answer
    answer = answers.pop()
    assert answer.startswith("engine_error: worker failed to start: store check 'bucket' failed")
    assert "\n" not in answer and "Traceback" not in answer
    assert len(worker_events(worker, "worker_failed_to_start")) == 1


def test_exit_on_startup_failure_makes_the_worker_exit_with_the_reason(tmp_path):
    with job_queue() as queue, queue_worker(queue, tmp_path, MAX_TEXT_CHARS="lots", EXIT_ON_STARTUP_FAILURE="1") as w:
        assert w.wait(timeout=120) == 1
    last = Path(w.log_path).read_text().strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert last.startswith("worker failed to start: bad setting: MAX_TEXT_CHARS='lots'")
    assert not [e for e in queue.events if e.kind == "take"]  # it never took a job


def test_a_long_job_posts_its_progress_in_order_before_its_result(shared_worker):
    queue, worker = shared_worker("0")
    job_id, short_id, broken_id = queue.submit_many([
        {"text": LONG_TEXT, "seed": 3, "return": "base64", "voice": "alloy"},
        {"text": "One chunk only.", "return": "base64"},
        {"text": "Hello.", "voice": "echo"},
    ])  # fmt: skip
    done = queue.wait_done(job_id, short_id, broken_id)
    assert worker.poll() is None
    events = [e for e in queue.of(job_id) if e.kind in ("progress", "done")]
    assert [e.kind for e in events] == ["progress"] * (len(events) - 1) + ["done"]  # all of it before the result
    progress = [e.body["output"] for e in events[:-1]]
    assert all(e.body["status"] == "IN_PROGRESS" and e.query["isStream"] == ["false"] for e in events[:-1])
    total = progress[0]["chunks_total"]
    assert total >= 5 and [p["chunks_done"] for p in progress] == list(range(2, total, 2))  # each call but the last
    assert all(p["chunks_total"] == total for p in progress)
    shares, seconds = [p["text_share"] for p in progress], [p["audio_seconds"] for p in progress]
    assert shares == sorted(shares) and 0 < shares[0] < shares[-1] < 1 and seconds == sorted(seconds)
    output = done[job_id]["output"]
    assert output["status"] == "completed" and output["voice"] == "alloy" and output["duration"] > seconds[0]
    assert [e.kind for e in queue.of(short_id) if e.kind != "take"] == ["done"]  # one engine call: nothing to report
    assert done[broken_id]["error"].startswith("voice_not_found: voice 'echo' is an alias of 'ghost'")
    warnings = worker_events(worker, "alias_voice_missing")
    assert [(w["alias"], w["voice"]) for w in warnings] == [("echo", "ghost")]  # said at start-up
