"""Runners on the CPU: the graph runner's bucketing, static buffers, LRU and fallback.

A capturer that replays by calling the captured step stands in for CUDA graphs: the step
may read only the runner's static buffers (it is a closure over them, as under capture),
so equal results with the eager runner show that padding, masking and buffer refills are
right; the CUDA capture itself is checked on the device (tests/integration)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import structlog
import torch

from adapters.f5_buckets import ShapeBuckets
from adapters.f5_runner import MAX_RETRY_GAP, CudaGraphRunner, EagerRunner, OdeBatch, make_runner, retry_gap

CHANNELS, TEXT_DIM = 3, 2


class ToyVelocity:
    """A velocity that mixes frames within a row under the mask (like attention), so a
    padding mistake shows up in the valid frames."""

    def rope(self, frames: int, device: torch.device) -> None:
        return None

    def __call__(self, x, cond, text, t, mask, cfg):
        keep = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask
        weights = keep[..., None].float()
        mean = (x * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True)
        pred = torch.tanh(mean + cond.float() + text[0, ..., :1].float() - x * t.float())
        if cfg is None:
            return pred
        null = torch.tanh(mean - x * t.float() + text[1, ..., :1].float())
        return pred + (pred - null) * cfg


class ReplayingCapturer:
    """Replays by calling the step; `log` records replays and fences in order ("R", "F0",
    "S0": fence 0 created, waited on), so the host's lead over the device can be checked."""

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

    def fence(self):
        number, log = sum(entry.startswith("F") for entry in self.log), self.log
        log.append(f"F{number}")

        class Fence:
            def synchronize(self) -> None:
                log.append(f"S{number}")

        return Fence()


def ode_batch(lengths: list[int], cfg: float = 2.0, seed: int = 0) -> OdeBatch:
    gen = torch.Generator().manual_seed(seed)
    frames = max(lengths)
    noise = torch.zeros(len(lengths), frames, CHANNELS)
    cond = torch.zeros(len(lengths), frames, CHANNELS)
    text = torch.zeros(2, len(lengths), frames, TEXT_DIM)
    for i, length in enumerate(lengths):
        noise[i, :length] = torch.randn(length, CHANNELS, generator=gen)
        cond[i, :length] = torch.randn(length, CHANNELS, generator=gen)
        text[:, i, :length] = torch.randn(2, length, TEXT_DIM, generator=gen)
    return OdeBatch(noise, cond, text, tuple(lengths), torch.linspace(0, 1, 5), cfg)


def graph_runner(max_graphs: int = 8) -> tuple[CudaGraphRunner, ReplayingCapturer]:
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    return CudaGraphRunner(ToyVelocity(), buckets, capturer, max_graphs=max_graphs), capturer


def valid(y: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
    return [y[i, :length] for i, length in enumerate(lengths)]


@pytest.mark.parametrize("lengths", [[5], [7, 3, 6], [16, 16], [9, 2, 14, 11]])
@pytest.mark.parametrize("cfg", [2.0, 0.0])
def test_graph_runner_gives_the_eager_result_in_a_padded_bucket(lengths: list[int], cfg: float) -> None:
    runner, _ = graph_runner()
    batch = ode_batch(lengths, cfg)
    got = runner.run(batch)
    assert got.shape == batch.noise.shape
    for ours, eager in zip(valid(got, lengths), valid(EagerRunner(ToyVelocity()).run(batch), lengths), strict=True):
        torch.testing.assert_close(ours, eager, rtol=0, atol=1e-6)


def test_one_capture_per_bucket_and_the_same_static_buffers_each_time() -> None:
    runner, capturer = graph_runner()
    runner.run(ode_batch([5, 7]))
    static = runner._graphs[(2, 8, True)].static
    pointers = (static.y.data_ptr(), static.cond.data_ptr(), static.text.data_ptr(), static.mask.data_ptr())
    second = ode_batch([8, 2], seed=1)  # another live shape, same bucket
    out = runner.run(second)
    assert len(capturer.captured) == 1 and runner.captures == 1
    assert runner._graphs[(2, 8, True)].static is static
    assert (static.y.data_ptr(), static.cond.data_ptr(), static.text.data_ptr(), static.mask.data_ptr()) == pointers
    expected = EagerRunner(ToyVelocity()).run(second)
    for ours, eager in zip(valid(out, [8, 2]), valid(expected, [8, 2]), strict=True):
        torch.testing.assert_close(ours, eager, rtol=0, atol=1e-6)


def test_guided_and_unguided_batches_get_their_own_graphs() -> None:
    runner, capturer = graph_runner()
    runner.run(ode_batch([5], cfg=2.0))
    runner.run(ode_batch([5], cfg=0.0))
    assert runner.cached_shapes == [(1, 8, True), (1, 8, False)]
    assert len(capturer.captured) == 2


@pytest.mark.parametrize("lengths", [[3] * 5, [40]])
def test_beyond_the_largest_bucket_runs_eagerly(lengths: list[int]) -> None:
    runner, capturer = graph_runner()
    batch = ode_batch(lengths)
    out = runner.run(batch)
    assert capturer.captured == [] and runner.cached_shapes == []
    torch.testing.assert_close(out, EagerRunner(ToyVelocity()).run(batch), rtol=0, atol=0)


def test_least_recently_used_graph_is_evicted_and_recaptured_on_return() -> None:
    runner, capturer = graph_runner(max_graphs=2)
    runner.run(ode_batch([5]))  # (1, 8)
    runner.run(ode_batch([12]))  # (1, 16)
    runner.run(ode_batch([5]))  # (1, 8) used again: (1, 16) is now the oldest
    runner.run(ode_batch([20]))  # (1, 24) evicts (1, 16)
    assert runner.cached_shapes == [(1, 8, True), (1, 24, True)] and runner.graphs_held == 2
    assert len(capturer.captured) == 3
    runner.run(ode_batch([12]))
    assert runner.cached_shapes == [(1, 24, True), (1, 16, True)]
    assert len(capturer.captured) == 4


def test_runner_choice() -> None:
    assert make_runner("auto", ToyVelocity(), "cpu").name == "eager"  # type: ignore[arg-type]
    assert make_runner("eager", ToyVelocity(), "cpu").name == "eager"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a CUDA device"):
        make_runner("cuda_graph", ToyVelocity(), "cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TTS_RUNNER"):
        make_runner("fast", ToyVelocity(), "cpu")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["eager", "graph"])
def test_between_steps_runs_between_every_two_steps_and_changes_nothing(kind: str) -> None:
    runner = EagerRunner(ToyVelocity()) if kind == "eager" else graph_runner()[0]
    batch = ode_batch([7, 3])
    calls: list[int] = []
    out = runner.run(batch, lambda: calls.append(1))
    assert len(calls) == len(batch.grid) - 2  # 4 steps: 3 gaps, none before the first or after the last
    expected = EagerRunner(ToyVelocity()).run(batch)
    for ours, eager in zip(valid(out, [7, 3]), valid(expected, [7, 3]), strict=True):
        torch.testing.assert_close(ours, eager, rtol=0, atol=1e-6)


def test_graph_runner_keeps_at_most_two_steps_queued_while_it_offers_the_gaps() -> None:
    """The call-back must run while the device works on the current step, not after the
    host queued every step: before each gap the host waits for the step before last."""
    runner, capturer = graph_runner()
    runner.run(ode_batch([5]), lambda: capturer.log.append("H"))
    assert capturer.log == ["R", "F0", "H", "R", "F1", "S0", "H", "R", "F2", "S1", "H", "R", "F3"]
    capturer.log.clear()
    runner.run(ode_batch([5]))  # without a call-back nothing waits: the host queues every step
    assert capturer.log == ["R", "R", "R", "R"]


def test_a_batch_run_inside_the_gap_leaves_the_paused_batch_alone() -> None:
    """Another batch in the paused batch's bucket runs eagerly (its buffers hold the paused
    state); one in another bucket gets its graph; every result is the eager one."""
    runner, capturer = graph_runner()
    paused, same_bucket, other_bucket = ode_batch([7, 3]), ode_batch([6, 8], seed=1), ode_batch([12], seed=2)
    inner: list[torch.Tensor] = []

    def gap() -> None:
        if not inner:
            inner.extend([runner.run(same_bucket), runner.run(other_bucket)])

    out = runner.run(paused, gap)
    eager = EagerRunner(ToyVelocity())
    for got, batch in [(out, paused), (inner[0], same_bucket), (inner[1], other_bucket)]:
        lengths = list(batch.lengths)
        for ours, expected in zip(valid(got, lengths), valid(eager.run(batch), lengths), strict=True):
            torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    assert runner.cached_shapes == [(2, 8, True), (1, 16, True)]  # nothing captured for the busy bucket
    assert len(capturer.captured) == 2


def test_a_paused_graph_is_never_evicted() -> None:
    runner, _ = graph_runner(max_graphs=1)
    inner: list[torch.Tensor] = []
    runner.run(ode_batch([5]), lambda: inner or inner.append(runner.run(ode_batch([12], seed=1))))
    assert runner.cached_shapes == [(1, 8, True)]  # the one captured inside the gap made way
    assert inner and inner[0].shape == (1, 12, CHANNELS)


def test_while_the_capture_gate_is_held_new_shapes_run_eagerly_and_captured_ones_replay() -> None:
    gate = threading.Lock()
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    runner = CudaGraphRunner(ToyVelocity(), buckets, capturer, capture_gate=gate)
    runner.run(ode_batch([5]))  # (1, 8) captured while the gate is free, and the gate is free again
    assert runner.cached_shapes == [(1, 8, True)] and not gate.locked()
    with gate:  # a background compile holds the device
        capturer.log.clear()
        runner.run(ode_batch([6]))  # (1, 8): replayed
        assert capturer.log.count("R") == 4
        batch = ode_batch([12, 3])  # (2, 16): no graph yet, so eager rather than a capture
        torch.testing.assert_close(runner.run(batch), EagerRunner(ToyVelocity()).run(batch), rtol=0, atol=0)
        assert runner.cached_shapes == [(1, 8, True)] and len(capturer.captured) == 1
    runner.run(ode_batch([12, 3]))  # the gate is free: captured now
    assert runner.cached_shapes == [(1, 8, True), (2, 16, True)] and not gate.locked()


def test_a_runner_over_another_velocity_keeps_the_grid_capturer_and_fallback_but_no_graphs() -> None:
    gate = threading.Lock()
    capturer = ReplayingCapturer()
    buckets = ShapeBuckets(batch_sizes=(1, 2, 4), frame_step=8, max_frames=32)
    fallback = EagerRunner(ToyVelocity())
    runner = CudaGraphRunner(ToyVelocity(), buckets, capturer, max_graphs=3, fallback=fallback, capture_gate=gate)
    runner.run(ode_batch([5]))
    other = ToyVelocity()
    swapped = runner.over(other)  # type: ignore[arg-type]
    assert swapped.buckets is buckets and swapped._capturer is capturer and swapped._fallback is fallback
    assert swapped._velocity is other and swapped._max_graphs == 3 and swapped._gate is None
    assert swapped.cached_shapes == []
    with gate:  # no gate of its own: it captures whatever holds the old one
        swapped.run(ode_batch([5]))
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


def test_a_failed_capture_runs_its_batch_on_the_fallback_and_the_next_batch_captures() -> None:
    gate = threading.Lock()
    runner, capturer = failing_runner(1, gate)
    batch = ode_batch([12, 3])
    with structlog.testing.capture_logs() as logs:
        got = runner.run(batch)
    torch.testing.assert_close(got, EagerRunner(ToyVelocity()).run(batch), rtol=0, atol=0)
    failed = [entry for entry in logs if entry["event"] == "f5_graph_capture_failed"]
    assert len(failed) == 1 and failed[0]["bucket"] == (2, 16, True) and failed[0]["failures"] == 1
    assert failed[0]["retry_after"] == 0 and "previous error during capture" in failed[0]["error"]
    assert runner.cached_shapes == [] and runner.captures == 0 and not gate.locked()
    second = ode_batch([9, 14], seed=1)
    out = runner.run(second)  # the same bucket tries again, and this time has its graph
    assert runner.cached_shapes == [(2, 16, True)] and capturer.attempts == 2 and runner.captures == 1
    assert capturer.log.count("R") == len(second.grid) - 1
    for ours, eager in zip(valid(out, [9, 14]), valid(EagerRunner(ToyVelocity()).run(second), [9, 14]), strict=True):
        torch.testing.assert_close(ours, eager, rtol=0, atol=1e-6)


def test_a_bucket_whose_captures_keep_failing_tries_less_often_and_others_still_capture() -> None:
    runner, capturer = failing_runner(failures=10**6)
    batch = ode_batch([5])
    eager = EagerRunner(ToyVelocity()).run(batch)
    tried = []
    with structlog.testing.capture_logs() as logs:
        for index in range(40):
            attempts = capturer.attempts
            torch.testing.assert_close(runner.run(batch), eager, rtol=0, atol=0)
            if capturer.attempts > attempts:
                tried.append(index)
    assert tried == [0, 1, 3, 7, 15, 31]  # after 0, 1, 3, 7 and 15 batches on the fallback
    failed = [entry for entry in logs if entry["event"] == "f5_graph_capture_failed"]
    assert [entry["failures"] for entry in failed] == [1, 2, 3, 4, 5, 6]
    assert [entry["retry_after"] for entry in failed] == [0, 1, 3, 7, 15, 31]
    runner.run(ode_batch([12]))  # another bucket is not held back: its first batch tries, and fails
    assert capturer.attempts == len(tried) + 1 and runner.cached_shapes == []


def test_a_bucket_gets_its_graph_back_once_its_captures_stop_failing() -> None:
    runner, capturer = failing_runner(failures=3)
    batch = ode_batch([5])
    for _ in range(7):  # tries at batches 0, 1 and 3 fail; the next try is the 8th batch
        runner.run(batch)
    assert capturer.attempts == 3 and runner.cached_shapes == []
    capturer.log.clear()
    out = runner.run(batch)
    assert capturer.attempts == 4 and runner.cached_shapes == [(1, 8, True)]
    assert capturer.log.count("R") == len(batch.grid) - 1  # this batch already replays the graph
    torch.testing.assert_close(out, EagerRunner(ToyVelocity()).run(batch), rtol=0, atol=1e-6)
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
        runner.run(ode_batch([5]))
    assert [entry["event"] for entry in logs] == ["f5_graph_capture_failed"]
