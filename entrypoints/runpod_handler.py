"""The RunPod serverless worker: `python -m entrypoints.runpod_handler [--rp_serve_api ...]`.

Booting (configure logs, build the container, load and warm the model) happens once,
before `runpod.serverless.start`, so the first job and a FlashBoot snapshot find the
worker ready. The handler is `async` and runs each job in a thread: runpod calls a plain
`def` handler inside its event loop, where jobs could never overlap.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from container import build_container
from entrypoints.logging_setup import configure_logging
from entrypoints.service import WorkerService

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
DEFAULT_CONCURRENCY = 4
log = structlog.get_logger("worker")


def boot() -> WorkerService:
    started = time.perf_counter()
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"), os.environ.get("LOG_FORMAT", "json"))
    container = build_container()
    engine = container.batched_engine()
    service = container.service()
    engine.warm_up()
    log.info(
        "worker_ready",
        engine=engine.model_id,
        store=container.config.storage_url(),
        ready_seconds=round(time.perf_counter() - started, 3),
    )
    return service


def make_handler(service: WorkerService) -> Handler:
    async def handler(job: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(service.handle, job.get("input"), str(job.get("id", "-")))

    return handler


def make_streaming_handler(service: WorkerService) -> Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]]:
    """runpod streams only from a generator handler, and then answers `/runsync` with the
    list of everything it yielded; so streaming is a worker mode (STREAMING=1), not a
    per-job switch, and the job API's plain answers stay plain on a normal worker."""

    async def handler(job: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        answers = service.stream(job.get("input"), str(job.get("id", "-")))
        while (answer := await asyncio.to_thread(next, answers, None)) is not None:
            yield answer

    return handler


def concurrency(current: int) -> int:
    return max(1, int(os.environ.get("MAX_CONCURRENCY", str(DEFAULT_CONCURRENCY)) or DEFAULT_CONCURRENCY))


def main() -> None:
    import runpod
    from runpod.serverless.modules.rp_logger import RunPodLogger

    # runpod logs every handler output at its default DEBUG level: the text and the audio.
    RunPodLogger().set_level(os.environ.get("RUNPOD_LOG_LEVEL") or "INFO")
    service = boot()
    streaming = os.environ.get("STREAMING", "").strip().lower() in ("1", "true", "yes", "on")
    handler = make_streaming_handler(service) if streaming else make_handler(service)
    runpod.serverless.start({"handler": handler, "concurrency_modifier": concurrency, "return_aggregate_stream": True})


if __name__ == "__main__":
    main()
