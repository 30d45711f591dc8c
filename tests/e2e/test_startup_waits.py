"""Jobs sent while the worker starts wait for it: none is refused and none runs before the
worker is ready. The worker runs as the image starts it (`python -m entrypoints.runpod_handler`)
on the real engine with the tiny checkpoint, so its start-up (torch, the model, the
warm-up) takes seconds, against the loopback stand-in of RunPod's queue, which holds the
jobs from before the process exists. Order is checked, never time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.worker import log_events
from tests.helpers import script_settings
from tests.runpod_queue import job_queue, queue_worker

pytestmark = pytest.mark.slow


def test_jobs_sent_during_start_up_wait_and_none_runs_before_ready(tmp_path: Path) -> None:
    settings = script_settings("make_tiny_checkpoint.py", tmp_path / "ckpt")
    log_path = tmp_path / "worker.log"
    workdir = tmp_path / "app"
    seen_at_first_take: list[str] = []

    def first_take(events: list) -> bool:
        if any(e.kind == "take" for e in events):
            if not seen_at_first_take:  # what the worker had logged when it first took a job
                seen_at_first_take.append(log_path.read_text(errors="replace"))
            return True
        return False

    with job_queue() as queue:
        inputs = [{"text": f"Job number {n} was sent before the worker started.", "nfe_step": 4} for n in range(3)]
        job_ids = queue.submit_many(inputs)
        env = {**settings, "TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1", "TTS_DTYPE": "fp32",
               "STORAGE_URL": f"file://{tmp_path / 'store'}"}  # fmt: skip
        with queue_worker(queue, workdir, log_path, env, stop_timeout=60):
            queue.wait_for(first_take, timeout=600)
            answers = queue.wait_done(*job_ids, timeout=600)

    assert '"worker_ready"' in seen_at_first_take[0], "the worker took a job before it was ready"
    for job_id in job_ids:
        assert answers[job_id]["output"]["status"] == "completed", answers[job_id]
    events = log_events(log_path.read_text(errors="replace"))
    ready = next(i for i, e in enumerate(events) if e.get("event") == "worker_ready")
    done = [i for i, e in enumerate(events) if e.get("event") == "job_done"]
    assert len(done) == len(job_ids) and min(done) > ready
