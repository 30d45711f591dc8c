"""`TTS_COMPILE=background` on the CPU: the engine is built as production builds it, with
two stand-ins. The graph runner captures with a capturer that replays by calling the step
(tests/integration/test_f5_batching.py), and, in most tests, TorchDynamo hands the graphs it
traces to a backend that runs them as traced and records them, where `inductor` would
generate code. One test lets inductor generate and build its CPU code in the compile's
thread (about 20 s on 2 cores), as it builds Triton kernels there on a GPU. What the device
adds (Triton kernels and autotuning, the side stream, real captures) is the CUDA test at the
end, which benchmarks/gpu_suite.sh runs."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import structlog
import torch

from adapters.audio_arrays import to_numpy
from adapters.f5 import compile as f5_compile
from adapters.f5.buckets import ShapeBuckets
from adapters.f5.loading import EngineStartupError
from adapters.f5.runner import CudaGraphRunner
from tests.contracts.tts_engine import item
from tests.integration.test_f5_batching import CUDA_HALF_PEAK_SHARE, ReplayingCapturer, cuda
from tests.integration.test_f5_engine import build, settings  # noqa: F401 - the checkpoint fixture

pytestmark = pytest.mark.slow

SUBJECT = item("The item under test speaks this sentence.", seed=3, nfe_step=4)
PAIR = [SUBJECT, item("A shorter mate speaks here.", seed=1, nfe_step=4)]


class Gates:
    """The capture gate build_f5_engine hands the runner, whether the compile held it, and
    the graphs TorchDynamo handed the backend (one per compile)."""

    def __init__(self) -> None:
        self.gate: threading.Lock | None = None
        self.held_while_compiling: list[bool] = []
        self.graphs: list[torch.fx.GraphModule] = []

    def backend(self, graph: torch.fx.GraphModule, example_inputs: list) -> object:
        self.graphs.append(graph)
        return graph.forward  # run as traced: the eager backend's behaviour

    def make_runner(self, kind, velocity, device, buckets=None, max_graphs=24, capture_gate=None):
        """The engine's runner factory: the graph runner on the CPU, capturing with
        ReplayingCapturer; keeps the capture gate it was handed."""
        self.gate = capture_gate
        return CudaGraphRunner(
            velocity, buckets or ShapeBuckets(), ReplayingCapturer(), max_graphs, capture_gate=capture_gate
        )


@pytest.fixture
def replaying_graphs() -> Gates:
    """Gates whose `make_runner` builds the engine's graph runner on the CPU."""
    return Gates()


@pytest.fixture
def graphs_on_cpu(replaying_graphs: Gates, monkeypatch: pytest.MonkeyPatch) -> Gates:
    """As `replaying_graphs`, with the compile's blocks handed to the recording backend."""
    gates = replaying_graphs

    def wrap(block: torch.nn.Module):
        gates.held_while_compiling.append(gates.gate is not None and gates.gate.locked())
        return torch.compile(block, backend=gates.backend, dynamic=True)

    monkeypatch.setattr(f5_compile, "compile_block", wrap)
    return gates


def spoken(engine, batch) -> list[np.ndarray]:
    return [to_numpy(audio) for audio in engine.synthesize(batch)]


def test_the_compile_runs_after_the_warm_up_and_the_engine_swaps_to_it(
    settings: dict[str, str],  # noqa: F811
    graphs_on_cpu: Gates,
) -> None:
    engine = build(settings, compile="background", make_runner=graphs_on_cpu.make_runner)
    first = engine.runner
    assert engine.background_compile is not None and not engine.background_compile.done.is_set()
    assert engine.status().compile == "waiting"
    before = spoken(engine, PAIR)  # served before the warm-up starts the compile
    assert engine.status().graphs == 1
    with structlog.testing.capture_logs() as logs:
        engine.warm_up()
        assert engine.background_compile.done.wait(300)
    assert engine.background_compile.error is None
    assert engine.status().compile == "compiled" and engine.status().graphs == 0  # the new runner's, none yet
    assert graphs_on_cpu.held_while_compiling and all(graphs_on_cpu.held_while_compiling)
    compiled = len(graphs_on_cpu.graphs)
    assert compiled >= 2  # one item with guidance (two rows) and one without (one row)
    assert not graphs_on_cpu.gate.locked()
    swapped = engine.runner
    assert swapped is not first and isinstance(swapped, CudaGraphRunner) and swapped.cached_shapes == []
    after = spoken(engine, PAIR)
    assert swapped.cached_shapes  # its own graphs, over the compiled blocks
    assert engine.status().graphs == len(swapped.cached_shapes) and engine.status().runner == "cuda_graph"
    assert len(graphs_on_cpu.graphs) == compiled  # the jobs' shapes compiled nothing more
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(new, old)  # the eager backend runs the very same kernels
    events = [entry["event"] for entry in logs]
    assert events.index("f5_compile_started") < events.index("f5_compiled")
    engine.warm_up()  # a second warm-up starts nothing new
    assert engine.runner is swapped


def test_a_failed_compile_leaves_the_engine_serving_as_it_was(
    settings: dict[str, str],  # noqa: F811
    graphs_on_cpu: Gates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(block: torch.nn.Module):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(f5_compile, "compile_block", broken)
    engine = build(settings, compile="background", make_runner=graphs_on_cpu.make_runner)
    before = spoken(engine, [SUBJECT])
    runner = engine.runner
    with structlog.testing.capture_logs() as logs:
        engine.warm_up()
        assert engine.background_compile.done.wait(60)
    assert isinstance(engine.background_compile.error, RuntimeError)
    assert engine.runner is runner and not graphs_on_cpu.gate.locked()
    assert engine.status().compile == "failed"
    failed = [entry for entry in logs if entry["event"] == "f5_compile_failed"]
    assert failed and failed[0]["error"] == "RuntimeError"
    np.testing.assert_array_equal(spoken(engine, [SUBJECT])[0], before[0])


@pytest.mark.skipif(shutil.which("c++") is None, reason="inductor's CPU code needs a C++ compiler")
def test_inductor_builds_its_code_in_the_compile_thread_and_the_jobs_compile_nothing(
    settings: dict[str, str],  # noqa: F811
    replaying_graphs: Gates,
) -> None:
    """The real backend in the daemon thread: code generation, its compile workers, the guards
    that must hold for the jobs' shapes. The CPU engine's oneDNN-packed Linears and attention
    are off (inductor lowers neither; a GPU engine has neither)."""
    from torch._dynamo.utils import counters

    engine = build(
        settings,
        compile="background",
        pack_cpu_linears=False,
        onednn_cpu_attention=False,
        make_runner=replaying_graphs.make_runner,
    )
    before = spoken(engine, PAIR)
    engine.warm_up()
    assert engine.background_compile.done.wait(600)
    assert engine.background_compile.error is None
    compiled = counters["stats"]["unique_graphs"]
    assert compiled >= 2
    after = spoken(engine, PAIR)
    assert counters["stats"]["unique_graphs"] == compiled  # nothing compiled on the request path
    for old, new in zip(before, after, strict=True):  # inductor's own kernels: fp32 rounding apart
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-5)


def test_background_needs_the_graph_runner(settings: dict[str, str]) -> None:  # noqa: F811
    with pytest.raises(EngineStartupError, match="TTS_COMPILE=background"):
        build(settings, compile="background")  # the CPU's eager runner


# -- on a CUDA device: inductor's kernels, the side stream, real graph captures ---------------


@cuda
def test_cuda_background_compile_swaps_to_compiled_graphs_that_sound_the_same(settings: dict[str, str]) -> None:  # noqa: F811
    from torch._dynamo.utils import counters

    engine = build(settings, device="cuda", dtype="bf16", runner="cuda_graph", compile="background")
    eager = build(settings, device="cuda", dtype="bf16", runner="eager")
    reference = spoken(eager, [SUBJECT])[0]
    engine.warm_up()
    results = {"while compiling": spoken(engine, PAIR)[0]}  # served beside the compile
    assert engine.background_compile.done.wait(600)
    assert engine.background_compile.error is None
    compiled_graphs = counters["stats"]["unique_graphs"]
    results["compiled, first time"] = spoken(engine, PAIR)[0]  # captures the compiled graphs
    results["compiled, replayed"] = spoken(engine, PAIR)[0]
    assert counters["stats"]["unique_graphs"] == compiled_graphs  # nothing compiled on the request path
    peak = float(np.abs(reference).max())
    for name, got in results.items():
        diff = float(np.abs(got - reference).max())
        print(f"cuda background compile, {name}: max abs diff {diff:.2e} (peak {peak:.3f})")
        assert got.shape == reference.shape and diff <= CUDA_HALF_PEAK_SHARE * peak, name
