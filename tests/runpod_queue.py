"""RunPod's queue stand-in the tests import; it lives in `harness.runpod_queue`, shared with the benchmarks."""

from harness.runpod_queue import API_KEY, LONG_POLL_SECONDS, WORKER_ID, Event, JobQueue, job_queue, queue_worker

__all__ = ["API_KEY", "LONG_POLL_SECONDS", "WORKER_ID", "Event", "JobQueue", "job_queue", "queue_worker"]
