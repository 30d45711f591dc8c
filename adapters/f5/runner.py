"""Runners: one Euler step over a set of rows, behind one small interface.

The step scheduler (step_scheduler) decides which rows run together at each step, and the
engine keeps each row's state; a runner only executes one step, vLLM's `execute_model`:
`StepBatch` holds the rows, each at its own ODE step (its own time and step size), and
`step` returns each row's state after it. `EagerRunner` runs the rows at their exact padded
shape (the CPU default). `CudaGraphRunner` pads the rows up to a shape bucket, copies them
into static buffers, and replays one captured step per (batch, frames, guided) bucket: one
graph launch per step instead of ~700 kernel launches. Graphs are captured on first use,
kept in an LRU bounded by `max_graphs`, and share one memory pool (they never run at the
same time, and everything that outlives a replay lives outside the pool); shapes beyond
the largest bucket run eagerly, and so does a step whose graph could not be captured. The
choice is made once at start-up (`TTS_RUNNER`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
import torch

from adapters.f5.buckets import ShapeBuckets
from adapters.f5.text_embedding import text_embeddings
from adapters.f5.velocity import DitVelocity, lengths_mask
from adapters.f5.vocoder import decode_batch

log = structlog.get_logger()
UNGUIDED_CFG = 1e-5  # upstream runs guidance below this without the packed second half
#: the most steps a bucket runs on the fallback between two tries at capturing its graph
MAX_RETRY_GAP = 63


@dataclass(frozen=True)
class StepBatch:
    """The rows of one forward pass, each at its own ODE step: `y` each row's state
    (frames, C) fp32, `cond` (frames, C) and `text` (2, frames, D) in the model dtype, `t`
    and `dt` its time and step size (fp32 values of its own grid), `cfg` its guidance
    strength. Guided and unguided rows never share a step (the unguided forward has no
    second half): `guided` is the first row's, and the scheduler keeps them apart."""

    y: tuple[torch.Tensor, ...]
    cond: tuple[torch.Tensor, ...]
    text: tuple[torch.Tensor, ...]
    t: tuple[float, ...]
    dt: tuple[float, ...]
    cfg: tuple[float, ...]

    def __post_init__(self) -> None:
        counts = {len(self.y), len(self.cond), len(self.text), len(self.t), len(self.dt), len(self.cfg)}
        if len(counts) != 1 or not self.y:
            raise ValueError(f"a step needs one of each per row, got {sorted(counts)}")
        if len({guided(cfg) for cfg in self.cfg}) != 1:
            raise ValueError("guided and unguided rows cannot share a step")

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(y.shape[0] for y in self.y)

    @property
    def guided(self) -> bool:
        return guided(self.cfg[0])


def guided(cfg: float) -> bool:
    return cfg >= UNGUIDED_CFG


class Runner(Protocol):
    name: str
    #: the shapes it pads a step up to; None where it runs each step at its own shape
    buckets: ShapeBuckets | None

    @property
    def graphs_held(self) -> int:
        """Captured graphs it holds now (0 where it captures none)."""
        ...

    def step(self, batch: StepBatch) -> list[torch.Tensor]:
        """Each row's state after its step, (frames, C) fp32 like `batch.y`."""
        ...

    def synchronize(self) -> None:
        """Before the finished rows are read: where the steps run behind the host (the paced
        benchmark's modelled device), wait for them. On a CUDA stream the vocoder is queued
        after the steps, so the real runners have nothing to wait for."""
        ...

    def embed_text(
        self, dit: torch.nn.Module, tokens: Sequence[torch.Tensor], lengths: Sequence[int], frames: int
    ) -> torch.Tensor:
        """The starting rows' text embeddings (`text_embedding.text_embeddings`)."""
        ...

    def decode(self, vocoder: Any, mels: list[torch.Tensor]) -> list[torch.Tensor]:
        """The finished rows' waveforms from their mels (`vocoder.decode_batch`)."""
        ...


class _OnTheStream:
    """The real runners' other passes, the text encoder's when rows start and the vocoder's
    when they finish: device work queued on the stream beside the steps. They are the runner's
    because the runner stands for the device: the paced benchmark's clock replaces them too."""

    def synchronize(self) -> None:
        """The vocoder runs after the steps on the same stream: nothing to wait for."""

    def embed_text(
        self, dit: torch.nn.Module, tokens: Sequence[torch.Tensor], lengths: Sequence[int], frames: int
    ) -> torch.Tensor:
        return text_embeddings(dit, tokens, lengths, frames)

    def decode(self, vocoder: Any, mels: list[torch.Tensor]) -> list[torch.Tensor]:
        return decode_batch(vocoder, mels)


def retry_gap(failures: int) -> int:
    """Batches of a bucket that run on the fallback after its `failures`-th failed capture in
    a row, before the next try: 0, 1, 3, 7, ... up to MAX_RETRY_GAP. A failure that passes
    (another thread's device-wide synchronisation) costs one batch and the next captures; one
    that persists (memory the capture cannot get) costs about three steps' work (the capture's
    warm-up runs and the try) once in 64 of the bucket's batches, and the bucket gets its graph
    back once the cause is gone instead of staying eager for the worker's life."""
    return min(2 ** (failures - 1) - 1, MAX_RETRY_GAP)


def padded(rows: Sequence[torch.Tensor], frames: int) -> torch.Tensor:
    """The rows stacked along a new first axis, zero past each row's frames."""
    if all(row.shape[0] == frames for row in rows):
        return torch.stack(tuple(rows))
    out = rows[0].new_zeros((len(rows), frames, *rows[0].shape[1:]))
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row
    return out


def padded_text(rows: Sequence[torch.Tensor], frames: int) -> torch.Tensor:
    """(2, rows, frames, D) from each row's (2, its frames, D), zero past each row's frames."""
    if len(rows) == 1 and rows[0].shape[1] == frames:
        return rows[0].unsqueeze(1)
    out = rows[0].new_zeros((2, len(rows), frames, rows[0].shape[2]))
    for i, row in enumerate(rows):
        out[:, i, : row.shape[1]] = row
    return out


def per_row(values: Sequence[float], device: torch.device) -> torch.Tensor:
    """One fp32 value per row, or a single one when every row has it (the velocity then
    embeds one time for all rows, as for a batch that started together)."""
    distinct = set(values)
    return torch.tensor([values[0]] if len(distinct) == 1 else list(values), device=device, dtype=torch.float32)


class EagerRunner(_OnTheStream):
    """The step at the rows' exact padded shape; unpadded steps run without a mask
    (upstream's single-item path)."""

    name = "eager"
    graphs_held = 0
    buckets = None

    def __init__(self, velocity: DitVelocity) -> None:
        self._velocity = velocity

    def step(self, batch: StepBatch) -> list[torch.Tensor]:
        lengths = batch.lengths
        frames, device = max(lengths), batch.y[0].device
        y = padded(batch.y, frames)
        cond = padded(batch.cond, frames)
        text = padded_text(batch.text, frames)
        mask = None if min(lengths) == frames else lengths_mask(lengths, frames, device)
        cfg = None
        if batch.guided:
            cfg = torch.tensor(batch.cfg[0], device=device) if len(set(batch.cfg)) == 1 else per_row(batch.cfg, device)
        v = self._velocity(y, cond, text, per_row(batch.t, device), mask, cfg)
        out = y + per_row(batch.dt, device).reshape(-1, 1, 1) * v
        return [out[i, :length] for i, length in enumerate(lengths)]


class Replayable(Protocol):
    def replay(self) -> None: ...


class GraphCapturer(Protocol):
    def capture(self, step: Callable[[], None]) -> Replayable: ...


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


class _Static:
    """The buffers one graph reads and writes, allocated outside the graph's pool."""

    def __init__(
        self, batch: int, frames: int, channels: int, text_dim: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        self.y = torch.zeros(batch, frames, channels, device=device, dtype=torch.float32)
        self.cond = torch.zeros(batch, frames, channels, device=device, dtype=dtype)
        self.text = torch.zeros(2, batch, frames, text_dim, device=device, dtype=dtype)
        self.mask = torch.ones(batch, frames, device=device, dtype=torch.bool)
        self.t = torch.zeros(batch, device=device, dtype=torch.float32)
        self.dt = torch.zeros(batch, device=device, dtype=torch.float32)
        self.cfg = torch.zeros(batch, device=device, dtype=torch.float32)

    def load(self, batch: StepBatch) -> None:
        """The rows into the buffers; padded rows and frames are zero, and a padded row
        steps by zero at time zero."""
        lengths = batch.lengths
        self.y.zero_()
        self.cond.zero_()
        self.text.zero_()
        for i, length in enumerate(lengths):
            self.y[i, :length] = batch.y[i]
            self.cond[i, :length] = batch.cond[i]
            self.text[:, i, :length] = batch.text[i]
        # padded rows get one valid frame: a row with no valid key would be NaN in attention
        rows = self.y.shape[0]
        self.mask.copy_(lengths_mask(list(lengths) + [1] * (rows - len(lengths)), self.y.shape[1], self.y.device))
        padding = [0.0] * (rows - len(lengths))
        for buffer, values in ((self.t, batch.t), (self.dt, batch.dt), (self.cfg, batch.cfg)):
            host = torch.tensor([*values, *padding], dtype=torch.float32)
            if buffer.is_cuda:  # from pinned memory, so the copy does not wait for the device
                host = host.pin_memory()
            buffer.copy_(host, non_blocking=True)


@dataclass
class _Graph:
    static: _Static
    graph: Replayable


class CudaGraphRunner(_OnTheStream):
    """One captured Euler step per bucket, replayed at every step with the rows' states,
    times, step sizes and guidance copied into its static buffers: one graph serves every
    mix of rows, NFE and schedule that fits its bucket.

    `capture_gate`, when given, is held for each capture; a step that needs a new graph
    while something else holds it (a background compile, see compile.py) runs on the
    fallback instead of waiting, and graphs already captured keep replaying.

    A capture that fails costs its step nothing but speed: the step runs on the fallback
    (logged as `f5_graph_capture_failed`), and the bucket tries again after `retry_gap`
    steps, a gap that doubles with each failure in a row. The failures this is for are the
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
        self._failures: Counter[tuple[int, int, bool]] = Counter()  # failed captures in a row per bucket
        self._waits: Counter[tuple[int, int, bool]] = Counter()  # steps to go before the next try
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

    def step(self, batch: StepBatch) -> list[torch.Tensor]:
        lengths = batch.lengths
        held = [(rows, frames) for rows, frames, guided in self._graphs if guided == batch.guided]
        bucket = self.buckets.choose(len(lengths), max(lengths), held)
        key = (bucket.batch, bucket.frames, batch.guided)
        if not bucket.captured or self._waiting(key):
            return self._fallback.step(batch)
        entry = self._graph_now(key, batch)
        if entry is None:
            return self._fallback.step(batch)
        entry.static.load(batch)
        entry.graph.replay()
        return [entry.static.y[i, :length].clone() for i, length in enumerate(lengths)]

    def _waiting(self, key: tuple[int, int, bool]) -> bool:
        """Whether this step of the bucket runs on the fallback while a retry gap runs out."""
        if self._waits[key] <= 0:
            return False
        self._waits[key] -= 1
        return True

    def _graph_now(self, key: tuple[int, int, bool], batch: StepBatch) -> _Graph | None:
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

    def _capture(self, key: tuple[int, int, bool], batch: StepBatch) -> _Graph:
        rows, frames, _ = key
        device = batch.y[0].device
        static = _Static(rows, frames, batch.y[0].shape[1], batch.text[0].shape[2], batch.cond[0].dtype, device)
        self._velocity.rope(frames, device)  # built outside the capture, kept across replays
        guided = batch.guided
        velocity = self._velocity

        def step() -> None:
            v = velocity(static.y, static.cond, static.text, static.t, static.mask, static.cfg if guided else None)
            static.y.add_(static.dt.reshape(-1, 1, 1) * v)

        started = time.perf_counter()
        entry = _Graph(static, self._capturer.capture(step))
        self.captures += 1
        self._failures.pop(key, None)
        self._graphs[key] = entry
        while len(self._graphs) > self._max_graphs:
            evicted, _ = self._graphs.popitem(last=False)
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


#: `make_runner`'s signature: how the engine gets its ODE runner (the container provides it)
RunnerFactory = Callable[..., Runner]


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
    on_cuda = device.startswith("cuda") and torch.cuda.is_available()
    if kind == "cuda_graph" and not on_cuda:
        raise ValueError(f"TTS_RUNNER=cuda_graph needs a CUDA device, the engine runs on {device!r}")
    if kind == "eager" or not on_cuda:
        return EagerRunner(velocity)
    return CudaGraphRunner(
        velocity, buckets or ShapeBuckets(), CudaGraphCapturer(), max_graphs=max_graphs, capture_gate=capture_gate
    )
