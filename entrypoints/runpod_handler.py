"""The RunPod serverless worker: `python -m entrypoints.runpod_handler [--rp_serve_api ...]`.

Booting (configure logs, build the container, load and warm the model) happens once,
before `runpod.serverless.start`, so the first job and a FlashBoot snapshot find the
worker ready. The handler is `async` and runs each job in a thread: runpod calls a plain
`def` handler inside its event loop, where jobs could never overlap.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import structlog

from container import Container, build_container
from entrypoints.logging_setup import configure_logging
from entrypoints.service import WorkerService
from settings import load_settings

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
log = structlog.get_logger("worker")


def boot(container: Container) -> WorkerService:
    """Load and warm the model; the caller keeps the container (it owns the batcher's thread)."""
    started = time.perf_counter()
    settings = container.settings()
    engine = container.batched_engine()
    service = container.service()
    engine.warm_up()
    log.info(
        "worker_ready",
        engine=engine.model_id,
        store=settings.resolved_storage_url,
        ready_seconds=round(time.perf_counter() - started, 3),
    )
    return service


def make_handler(service: WorkerService, executor: Executor | None = None) -> Handler:
    """`executor` runs the jobs (default: asyncio's, which has only min(32, cores + 4)
    threads: on a 16-core GPU host 20 jobs at most could reach the batcher together)."""

    async def handler(job: dict[str, Any]) -> dict[str, Any]:
        call = functools.partial(service.handle, job.get("input"), str(job.get("id", "-")))
        return await asyncio.get_running_loop().run_in_executor(executor, call)

    return handler


def make_streaming_handler(
    service: WorkerService, executor: Executor | None = None
) -> Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]]:
    """runpod streams only from a generator handler, and then answers `/runsync` with the
    list of everything it yielded; so streaming is a worker mode (STREAMING=1), not a
    per-job switch, and the job API's plain answers stay plain on a normal worker."""

    async def handler(job: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        answers = service.stream(job.get("input"), str(job.get("id", "-")))
        loop = asyncio.get_running_loop()
        while (answer := await loop.run_in_executor(executor, next, answers, None)) is not None:
            yield answer

    return handler


def main() -> None:
    import runpod
    from runpod.serverless.modules.rp_logger import RunPodLogger

    settings = load_settings()
    configure_logging(settings.log_level or "INFO", settings.log_format or "json")
    # runpod logs every handler output at its default DEBUG level: the text and the audio.
    RunPodLogger().set_level(settings.runpod_log_level)
    container = build_container(settings=settings)
    service = boot(container)
    # without MAX_CONCURRENCY: as many jobs as fill one batch of the engine on this device
    batch_items = container.batched_engine().max_items
    jobs = settings.max_concurrency or batch_items
    log.info("worker_concurrency", max_concurrency=jobs, batch_max_items=batch_items)
    # the local API ignores concurrency_modifier: leave room for more clients than `jobs`
    executor = ThreadPoolExecutor(max_workers=max(2 * jobs, 8), thread_name_prefix="job")
    maker = make_streaming_handler if settings.streaming else make_handler
    handler = maker(service, executor)
    runpod.serverless.start(
        {
            "handler": handler,
            "concurrency_modifier": lambda current: jobs,
            "return_aggregate_stream": True,
        }
    )


if __name__ == "__main__":
    main()
