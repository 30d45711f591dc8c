"""Runners: the Euler ODE loop over one fixed batch, behind one small interface.

The engine decides what runs together and assembles the tensors (noise, conditioning,
text embeddings, lengths); a runner only integrates. `EagerRunner` is the plain loop (the
CPU default). `CudaGraphRunner` pads each batch up to a shape bucket, copies it into
static buffers, and replays one captured graph per (batch, frames, guided) bucket: one
graph launch per step instead of ~700 kernel launches. Graphs are captured on first use,
kept in an LRU bounded by `max_graphs`, and share one memory pool (they never run at the
same time, and everything that outlives a replay lives outside the pool); shapes beyond
the largest bucket run eagerly, and so does a batch whose graph could not be captured. The
choice is made once at start-up (`TTS_RUNNER`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
import torch

from adapters.f5_buckets import ShapeBuckets
from adapters.f5_velocity import DitVelocity

log = structlog.get_logger()
RUNNERS = ("auto", "eager", "cuda_graph")
UNGUIDED_CFG = 1e-5  # upstream runs guidance below this without the packed second half
#: the most batches a bucket runs on the fallback between two tries at capturing its graph
MAX_RETRY_GAP = 63


@dataclass(frozen=True)
class OdeBatch:
    """One batch at its exact shape: `noise` (B, N, C) fp32, `cond` (B, N, C) and `text`
    (2, B, N, D) in the model dtype, `lengths` each row's valid frames, `grid` the time
    steps (fp32, on the device), `cfg` the guidance strength."""

    noise: torch.Tensor
    cond: torch.Tensor
    text: torch.Tensor
    lengths: tuple[int, ...]
    grid: torch.Tensor
    cfg: float

    @property
    def guided(self) -> bool:
        return self.cfg >= UNGUIDED_CFG


class Runner(Protocol):
    name: str

    @property
    def graphs_held(self) -> int:
        """Captured graphs it holds now (0 where it captures none)."""
        ...

    def run(self, batch: OdeBatch, between_steps: Callable[[], None] | None = None) -> torch.Tensor:
        """The integrated mel, (B, N, C) fp32, same shape as `batch.noise`. `between_steps`
        is called between two steps (never after the last); it may run this runner again
        for another batch (see `ports.tts_engine`)."""
        ...


def retry_gap(failures: int) -> int:
    """Batches of a bucket that run on the fallback after its `failures`-th failed capture in
    a row, before the next try: 0, 1, 3, 7, ... up to MAX_RETRY_GAP. A failure that passes
    (another thread's device-wide synchronisation) costs one batch and the next captures; one
    that persists (memory the capture cannot get) costs about three steps' work (the capture's
    warm-up runs and the try) once in 64 of the bucket's batches, and the bucket gets its graph
    back once the cause is gone instead of staying eager for the worker's life."""
    return min(2 ** (failures - 1) - 1, MAX_RETRY_GAP)


def lengths_mask(lengths: tuple[int, ...] | list[int], frames: int, device: torch.device) -> torch.Tensor:
    return torch.arange(frames, device=device)[None, :] < torch.tensor(lengths, device=device)[:, None]


class EagerRunner:
    """Today's loop at the batch's exact shape; unpadded batches run without a mask
    (upstream's single-item path)."""

    name = "eager"
    graphs_held = 0

    def __init__(self, velocity: DitVelocity) -> None:
        self._velocity = velocity

    def run(self, batch: OdeBatch, between_steps: Callable[[], None] | None = None) -> torch.Tensor:
        y = batch.noise
        frames, device = y.shape[1], y.device
        mask = None if min(batch.lengths) == frames else lengths_mask(batch.lengths, frames, device)
        cfg = torch.tensor(batch.cfg, device=device) if batch.guided else None
        for step, (t0, t1) in enumerate(itertools.pairwise(batch.grid)):
            if step and between_steps is not None:
                between_steps()
            y = y + (t1 - t0) * self._velocity(y, batch.cond, batch.text, t0, mask, cfg)
        return y


class Replayable(Protocol):
    def replay(self) -> None: ...


class Fence(Protocol):
    def synchronize(self) -> None: ...


class GraphCapturer(Protocol):
    def capture(self, step: Callable[[], None]) -> Replayable: ...

    def fence(self) -> Fence:
        """A marker after the work queued so far; `synchronize()` waits until it has run."""
        ...


class CudaGraphCapturer:
    """Captures a step into a `torch.cuda.CUDAGraph`, every graph in one shared pool.

    The capture's error mode is thread-local, not torch's default "global": the word aligner
    and the Whisper transcriber run CUDA work in threads of their own, and under "global" an
    allocation or a copy they make while the engine captures fails them ("operation not
    permitted when stream is capturing") and invalidates the capture, so a word-timestamps
    request or an upload could break a synthesis job, and the other way round. Thread-local
    prohibits only the capturing thread's unsafe calls; torch's own CUDA-graph trees capture
    this way for the same reason (autograd's backward runs in another thread). Other
    threads' allocations do not land in the graphs' pool: torch routes only the capture
    stream's allocations there."""

    def __init__(self, warmup_runs: int = 2) -> None:
        self._pool = torch.cuda.graph_pool_handle()
        self._warmup_runs = warmup_runs

    def capture(self, step: Callable[[], None]) -> Replayable:
        # the documented recipe: run on a side stream first (lazy init, autotuning), then capture
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self._warmup_runs):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # the outer context gives this thread its stream back if the capture fails (torch's
        # graph context leaves the capture stream current when ending the capture raises)
        with (
            torch.cuda.stream(torch.cuda.current_stream()),
            torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"),
        ):
            step()
        return graph

    def fence(self) -> Fence:
        event = torch.cuda.Event()
        event.record()
        return event


class _Static:
    """The buffers one graph reads and writes, allocated outside the graph's pool."""

    def __init__(
        self, batch: int, frames: int, channels: int, text_dim: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        self.y = torch.zeros(batch, frames, channels, device=device, dtype=torch.float32)
        self.cond = torch.zeros(batch, frames, channels, device=device, dtype=dtype)
        self.text = torch.zeros(2, batch, frames, text_dim, device=device, dtype=dtype)
        self.mask = torch.ones(batch, frames, device=device, dtype=torch.bool)
        self.t = torch.zeros(1, device=device, dtype=torch.float32)
        self.dt = torch.zeros(1, device=device, dtype=torch.float32)
        self.cfg = torch.zeros((), device=device, dtype=torch.float32)

    def load(self, batch: OdeBatch) -> None:
        rows, frames = batch.noise.shape[:2]
        self.y.zero_()
        self.cond.zero_()
        self.text.zero_()
        self.y[:rows, :frames] = batch.noise
        self.cond[:rows, :frames] = batch.cond
        self.text[:, :rows, :frames] = batch.text
        # padded rows get one valid frame: a row with no valid key would be NaN in attention
        lengths = list(batch.lengths) + [1] * (self.y.shape[0] - rows)
        self.mask.copy_(lengths_mask(lengths, self.y.shape[1], self.y.device))
        self.cfg.fill_(batch.cfg)


@dataclass
class _Graph:
    static: _Static
    graph: Replayable


class CudaGraphRunner:
    """One captured Euler step per bucket, replayed `nfe` times with the step's time
    copied into a static buffer: one graph serves every NFE and schedule.

    The host queues replays far faster than the device runs them, so with `between_steps`
    the host keeps at most two steps queued (it waits on a fence after the step before
    last): the callback then runs while the device is still busy with the current step, and
    whatever it queues runs after that step, not after the whole batch. Two, not one: the
    host then has a whole step to take the GIL back from the job threads and queue the next
    before the device runs dry (Python hands the GIL over within its 5 ms switch interval;
    a step takes 6.7 ms at batch 1 on an H200, and longer at larger batches). A graph whose
    batch is paused that way is busy: a run from inside the callback that needs its bucket
    runs eagerly instead of overwriting its buffers, and the LRU never evicts it.

    `capture_gate`, when given, is held for each capture; a batch that needs a new graph
    while something else holds it (a background compile, see f5_compile) runs on the
    fallback instead of waiting, and graphs already captured keep replaying.

    A capture that fails costs its batch nothing but speed: the batch runs on the fallback
    (logged as `f5_graph_capture_failed`), and the bucket tries again after `retry_gap`
    batches, a gap that doubles with each failure in a row. The failures this is for are the
    device's (a device-wide synchronisation from another thread ends any capture, in any
    error mode; memory the capture cannot get), not the model's: a step that fails in the
    capture fails again on the fallback, and the job gets the error as before.
    """

    name = "cuda_graph"

    def __init__(
        self,
        velocity: DitVelocity,
        buckets: ShapeBuckets,
        capturer: GraphCapturer,
        max_graphs: int = 24,
        fallback: Runner | None = None,
        capture_gate: threading.Lock | None = None,
    ) -> None:
        self._velocity = velocity
        self._gate = capture_gate
        self.buckets = buckets
        self._capturer = capturer
        self._max_graphs = max(1, max_graphs)
        self._fallback = fallback or EagerRunner(velocity)
        self._graphs: OrderedDict[tuple[int, int, bool], _Graph] = OrderedDict()
        self._busy: set[tuple[int, int, bool]] = set()  # buckets whose batch is paused mid-run
        self._failures: Counter[tuple[int, int, bool]] = Counter()  # failed captures in a row per bucket
        self._waits: Counter[tuple[int, int, bool]] = Counter()  # batches to go before the next try
        self.captures = 0

    @property
    def cached_shapes(self) -> list[tuple[int, int, bool]]:
        return list(self._graphs)

    @property
    def graphs_held(self) -> int:
        return len(self._graphs)  # one read: safe while the engine's thread captures or evicts

    def over(self, velocity: DitVelocity) -> CudaGraphRunner:
        """A runner like this one (buckets, capturer and its pool, bound, fallback) over
        another velocity, with no graphs yet and no capture gate."""
        return CudaGraphRunner(velocity, self.buckets, self._capturer, self._max_graphs, fallback=self._fallback)

    def run(self, batch: OdeBatch, between_steps: Callable[[], None] | None = None) -> torch.Tensor:
        rows, frames = batch.noise.shape[:2]
        bucket = self.buckets.choose(rows, frames)
        key = (bucket.batch, bucket.frames, batch.guided)
        if not bucket.captured or key in self._busy or self._waiting(key):
            return self._fallback.run(batch, between_steps)
        entry = self._graph_now(key, batch)
        if entry is None:
            return self._fallback.run(batch, between_steps)
        static = entry.static
        static.load(batch)
        steps = batch.grid.to(torch.float32)
        deltas = steps[1:] - steps[:-1]
        self._busy.add(key)
        try:
            fences: list[Fence] = []
            for i in range(len(deltas)):
                if i and between_steps is not None:
                    if len(fences) > 1:
                        fences.pop(0).synchronize()
                    between_steps()
                static.t.copy_(steps[i : i + 1])
                static.dt.copy_(deltas[i : i + 1])
                entry.graph.replay()
                if between_steps is not None:
                    fences.append(self._capturer.fence())
        finally:
            self._busy.discard(key)
        return static.y[:rows, :frames].clone()

    def _waiting(self, key: tuple[int, int, bool]) -> bool:
        """Whether this batch of the bucket runs on the fallback while a retry gap runs out."""
        if self._waits[key] <= 0:
            return False
        self._waits[key] -= 1
        return True

    def _graph_now(self, key: tuple[int, int, bool], batch: OdeBatch) -> _Graph | None:
        """The bucket's graph, captured now if it has none; None if it cannot have one now:
        the capture gate is held elsewhere, or the capture failed."""
        entry = self._graphs.get(key)
        if entry is not None:
            self._graphs.move_to_end(key)
            return entry
        if self._gate is not None and not self._gate.acquire(blocking=False):
            return None
        try:
            return self._capture(key, batch)
        except Exception as exc:
            self._failures[key] += 1
            self._waits[key] = retry_gap(self._failures[key])
            log.warning(
                "f5_graph_capture_failed",
                bucket=key,
                failures=self._failures[key],
                retry_after=self._waits[key],
                error=f"{type(exc).__name__}: {exc}",
            )
            return None
        finally:
            if self._gate is not None:
                self._gate.release()

    def _capture(self, key: tuple[int, int, bool], batch: OdeBatch) -> _Graph:
        rows, frames, _ = key
        device = batch.noise.device
        static = _Static(rows, frames, batch.noise.shape[2], batch.text.shape[3], batch.cond.dtype, device)
        self._velocity.rope(frames, device)  # built outside the capture, kept across replays
        guided = batch.guided
        velocity = self._velocity

        def step() -> None:
            v = velocity(static.y, static.cond, static.text, static.t, static.mask, static.cfg if guided else None)
            static.y.add_(static.dt * v)

        started = time.perf_counter()
        entry = _Graph(static, self._capturer.capture(step))
        self.captures += 1
        self._failures.pop(key, None)
        self._graphs[key] = entry
        idle = [shape for shape in self._graphs if shape not in self._busy]
        while len(self._graphs) > self._max_graphs and idle:
            evicted = idle.pop(0)
            del self._graphs[evicted]
            log.info("f5_graph_evicted", bucket=evicted)
        log.info(
            "f5_graph_captured",
            batch=rows,
            frames=frames,
            guided=guided,
            graphs=len(self._graphs),
            seconds=round(time.perf_counter() - started, 3),
        )
        return entry


def make_runner(
    kind: str,
    velocity: DitVelocity,
    device: str,
    buckets: ShapeBuckets | None = None,
    max_graphs: int = 24,
    capture_gate: threading.Lock | None = None,
) -> Runner:
    """`auto` is CUDA graphs on a CUDA device and eager elsewhere; `cuda_graph` off CUDA is
    a start-up error (ValueError), not a silent fallback. `capture_gate`: see CudaGraphRunner."""
    if kind not in RUNNERS:
        raise ValueError(f"TTS_RUNNER must be one of {', '.join(RUNNERS)}, got {kind!r}")
    on_cuda = device.startswith("cuda") and torch.cuda.is_available()
    if kind == "cuda_graph" and not on_cuda:
        raise ValueError(f"TTS_RUNNER=cuda_graph needs a CUDA device, the engine runs on {device!r}")
    if kind == "eager" or not on_cuda:
        return EagerRunner(velocity)
    return CudaGraphRunner(
        velocity, buckets or ShapeBuckets(), CudaGraphCapturer(), max_graphs=max_graphs, capture_gate=capture_gate
    )
