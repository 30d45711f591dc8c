"""A loopback stand-in for RunPod's job queue, and the worker as the image starts it taking jobs from it.

The runpod SDK's worker loop (runpod/serverless/worker.py, modules/rp_scale.py, rp_job.py,
rp_http.py, rp_ping.py; runpod 1.12.0) talks to the platform only through these URLs,
read from the environment at import:

- `RUNPOD_WEBHOOK_GET_JOB` with `$ID` = worker id: `GET .../job-take/<worker>?...&job_in_progress=0|1`
  for one job (204: none; 200: a job object), or, when it has room for several,
  `GET .../job-take-batch/<worker>?...&batch_size=N&job_in_progress=...` (200: a list).
  The SDK retries at once on 204, so this stand-in holds an empty take open for a moment
  (a long poll, as the platform does).
- The stop channel, derived from it: `GET .../job-stop/<worker>?...` (204, or `{"jobsToStop": [ids]}`).
- `RUNPOD_WEBHOOK_POST_OUTPUT` and `RUNPOD_WEBHOOK_POST_STREAM` with `$RUNPOD_POD_ID` = worker id
  and `$ID` = job id, plus `&isStream=true|false`: a POST whose body is the JSON of
  `{"output": ...}` or `{"error": "..."}`; a stream POST carries one yielded piece. A progress
  post (`runpod.serverless.progress_update`) goes to the job-done URL too, as
  `{"status": "IN_PROGRESS", "output": progress}`: recorded as a "progress" event, not "done".
- `RUNPOD_WEBHOOK_PING` (only when RUNPOD_AI_API_KEY and RUNPOD_POD_ID are set): `GET` with
  `job_id` (the jobs in progress) and `runpod_version`, every RUNPOD_PING_INTERVAL ms.

Everything the worker sends is recorded in arrival order as `Event`s, so tests assert on
the order of events, never on timing.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.loopback import serving
from harness.processes import ROOT, Process, launched

WORKER_ID = "worker-under-test"
API_KEY = "queue-stand-in-key"
LONG_POLL_SECONDS = 0.5  # how long an empty take or stop poll is held open, as the platform does


@dataclass(frozen=True)
class Event:
    kind: str  # "take", "stream", "progress", "done", "ping", "stop-poll"
    job_id: str | None = None
    body: Any = None
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class JobQueue:
    """The platform's side: jobs waiting to be taken and everything the worker sent back."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.events: list[Event] = []
        self._pending: deque[dict[str, Any]] = deque()
        self._changed = threading.Condition()
        self.refuse_output: dict[str, str] = {}  # job id -> "500" or "drop": how its output POST fails
        self.output_attempts: dict[str, int] = {}
        self.stop: set[str] = set()  # job ids to announce on the stop channel

    # --- the test's side ------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The variables RunPod sets on a worker, pointing at this stand-in."""
        base = self.base_url
        return {
            "RUNPOD_WEBHOOK_GET_JOB": f"{base}/v2/test-endpoint/job-take/$ID?gpu=CPU",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/v2/test-endpoint/job-done/$RUNPOD_POD_ID/$ID?gpu=CPU",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/v2/test-endpoint/job-stream/$RUNPOD_POD_ID/$ID?gpu=CPU",
            "RUNPOD_WEBHOOK_PING": f"{base}/v2/test-endpoint/ping/$RUNPOD_POD_ID?gpu=CPU",
            "RUNPOD_PING_INTERVAL": "1000",
            "RUNPOD_POD_ID": WORKER_ID,
            "RUNPOD_AI_API_KEY": API_KEY,
            # the SDK's start-up checks: no GPU here, and its network probe would leave loopback
            "RUNPOD_SKIP_GPU_CHECK": "true",
            "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        }

    def submit(self, job_input: dict[str, Any], job_id: str | None = None) -> str:
        return self.submit_many([job_input], [job_id] if job_id else None)[0]

    def submit_many(self, inputs: list[dict[str, Any]], job_ids: list[str] | None = None) -> list[str]:
        """Queue jobs at once, so a worker's next take sees all of them."""
        ids = job_ids or [f"job-{uuid.uuid4().hex[:12]}" for _ in inputs]
        with self._changed:
            self._pending.extend({"id": i, "input": job_input} for i, job_input in zip(ids, inputs, strict=True))
            self._changed.notify_all()
        return ids

    def wait_for(self, predicate: Any, timeout: float = 120) -> list[Event]:
        """Block until `predicate(events)` holds; returns the events then. The timeout only
        bounds a hang: tests synchronise on what the worker sent, never on time."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.events), timeout):
                raise TimeoutError(f"the queue never saw what the test waited for; events: {self._summary()}")
            return list(self.events)

    def wait_done(self, *job_ids: str, timeout: float = 120) -> dict[str, Any]:
        """The final body posted for each job (the last one, after any retries)."""
        self.wait_for(lambda events: set(job_ids) <= {e.job_id for e in events if e.kind == "done"}, timeout)
        return {job_id: self.done_body(job_id) for job_id in job_ids}

    def done_body(self, job_id: str) -> Any:
        return [e.body for e in self.events if e.kind == "done" and e.job_id == job_id][-1]

    def of(self, job_id: str) -> list[Event]:
        return [e for e in self.events if e.job_id == job_id]

    def _summary(self) -> list[tuple[str, str | None]]:
        return [(e.kind, e.job_id) for e in self.events[-30:]]

    # --- the worker's side -------------------------------------------------------------
    def _record(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def _take(self, count: int, query: dict[str, list[str]], headers: dict[str, str]) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._pending), LONG_POLL_SECONDS)
            taken = [self._pending.popleft() for _ in range(min(count, len(self._pending)))]
            if taken:
                for job in taken:
                    self.events.append(Event("take", job["id"], len(taken), query, headers))
                self._changed.notify_all()
            return taken

    def _stop_poll(self) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self.stop), LONG_POLL_SECONDS)
            ids, self.stop = sorted(self.stop), set()
            return ids


@contextmanager
def job_queue() -> Iterator[JobQueue]:
    state: JobQueue

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            parts = url.path.strip("/").split("/")  # v2, endpoint, action, worker[, job]
            action = parts[2]
            headers = {k.lower(): v for k, v in self.headers.items()}
            if action == "job-take":
                jobs = state._take(1, query, headers)
                self._reply(200, jobs[0]) if jobs else self._reply(204)
            elif action == "job-take-batch":
                jobs = state._take(int(query["batch_size"][0]), query, headers)
                self._reply(200, jobs) if jobs else self._reply(204)
            elif action == "job-stop":
                ids = state._stop_poll()
                self._reply(200, {"jobsToStop": ids}) if ids else self._reply(204)
            elif action == "ping":
                state._record(Event("ping", None, None, query, headers))
                self._reply(200, {})
            else:
                self._reply(404, {"error": self.path})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            parts = url.path.strip("/").split("/")
            action, job_id = parts[2], parts[4]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode())
            headers = {k.lower(): v for k, v in self.headers.items()}
            kind = {"job-done": "done", "job-stream": "stream"}.get(action)
            if kind == "done" and isinstance(body, dict) and body.get("status") == "IN_PROGRESS":
                kind = "progress"  # the platform keeps the job running and shows this in /status
            if kind is None:
                self._reply(404, {"error": self.path})
                return
            refusal = state.refuse_output.get(job_id) if kind == "done" else None
            if refusal is not None:
                with state._changed:
                    state.output_attempts[job_id] = state.output_attempts.get(job_id, 0) + 1
                    state.events.append(Event("refused", job_id, body, query, headers))
                    state._changed.notify_all()
                if refusal == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)  # no answer at all
                    return
                self._reply(500, {"error": "stand-in refuses this output"})
                return
            state._record(Event(kind, job_id, body, query, headers))
            self._reply(200, {})

    with serving(Handler, name="runpod-queue-stand-in") as base_url:
        state = JobQueue(base_url)
        yield state


@contextmanager
def queue_worker(
    queue: JobQueue, workdir: Path, log_path: Path, env: dict[str, str], stop_timeout: float = 30
) -> Iterator[Process]:
    """The worker as the image starts it (`python -m entrypoints.runpod_handler`, no local API),
    run from `workdir` with RunPod's variables pointing at `queue`; none of this machine's own
    RUNPOD_ variables or store settings leak in. Its log (JSON) is `log_path`."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)  # keeps a wheel target
    full_env = {"PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **queue.env(), **env}
    command = [sys.executable, "-m", "entrypoints.runpod_handler"]
    drop = ("RUNPOD_", "STORAGE_URL", "S3_BUCKET")
    with launched(command, full_env, log_path, workdir, stop_timeout, drop) as process:
        yield process
