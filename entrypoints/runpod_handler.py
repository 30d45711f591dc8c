"""The RunPod serverless worker: `python -m entrypoints.runpod_handler [--rp_serve_api ...]`.

Booting (configure logs, build the container, load and warm the model, probe the store)
happens once, before `runpod.serverless.start`, so the first job and a FlashBoot snapshot
find the worker ready. A worker that cannot boot stays up and answers every job with the
reason (FailedStart, entrypoints/service.py) unless EXIT_ON_STARTUP_FAILURE is set. The handler
is `async` and runs each job in a thread: runpod calls a plain `def` handler inside its
event loop, where jobs could never overlap. Jobs sent while the worker boots wait in
RunPod's queue: it asks for none before it is ready.

Cold start: `ready_seconds` in the `worker_ready` event counts from the process's start
(the image's command), with a per-stage breakdown (`stages`). runpod is imported in a
thread beside the model's loading, without py-cpuinfo's subprocess probe
(adapters/runpod_import.py, through the container); the rest of start-up imports only what serving needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import structlog

from application.app import App
from application.bootstrap import bootstrap
from application.concurrency import concurrency
from container import Container, build_container, import_runpod_in_background
from domain.cancellation import CancelScope, within
from domain.use_cases.synthesize import Progress
from entrypoints import CODE_STARTED
from entrypoints.logging_setup import configure_logging
from entrypoints.process_clock import process_started
from entrypoints.service import FailedStart, WorkerService, one_line
from settings import Settings, load_settings, startup_mode

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
JobService = WorkerService | FailedStart
log = structlog.get_logger("worker")


def boot(container: Container) -> App:
    """Load and warm the model; the caller shuts the App down (it owns the batcher's thread).
    Logs `worker_ready` with the time since the process started and where it went."""
    started, origin = process_started()
    settings = container.settings()
    timer = container.startup_timer()
    timer.record("interpreter", CODE_STARTED - started)  # python's own start-up, before our code ran
    timer.record("imports_worker", time.perf_counter() - CODE_STARTED)  # the worker's modules, settings, logs
    engine = container.batched_engine()
    with timer.stage("service"):  # the store, the use cases, the voice fetcher (runpod's ssrf guard)
        app = bootstrap(container=container)
    app.start(require_store=True)
    ready = time.perf_counter() - started
    log.info(
        "worker_ready",
        engine=engine.model_id,
        store=settings.resolved_storage_url,
        ready_seconds=round(ready, 3),
        ready_from=origin,
        # CPU time of the whole process so far (all threads): on a shared machine, wall time
        # also counts waiting for a core, which this does not
        ready_cpu_seconds=round(time.process_time(), 3),
        stages=timer.rounded(),
        unaccounted_seconds=round(ready - sum(timer.seconds.values()), 3),
    )
    return app


#: strings longer than this show in an answer's repr as their length (see Answer)
SHOWN_CHARS = 200


class Answer(dict[str, Any]):
    """A job's answer as runpod gets it: a dict whose repr gives each long string (the
    audio's base64) as its length. runpod puts every handler output into DEBUG f-strings
    whatever its log level (rp_job: twice per answer, and twice per piece of a stream), so a
    plain dict's repr copied and escaped megabytes on the job's path for lines nobody writes
    (scheduling-steps-cpu.txt, section 7). At RUNPOD_LOG_LEVEL=DEBUG the lines it writes stay
    readable."""

    def __repr__(self) -> str:
        return repr({key: _shown(value) for key, value in self.items()})


def _shown(value: object) -> object:
    return f"<{len(value)} chars>" if isinstance(value, str) and len(value) > SHOWN_CHARS else value


class ProgressPosts:
    """One job's progress, sent to RunPod (which shows it in `/status/{id}` while the job
    runs) at most once every `interval` seconds, in order, and all of it before the result.

    runpod's `progress_update(job, progress)` posts `{"status": "IN_PROGRESS", "output":
    progress}` to the job-done URL from a new thread per call, so two posts, or a post and
    the result, can arrive in either order; this posts the same body with the SDK's own
    `send_result`, one post after another on one thread (`sender`), and `flush()` waits
    for the job's last one before the handler hands its result to the SDK."""

    def __init__(
        self,
        job: dict[str, Any],
        sender: Executor,
        interval: float,
        post: Callable[[dict[str, Any], dict[str, Any]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job, self._sender, self._interval, self._post, self._clock = job, sender, interval, post, clock
        self._last_sent: float | None = None
        self._pending: Future[None] | None = None

    def __call__(self, progress: Progress) -> None:
        now = self._clock()
        if progress.chunks_done >= progress.chunks_total:
            return  # the result itself comes next
        if self._last_sent is not None and now - self._last_sent < self._interval:
            return
        self._last_sent = now
        self._pending = self._sender.submit(self._post, self._job, asdict(progress))

    def flush(self, timeout: float = 10.0) -> None:
        """Waits (bounded) for the last post: a late progress post must not follow the result."""
        if self._pending is not None:
            with contextlib.suppress(Exception):
                self._pending.result(timeout)


def post_progress(job: dict[str, Any], progress: dict[str, Any]) -> None:
    """What runpod.serverless.progress_update sends, sent from the calling thread."""
    from runpod.http_client import AsyncClientSession
    from runpod.serverless.modules.rp_http import send_result

    async def send() -> None:
        async with AsyncClientSession() as session:
            await send_result(session, {"status": "IN_PROGRESS", "output": progress}, job)

    asyncio.run(send())


def make_handler(
    service: JobService,
    executor: Executor | None = None,
    progress: Callable[[dict[str, Any]], ProgressPosts] | None = None,
) -> Handler:
    """`executor` runs the jobs (default: asyncio's, which has only min(32, cores + 4)
    threads: on a 16-core GPU host 20 jobs at most could reach the batcher together).
    `progress` makes a job's progress reporter (none: the job reports nothing)."""

    async def handler(job: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        posts = progress(job) if progress is not None else None
        call = functools.partial(service.handle, job.get("input"), str(job.get("id", "-")), posts)
        try:
            return Answer(await loop.run_in_executor(executor, call))
        finally:
            if posts is not None:
                await loop.run_in_executor(executor, posts.flush)

    return handler


def make_streaming_handler(
    service: JobService, executor: Executor | None = None
) -> Callable[[dict[str, Any]], AsyncIterator[dict[str, Any]]]:
    """runpod streams only from a generator handler, and then answers `/runsync` with the
    list of everything it yielded; so streaming is a worker mode (STREAMING=1), not a
    per-job switch, and the job API's plain answers stay plain on a normal worker. A job ends
    at its last answer (any but a stream's `"status": "streaming"` pieces: WorkerService.stream
    sends nothing after it) without one more trip to a job thread to learn that nothing
    follows, which every job's answer used to wait for."""

    async def handler(job: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        scope = CancelScope()  # a stream closed early frees the engine's rows for the next chunks
        answers = within(scope, service.stream(job.get("input"), str(job.get("id", "-"))))
        loop = asyncio.get_running_loop()
        try:
            while (answer := await loop.run_in_executor(executor, next, answers, None)) is not None:
                yield Answer(answer)
                if answer.get("status") != "streaming":
                    answers.close()  # suspended after its last answer: it ends here, on this thread
                    break
        finally:
            scope.cancel()

    return handler


def _progress_posts(settings: Settings, sender: Executor) -> Callable[[dict[str, Any]], ProgressPosts] | None:
    """Progress reporters for jobs taken from RunPod's queue; none under the local API
    (`--rp_serve_api`), which has no job-done URL to post to."""
    from runpod.serverless.modules.rp_http import JOB_DONE_URL

    if not JOB_DONE_URL.startswith(("http://", "https://")):
        return None
    return lambda job: ProgressPosts(job, sender, settings.progress_interval, post_progress)


def start() -> tuple[Settings, JobService, App | None]:
    """The settings, the job service and its booted App; when any of that fails, the
    failed-start stand-in with the one-line reason (or SystemExit, if asked to exit)."""
    settings, container = Settings.defaults(), None
    try:
        settings = load_settings()
        configure_logging(settings.log_level or "INFO", settings.log_format or "json")
        container = build_container(settings=settings)
        app = boot(container)
        return settings, WorkerService(app), app
    except Exception as exc:
        configure_logging(settings.log_level or "INFO", settings.log_format or "json")
        reason = one_line(exc)
        if startup_mode().exit_on_startup_failure:
            log.error("worker_failed_to_start", reason=reason, exiting=True)
            raise SystemExit(f"worker failed to start: {reason}") from None
        log.error("worker_failed_to_start", reason=reason, exc_info=exc)
        if container is not None:
            container.shutdown_resources()
        return settings, FailedStart(reason), None


def main() -> None:
    runpod_import = import_runpod_in_background()
    settings, service, app = start()
    runpod_import.join()
    import runpod
    from runpod.serverless.modules.rp_logger import RunPodLogger

    # runpod logs every handler output at its default DEBUG level: the text and the audio.
    RunPodLogger().set_level(settings.runpod_log_level)
    rule = app.concurrency if app is not None else concurrency(settings, None)
    jobs = rule.jobs
    log.info("worker_concurrency", max_concurrency=jobs, batch_max_items=rule.batch_items)
    # the local API ignores concurrency_modifier: leave room for more clients than `jobs`
    executor = ThreadPoolExecutor(max_workers=max(2 * jobs, 8), thread_name_prefix="job")
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="progress")
    if settings.streaming:
        handler = make_streaming_handler(service, executor)
    else:
        handler = make_handler(service, executor, _progress_posts(settings, sender))
    try:
        runpod.serverless.start(
            {
                "handler": handler,
                "concurrency_modifier": lambda current: jobs,
                "return_aggregate_stream": True,
            }
        )
    finally:
        if app is not None:
            app.shutdown()
        executor.shutdown(wait=False)
        sender.shutdown(wait=False)
        log.info("worker_stopped")


if __name__ == "__main__":
    main()
