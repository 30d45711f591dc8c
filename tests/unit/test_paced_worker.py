"""The paced worker's device model and clock (benchmarks.paced_worker): a scheduling benchmark
is only as good as the device it pretends to be, so the model must give back the H200 figures
it was fitted to, and the runner must charge each bucket, capture, step and pass exactly once."""

from __future__ import annotations

import pytest
import torch

from adapters.f5.buckets import ShapeBuckets
from benchmarks.paced_worker import (
    DEVICE_MODELS,
    REFERENCE_FRAMES,
    TEXT_PASS,
    VOCODER_PASS,
    DeviceQueue,
    PacedRunner,
    paced_make_runner,
)
from container import build_container
from domain.synthesis import HOP_LENGTH, SynthesisItem, SynthesisParams
from tests.contracts.tts_engine import voiced_reference
from tests.unit.test_f5_runner import ode_batch, run

# ms per guided step at 760 frames, measured on one H200 (benchmarks/results/ceiling-gpu.txt and
# the compile_graphs row at batch 8)
MEASURED = {
    "h200-graphs": {1: 6.7, 8: 32.7, 16: 63.8},
    "h200-compiled": {1: 3.5, 8: 14.7, 16: 30.3},
}


@pytest.mark.parametrize("device", sorted(MEASURED))
def test_the_model_gives_back_the_measured_step_times(device: str) -> None:
    for batch, ms in MEASURED[device].items():
        modelled = 1000 * DEVICE_MODELS[device].step_seconds(batch, REFERENCE_FRAMES)
        assert modelled == pytest.approx(ms, rel=0.04), (batch, modelled)


def test_steps_cost_more_with_frames_and_without_a_graph() -> None:
    model = DEVICE_MODELS["h200-graphs"]
    per_row = [model.step_seconds(16, frames) / frames for frames in (512, 1024, 2048, 4096)]
    assert per_row == sorted(per_row) and per_row[0] < per_row[-1]  # attention's quadratic share
    assert model.step_seconds(1, 760, captured=False) > 5 * model.step_seconds(1, 760)


class Clock:
    """A fake clock: sleeping advances it, and is recorded."""

    def __init__(self) -> None:
        self.held: list[float] = []
        self.time = 100.0

    def __call__(self, seconds: float) -> None:
        self.held.append(seconds)
        self.time += seconds

    def now(self) -> float:
        return self.time

    def device(self, overlap: bool = False) -> DeviceQueue:
        return DeviceQueue(overlap, now=self.now, sleep=self)


def test_each_bucket_pays_one_capture_then_one_hold_per_step() -> None:
    clock = Clock()
    model = DEVICE_MODELS["h200-graphs"]
    runner = PacedRunner(model, ShapeBuckets((1, 2, 4), frame_step=8, max_frames=32), device=clock.device())
    batch = ode_batch([5, 7, 3])  # 4 steps; bucket 4 x 8
    out = run(runner, batch)
    step = model.step_seconds(4, 8)
    assert clock.held == pytest.approx([model.first_capture_s, step, step, step, step])
    assert all(torch.equal(got, state) for got, state in zip(out, batch.y, strict=True))
    clock.held.clear()
    run(runner, ode_batch([6, 8, 2, 1], seed=1))  # the same bucket: no capture
    assert clock.held == pytest.approx([step] * 4)
    clock.held.clear()
    run(runner, ode_batch([9]))  # a new bucket (1 x 16): the cheaper later capture
    assert clock.held == pytest.approx([model.capture_s] + [model.step_seconds(1, 16)] * 4)


def test_shapes_beyond_the_buckets_hold_at_the_eager_floor_and_capture_nothing() -> None:
    clock = Clock()
    model = DEVICE_MODELS["h200-compiled"]
    runner = PacedRunner(model, ShapeBuckets((1, 2), frame_step=8, max_frames=32), device=clock.device())
    run(runner, ode_batch([40]))
    assert clock.held == pytest.approx([model.step_seconds(1, 40, captured=False)] * 4)


def test_rows_at_different_steps_hold_the_device_for_one_step_of_their_bucket() -> None:
    clock = Clock()
    model = DEVICE_MODELS["h200-graphs"]
    runner = PacedRunner(model, ShapeBuckets((1, 2), frame_step=8, max_frames=32), device=clock.device())
    runner.step(ode_batch([15, 10]).at([0, 3]))
    assert clock.held == pytest.approx([model.first_capture_s, model.step_seconds(2, 16)])


def test_the_device_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACED_DEVICE", "h200-compiled")
    assert paced_make_runner("auto", None, "cpu").model is DEVICE_MODELS["h200-compiled"]
    monkeypatch.setenv("PACED_DEVICE", "no-such-gpu")
    with pytest.raises(KeyError):
        paced_make_runner("auto", None, "cpu")


def test_a_what_if_grid_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACED_BUCKETS", "frame_step=128 steps_per_octave=0")
    assert paced_make_runner("auto", None, "cpu").buckets.choose(1, 688).frames == 768
    monkeypatch.delenv("PACED_BUCKETS")
    assert paced_make_runner("auto", None, "cpu").buckets.choose(1, 688).frames == 704


def test_at_most_max_graphs_are_kept_and_an_evicted_bucket_is_captured_again() -> None:
    clock = Clock()
    model = DEVICE_MODELS["h200-graphs"]
    runner = PacedRunner(model, ShapeBuckets((1, 2), frame_step=8, max_frames=32), max_graphs=2, device=clock.device())
    for lengths in ([8], [16], [8], [24]):  # 8 was used again, so 16 is the one evicted
        run(runner, ode_batch(lengths))
    assert runner.captures == 3
    clock.held.clear()
    run(runner, ode_batch([16]))
    assert clock.held[0] == pytest.approx(model.capture_s) and runner.captures == 4
    clock.held.clear()
    run(runner, ode_batch([24]))
    assert clock.held == pytest.approx([model.step_seconds(1, 24)] * 4)


def test_overlapped_launches_return_when_the_device_starts_the_step() -> None:
    """The host's work between steps hides behind the step in progress, one step ahead at most."""
    clock = Clock()
    device = clock.device(overlap=True)
    device.launch(0.010)  # an idle device starts it at once
    assert clock.held == []
    clock(0.004)  # the host assembles the next step meanwhile
    device.launch(0.010)  # queued behind the first: returns when it starts, 6 ms later
    assert clock.held[-1] == pytest.approx(0.006)
    clock(0.015)  # host work longer than the step: the device idled, nothing to wait for
    clock.held.clear()
    device.launch(0.010)
    assert clock.held == []
    clock(0.002)
    device.synchronize()  # reading a result waits for the rest of the step
    assert clock.held[-1] == pytest.approx(0.008)


def test_a_capture_waits_for_the_device_and_holds_the_host() -> None:
    clock = Clock()
    model = DEVICE_MODELS["h200-graphs"]
    runner = PacedRunner(model, ShapeBuckets((1, 2), frame_step=8, max_frames=32), device=clock.device(overlap=True))
    runner.step(ode_batch([8]).at([0]))  # the first capture, then a step queued
    assert clock.held == pytest.approx([model.first_capture_s])
    runner.step(ode_batch([16]).at([0]))  # another bucket: the capture waits for the step in flight
    step = model.step_seconds(1, 8)
    assert clock.held == pytest.approx([model.first_capture_s, step, model.capture_s])


@pytest.mark.slow
def test_the_container_builds_the_engine_over_the_runner_factory_it_is_given(tiny_checkpoint: dict[str, str]) -> None:
    """How main() installs the clock: the container's runner provider, overridden; nothing
    of the engine's modules is patched, and the engine is built from the settings as usual.
    Its text encoder and vocoder are the runner's passes too: the audio is the clock's silence,
    as long as Vocos makes it."""
    env = {**tiny_checkpoint, "TTS_ENGINE": "f5", "TTS_DEVICE": "cpu", "TTS_DTYPE": "fp32", "STORAGE_URL": "memory://"}
    container = build_container(env)
    container.runner_factory.override(paced_make_runner)
    engine = container.engine()
    assert isinstance(engine.runner, PacedRunner) and engine.status().runner == "paced"
    item = SynthesisItem(voiced_reference(), "Hello there.", SynthesisParams(nfe_step=4), seed=1)
    (row,) = engine.plan([item])
    (audio,) = engine.synthesize([item])
    assert audio.num_samples == HOP_LENGTH * (row.frames - row.ref.audio_frames - 1)
    assert not any(audio.samples)


def test_the_passes_are_queued_on_the_device_and_give_what_the_engine_reads() -> None:
    clock = Clock()
    runner = PacedRunner(DEVICE_MODELS["h200-graphs"], ShapeBuckets(), device=clock.device())
    dit = torch.nn.Module()
    dit.text_embed = torch.nn.Module()
    dit.text_embed.text_embed = torch.nn.Embedding(10, 12)
    text = runner.embed_text(dit, [torch.arange(3), torch.arange(5)], [40, 60], 64)
    assert text.shape == (2, 2, 64, 12) and not text.any()
    waves = runner.decode(None, [torch.randn(100, 30), torch.randn(100, 7)])
    assert [wave.shape[0] for wave in waves] == [29 * HOP_LENGTH, 6 * HOP_LENGTH] and not any(w.any() for w in waves)
    assert clock.held == pytest.approx([TEXT_PASS.seconds([40, 60]), VOCODER_PASS.seconds([30, 7])])


def test_the_passes_cost_more_with_rows_and_frames_and_stay_inside_what_the_h200_measured() -> None:
    """engine-gpu.txt: the engine took 13 ms beyond its DiT steps for a 5.7 s sentence (534 mel
    frames, 760 with the voice) and 27 ms for eight: everything else, the passes included."""
    for pass_ in (TEXT_PASS, VOCODER_PASS):
        assert pass_.seconds([534]) < pass_.seconds([534, 534]) and pass_.seconds([534]) < pass_.seconds([1068])
    assert TEXT_PASS.seconds([760]) + VOCODER_PASS.seconds([534]) < 0.013
    assert TEXT_PASS.seconds([760] * 8) + VOCODER_PASS.seconds([534] * 8) < 0.027


def test_the_passes_run_on_the_host_where_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not paced_make_runner("auto", None, "cpu").passes_on_host
    monkeypatch.setenv("PACED_PASSES", "host")
    assert paced_make_runner("auto", None, "cpu").passes_on_host


def test_the_runner_s_synchronize_waits_for_the_steps_it_queued() -> None:
    """The engine calls it before the vocoder reads the finished rows: the host waits there,
    and nowhere else, for the modelled device."""
    clock = Clock()
    model = DEVICE_MODELS["h200-graphs"]
    runner = PacedRunner(model, ShapeBuckets((1, 2), frame_step=8, max_frames=32), device=clock.device(overlap=True))
    runner.step(ode_batch([8]).at([0]))  # the capture holds the host; the step is queued
    runner.step(ode_batch([8]).at([0]))  # returns when the first step starts
    clock.held.clear()
    runner.synchronize()
    assert clock.held == pytest.approx([model.step_seconds(1, 8)])
