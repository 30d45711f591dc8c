"""The mixed load the e2e tests import; it lives in `harness.load`, shared with the benchmarks."""

from harness.load import FOX, UPLOAD, VOICE, LoadReport, answer_code, hostile_jobs, job_mix, run_load

__all__ = ["FOX", "UPLOAD", "VOICE", "LoadReport", "answer_code", "hostile_jobs", "job_mix", "run_load"]
