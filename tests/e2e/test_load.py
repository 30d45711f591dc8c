"""200 mixed good and bad jobs from 16 threads through the local API."""

from __future__ import annotations

import pytest

from tests.e2e.load import run_load
from tests.e2e.worker import running_worker

pytestmark = pytest.mark.slow


def test_mixed_load_every_job_gets_its_answer_and_memory_settles(tmp_path):
    env = {
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path}/store",
        "VOICE_CACHE_DIR": str(tmp_path / "cache"),
        "MAX_VOICE_BYTES": str(1 << 20),
        "MAX_CONCURRENCY": "8",
        "LOG_LEVEL": "WARNING",
    }
    with running_worker(env, tmp_path / "worker.log") as worker:
        run_load(worker, count=200, threads=16)  # warm every path, at the same concurrency
        baseline = worker.memory_kib()["VmRSS"]
        report = run_load(worker, count=200, threads=16)
        after = worker.memory_kib()
        assert worker.runsync({"text": "Still alive."})["status"] == "COMPLETED"
    assert report.requests == 200 and report.mismatches == []
    assert after["VmRSS"] < baseline + 64 * 1024, (baseline, after)
    leftovers = [p for p in (tmp_path / "store").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
