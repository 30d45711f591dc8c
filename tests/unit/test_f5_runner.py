"""Runners on the CPU: the graph runner's bucketing, static buffers, LRU and fallback, one step
at a time over rows that may each be at their own ODE step.

A capturer that replays by calling the captured step stands in for CUDA graphs: the step
may read only the runner's static buffers (it is a closure over them, as under capture),
so equal results with the eager runner show that padding, masking and buffer refills are
right; the CUDA capture itself is checked on the device (tests/integration)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import structlog
import torch

from adapters.f5.buckets import ShapeBuckets
from adapters.f5.runner import MAX_RETRY_GAP, CudaGraphRunner, EagerRunner, Runner, StepBatch, make_runner, retry_gap

CHANNELS, TEXT_DIM = 3, 2
GRID = torch.linspace(0, 1, 5).tolist()  # 4 steps


class ToyVelocity:
    """A velocity that mixes frames within a row under the mask (like attention), so a
    padding mistake shows up in the valid frames; each row reads its own time."""

    def rope(self, frames: int, device: torch.device) -> None:
        return None

    def __call__(self, x, cond, text, t, mask, cfg):
        keep = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask
        weights = keep[..., None].float()
        mean = (x * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True)
        time = t.float().reshape(-1, 1, 1)
        pred = torch.tanh(mean + cond.float() + text[0, ..., :1].float() - x * time)
        if cfg is None:
            return pred
        null = torch.tanh(mean - x * time + text[1, ..., :1].float())
        return pred + (pred - null) * (cfg if cfg.dim() == 0 else cfg.reshape(-1, 1, 1))


class ReplayingCapturer:
    """Replays by calling the step; `log` records replays ("R")."""

    def __init__(self) -> None:
        self.captured: list[Callable[[], None]] = []
        self.log: list[str] = []

    def capture(self, step: Callable[[], None]):
        self.captured.append(step)
        log = self.log

        class Graph:
            def replay(self) -> None:
                log.append("R")
                step()

        return Graph()


@dataclass
class Rows:
    """Rows as the engine holds them: each its own state, conditioning and text; one grid."""

    y: list[torch.Tensor]
    cond: list[torch.Tensor]
    text: list[torch.Tensor]
    cfg: float
    grid: list[float]

    @property
    def lengths(self) -> list[int]:
        return [y.shape[0] for y in self.y]

    def at(self, steps: list[int], rows: list[int] | None = None) -> StepBatch:
        """The step batch of `rows` (all by default), row i at step `steps[i]` of the grid."""
        rows = list(range(len(self.y))) if rows is None else rows
        deltas = [b - a for a, b in zip(torch.tensor(self.grid)[:-1], torch.tensor(self.grid)[1:], strict=True)]
        return StepBatch(
            y=tuple(self.y[i] for i in rows),
            cond=tuple(self.cond[i] for i in rows),
            text=tuple(self.text[i] for i in rows),
            t=tuple(self.grid[steps[n]] for n, _ in enumerate(rows)),
            dt=tuple(float(deltas[steps[n]]) for n, _ in enumerate(rows)),
            cfg=(self.cfg,) * len(rows),
        )


def ode_batch(lengths: list[int], cfg: float = 2.0, seed: int = 0) -> Rows:
    gen = torch.Generator().manual_seed(seed)
    y = [torch.randn(length, CHANNELS, generator=gen) for length in lengths]
    cond = [torch.randn(length, CHANNELS, generator=gen) for length in lengths]
    text = [torch.randn(2, length, TEXT_DIM, generator=gen) for length in lengths]
    return Rows(y, cond, text, cfg, GRID)


def run(runner: Runner, batch: Rows) -> list[torch.Tensor]:
    """Every row through every step of the grid, all rows in each step."""
    states = list(batch.y)
    for step in range(len(batch.grid) - 1):
        rows = Rows(states, batch.cond, batch.text, batch.cfg, batch.grid)
        states = runner.step(rows.at([step] * len(states)))
    return states


def graph_runner(max_graphs: int = 8) -> tuple[CudaGraphRunner, ReplayingCapturer]:
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    return CudaGraphRunner(ToyVelocity(), buckets, capturer, max_graphs=max_graphs), capturer


def assert_same(got: list[torch.Tensor], expected: list[torch.Tensor], atol: float = 1e-6) -> None:
    assert [g.shape for g in got] == [e.shape for e in expected]
    for ours, theirs in zip(got, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=atol)


@pytest.mark.parametrize("lengths", [[5], [7, 3, 6], [16, 16], [9, 2, 14, 11]])
@pytest.mark.parametrize("cfg", [2.0, 0.0])
def test_graph_runner_gives_the_eager_result_in_a_padded_bucket(lengths: list[int], cfg: float) -> None:
    runner, _ = graph_runner()
    batch = ode_batch(lengths, cfg)
    assert_same(run(runner, batch), run(EagerRunner(ToyVelocity()), batch))


@pytest.mark.parametrize("kind", ["eager", "graph"])
def test_rows_at_different_steps_share_a_step_and_each_gets_its_own_result(kind: str) -> None:
    """Each row steps with its own time and step size: a step over rows at steps 0, 2 and 3
    gives each row what a step of that row alone gives."""
    runner = EagerRunner(ToyVelocity()) if kind == "eager" else graph_runner()[0]
    batch = ode_batch([7, 3, 6])
    together = runner.step(batch.at([0, 2, 3]))
    alone = [EagerRunner(ToyVelocity()).step(batch.at([step], [i]))[0] for i, step in enumerate([0, 2, 3])]
    assert_same(together, alone)
    assert not torch.equal(together[1], EagerRunner(ToyVelocity()).step(batch.at([0], [1]))[0])


def test_rows_with_unlike_guidance_cannot_share_a_step() -> None:
    guided, unguided = ode_batch([5], cfg=2.0).at([0]), ode_batch([5], cfg=0.0).at([0])
    with pytest.raises(ValueError, match="guided and unguided"):
        StepBatch(guided.y * 2, guided.cond * 2, guided.text * 2, (0.0, 0.0), (0.25, 0.25), (2.0, unguided.cfg[0]))


def test_one_capture_per_bucket_and_the_same_static_buffers_each_time() -> None:
    runner, capturer = graph_runner()
    run(runner, ode_batch([5, 7]))
    static = runner._graphs[(2, 8, True)].static
    pointers = (static.y.data_ptr(), static.cond.data_ptr(), static.text.data_ptr(), static.mask.data_ptr())
    second = ode_batch([8, 2], seed=1)  # another live shape, same bucket
    out = run(runner, second)
    assert len(capturer.captured) == 1 and runner.captures == 1
    assert runner._graphs[(2, 8, True)].static is static
    assert (static.y.data_ptr(), static.cond.data_ptr(), static.text.data_ptr(), static.mask.data_ptr()) == pointers
    assert_same(out, run(EagerRunner(ToyVelocity()), second))


def test_a_step_whose_bucket_has_no_graph_runs_in_a_held_one_a_little_larger() -> None:
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=4, max_frames=32, steps_per_octave=0)
    runner = CudaGraphRunner(ToyVelocity(), buckets, capturer)
    run(runner, ode_batch([23, 24]))  # (2, 24)
    batch = ode_batch([19, 17], seed=1)  # its own (2, 20) has no graph: (2, 24), a fifth larger, serves
    assert_same(run(runner, batch), run(EagerRunner(ToyVelocity()), batch))
    assert runner.cached_shapes == [(2, 24, True)] and len(capturer.captured) == 1
    shorter = ode_batch([15, 9], seed=2)  # its own (2, 16): (2, 24) would be half as large again
    assert_same(run(runner, shorter), run(EagerRunner(ToyVelocity()), shorter))
    assert runner.cached_shapes == [(2, 24, True), (2, 16, True)]


def test_guided_and_unguided_batches_get_their_own_graphs() -> None:
    runner, capturer = graph_runner()
    run(runner, ode_batch([5], cfg=2.0))
    run(runner, ode_batch([5], cfg=0.0))
    assert runner.cached_shapes == [(1, 8, True), (1, 8, False)]
    assert len(capturer.captured) == 2


@pytest.mark.parametrize("lengths", [[3] * 5, [40]])
def test_beyond_the_largest_bucket_runs_eagerly(lengths: list[int]) -> None:
    runner, capturer = graph_runner()
    batch = ode_batch(lengths)
    out = run(runner, batch)
    assert capturer.captured == [] and runner.cached_shapes == []
    assert_same(out, run(EagerRunner(ToyVelocity()), batch), atol=0)


def test_least_recently_used_graph_is_evicted_and_recaptured_on_return() -> None:
    runner, capturer = graph_runner(max_graphs=2)
    run(runner, ode_batch([5]))  # (1, 8)
    run(runner, ode_batch([12]))  # (1, 16)
    run(runner, ode_batch([5]))  # (1, 8) used again: (1, 16) is now the oldest
    run(runner, ode_batch([20]))  # (1, 24) evicts (1, 16)
    assert runner.cached_shapes == [(1, 8, True), (1, 24, True)] and runner.graphs_held == 2
    assert len(capturer.captured) == 3
    run(runner, ode_batch([12]))
    assert runner.cached_shapes == [(1, 24, True), (1, 16, True)]
    assert len(capturer.captured) == 4


def test_runner_choice() -> None:
    assert make_runner("auto", ToyVelocity(), "cpu").name == "eager"  # type: ignore[arg-type]
    assert make_runner("eager", ToyVelocity(), "cpu").name == "eager"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a CUDA device"):
        make_runner("cuda_graph", ToyVelocity(), "cpu")  # type: ignore[arg-type]


def test_while_the_capture_gate_is_held_new_shapes_run_eagerly_and_captured_ones_replay() -> None:
    gate = threading.Lock()
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    runner = CudaGraphRunner(ToyVelocity(), buckets, capturer, capture_gate=gate)
    run(runner, ode_batch([5]))  # (1, 8) captured while the gate is free, and the gate is free again
    assert runner.cached_shapes == [(1, 8, True)] and not gate.locked()
    with gate:  # a background compile holds the device
        capturer.log.clear()
        run(runner, ode_batch([6]))  # (1, 8): replayed
        assert capturer.log.count("R") == 4
        batch = ode_batch([12, 3])  # (2, 16): no graph yet, so eager rather than a capture
        assert_same(run(runner, batch), run(EagerRunner(ToyVelocity()), batch), atol=0)
        assert runner.cached_shapes == [(1, 8, True)] and len(capturer.captured) == 1
    run(runner, ode_batch([12, 3]))  # the gate is free: captured now
    assert runner.cached_shapes == [(1, 8, True), (2, 16, True)] and not gate.locked()


def test_a_runner_over_another_velocity_keeps_the_grid_capturer_and_fallback_but_no_graphs() -> None:
    gate = threading.Lock()
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    fallback = EagerRunner(ToyVelocity())
    runner = CudaGraphRunner(ToyVelocity(), buckets, capturer, max_graphs=3, fallback=fallback, capture_gate=gate)
    run(runner, ode_batch([5]))
    other = ToyVelocity()
    swapped = runner.over(other)  # type: ignore[arg-type]
    assert swapped.buckets is buckets and swapped._capturer is capturer and swapped._fallback is fallback
    assert swapped._velocity is other and swapped._max_graphs == 3 and swapped._gate is None
    assert swapped.cached_shapes == []
    with gate:  # no gate of its own: it captures whatever holds the old one
        run(swapped, ode_batch([5]))
    assert swapped.cached_shapes == [(1, 8, True)]


class FailingCapturer(ReplayingCapturer):
    """Fails its first `failures` captures as a capture ended by another thread's device-wide
    synchronisation does; captures normally after that."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.attempts = 0
        self._failures = failures

    def capture(self, step: Callable[[], None]):
        self.attempts += 1
        if self.attempts <= self._failures:
            step()  # the capture's warm-up ran the step before the capture failed
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture")
        return super().capture(step)


def failing_runner(failures: int, gate: threading.Lock | None = None) -> tuple[CudaGraphRunner, FailingCapturer]:
    capturer = FailingCapturer(failures)
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    return CudaGraphRunner(ToyVelocity(), buckets, capturer, capture_gate=gate), capturer


def test_a_failed_capture_runs_its_step_on_the_fallback_and_the_next_step_captures() -> None:
    gate = threading.Lock()
    runner, capturer = failing_runner(1, gate)
    batch = ode_batch([12, 3])
    eager = EagerRunner(ToyVelocity())
    with structlog.testing.capture_logs() as logs:
        got = runner.step(batch.at([0, 0]))
    assert_same(got, eager.step(batch.at([0, 0])), atol=0)
    failed = [entry for entry in logs if entry["event"] == "f5_graph_capture_failed"]
    assert len(failed) == 1 and failed[0]["bucket"] == (2, 16, True) and failed[0]["failures"] == 1
    assert failed[0]["retry_after"] == 0 and "previous error during capture" in failed[0]["error"]
    assert runner.cached_shapes == [] and runner.captures == 0 and not gate.locked()
    second = ode_batch([9, 14], seed=1)
    out = runner.step(second.at([1, 2]))  # the same bucket tries again, and this time has its graph
    assert runner.cached_shapes == [(2, 16, True)] and capturer.attempts == 2 and runner.captures == 1
    assert capturer.log.count("R") == 1
    assert_same(out, eager.step(second.at([1, 2])))


def test_a_bucket_whose_captures_keep_failing_tries_less_often_and_others_still_capture() -> None:
    runner, capturer = failing_runner(failures=10**6)
    step = ode_batch([5]).at([0])
    eager = EagerRunner(ToyVelocity()).step(step)
    tried = []
    with structlog.testing.capture_logs() as logs:
        for index in range(40):
            attempts = capturer.attempts
            assert_same(runner.step(step), eager, atol=0)
            if capturer.attempts > attempts:
                tried.append(index)
    assert tried == [0, 1, 3, 7, 15, 31]  # after 0, 1, 3, 7 and 15 steps on the fallback
    failed = [entry for entry in logs if entry["event"] == "f5_graph_capture_failed"]
    assert [entry["failures"] for entry in failed] == [1, 2, 3, 4, 5, 6]
    assert [entry["retry_after"] for entry in failed] == [0, 1, 3, 7, 15, 31]
    runner.step(ode_batch([12]).at([0]))  # another bucket is not held back: its first step tries, and fails
    assert capturer.attempts == len(tried) + 1 and runner.cached_shapes == []


def test_a_bucket_gets_its_graph_back_once_its_captures_stop_failing() -> None:
    runner, capturer = failing_runner(failures=3)
    step = ode_batch([5]).at([0])
    for _ in range(7):  # tries at steps 0, 1 and 3 fail; the next try is the 8th step
        runner.step(step)
    assert capturer.attempts == 3 and runner.cached_shapes == []
    capturer.log.clear()
    out = runner.step(step)
    assert capturer.attempts == 4 and runner.cached_shapes == [(1, 8, True)]
    assert capturer.log.count("R") == 1  # this step already replays the graph
    assert_same(out, EagerRunner(ToyVelocity()).step(step))
    assert runner._failures[(1, 8, True)] == 0  # a later failure (after an eviction) starts afresh


def test_the_retry_gap_doubles_up_to_its_bound() -> None:
    assert [retry_gap(n) for n in range(1, 9)] == [0, 1, 3, 7, 15, 31, 63, 63]
    assert retry_gap(10**4) == MAX_RETRY_GAP


def test_a_step_that_fails_in_the_capture_fails_the_same_way_on_the_fallback() -> None:
    """A model error is not hidden behind the fallback: the caller gets it."""

    class Broken(ToyVelocity):
        def __call__(self, *args):
            raise ValueError("the model cannot run this")

    class Warming(ReplayingCapturer):  # runs the step before capturing it, as CUDA's capturer does
        def capture(self, step: Callable[[], None]):
            step()
            return super().capture(step)

    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    runner = CudaGraphRunner(Broken(), buckets, Warming(), fallback=EagerRunner(Broken()))
    with structlog.testing.capture_logs() as logs, pytest.raises(ValueError, match="cannot run this"):
        run(runner, ode_batch([5]))
    assert [entry["event"] for entry in logs] == ["f5_graph_capture_failed"]
