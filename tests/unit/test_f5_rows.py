"""The F5 engine's work on rows that needs no model: a row's length, its starting state, one
step's batch, the mel the vocoder reads, and a call's rows run in groups of similar length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from adapters.audio_arrays import from_numpy, to_numpy
from adapters.f5.references import PreparedReference
from adapters.f5.rows import MAX_DURATION, Row, generated_mel, row_frames, run_grouped, start_row, step_batch
from domain.synthesis import generated_frames
from tests.contracts.tts_engine import item

CHANNELS = 4


def reference(frames: int = 20) -> PreparedReference:
    mel = torch.arange(frames * CHANNELS, dtype=torch.float32).reshape(frames, CHANNELS) + 1
    return PreparedReference(mel=mel, audio_frames=frames - 1, rms=0.2)


def row(seed: int = 7, frames: int = 50, steps: int = 3, text: str = "A sentence to speak.", **params: object) -> Row:
    times = tuple(i / steps for i in range(steps))
    return Row(item(text, seed=seed, **params), reference(), [], frames, times, (1 / steps,) * steps)


def started(seed: int = 7, frames: int = 50) -> Row:
    r = row(seed, frames)
    start_row(r, torch.full((2, frames, 8), float(seed)), torch.device("cpu"), torch.float32)
    return r


def test_a_rows_length_is_upstreams_duration_rule() -> None:
    spoken, ref = item("Hello there, this is a test."), reference(300)
    expected = ref.audio_frames + generated_frames(ref.audio_frames, spoken.reference.text, spoken.text, 1.0)
    assert row_frames(spoken, ref, tokens=10) == expected


def test_a_row_holds_at_least_its_prompt_or_its_text_plus_one_frame_and_at_most_the_cap() -> None:
    spoken, ref = item("Hi."), reference(300)
    assert row_frames(spoken, ref, tokens=5000) == 5001  # more tokens than the rule's frames
    assert row_frames(spoken, ref, tokens=10**6) == MAX_DURATION


def test_a_rows_noise_comes_from_its_own_seed() -> None:
    a, again, other = started(seed=3), started(seed=3), started(seed=4)
    assert a.y is not None and a.y.dtype == torch.float32 and a.y.shape == (50, CHANNELS)
    assert torch.equal(a.y, again.y) and not torch.equal(a.y, other.y)


def test_a_rows_conditioning_is_the_reference_mel_then_silence() -> None:
    r = started()
    assert r.cond is not None and r.text is not None and r.started
    assert torch.equal(r.cond[:20], r.ref.mel) and not r.cond[20:].any()
    assert (r.text == 7).all()


def test_a_step_takes_each_row_at_its_own_point_of_its_own_grid() -> None:
    first, second = started(seed=1), started(seed=2, frames=40)
    second.steps_done = 2
    batch = step_batch([first, second])
    assert batch.t == (0.0, 2 / 3) and batch.dt == (1 / 3, 1 / 3) and batch.lengths == (50, 40)
    assert batch.y[1] is second.y and batch.cond[0] is first.cond


def test_the_vocoder_reads_the_generated_frames_after_the_prompt_with_the_prompt_restored() -> None:
    r = started()
    assert r.y is not None
    r.y.fill_(-1.0)
    mel = generated_mel(r, torch.float32)
    assert mel.shape == (CHANNELS, 50 - r.ref.audio_frames) and mel.dtype == torch.float32
    # the prompt's last (centre-padded) frame is the reference's own, then the generated frames
    assert torch.equal(mel[:, 0], r.ref.mel[-1]) and (mel[:, 1:] == -1).all()


@dataclass(eq=False)
class CountingRow:
    """What run_grouped reads of a row: its length, guidance and progress."""

    index: int
    frames: int
    steps: int = 2
    steps_done: int = 0
    started: bool = False
    guided: bool = True

    @property
    def done(self) -> bool:
        return self.steps_done == self.steps


def test_a_calls_rows_run_in_groups_of_similar_length_and_answer_in_order() -> None:
    rows = [CountingRow(0, 100), CountingRow(1, 10), CountingRow(2, 98), CountingRow(3, 11)]
    steps: list[list[int]] = []
    finished: list[int] = []

    def start(group: list[CountingRow]) -> None:
        assert all(not r.started for r in group)
        for r in group:
            r.started = True

    def step(group: list[CountingRow]) -> None:
        steps.append(sorted(r.index for r in group))
        for r in group:
            r.steps_done += 1

    def finish(group: list[CountingRow]) -> list:
        assert all(r.done for r in group)
        finished.extend(r.index for r in group)
        return [from_numpy(np.full(1, r.index, dtype=np.float32), 24000) for r in group]

    audios = run_grouped(rows, 10_000, start, step, finish)  # type: ignore[arg-type]
    assert [to_numpy(audio)[0] for audio in audios] == [0, 1, 2, 3]
    assert sorted(finished) == [0, 1, 2, 3]
    assert steps == [[0, 2], [0, 2], [1, 3], [1, 3]]  # long with long, short with short


def test_a_quiet_voices_finished_row_is_scaled_in_the_waveform_the_vocoder_gave():
    """Upstream's `wave * rms / target` (the voice's loudness back), in that tensor: a new
    waveform per operation cost page faults on the way to the answer."""
    from adapters.f5.engine import F5Engine
    from adapters.f5.loading import import_f5_model
    from adapters.f5.precision import Precision

    import_f5_model()  # as the engine's build does first: f5_tts without its package's imports

    waves: list[torch.Tensor] = []

    class Runner:
        name, buckets, graphs_held = "test", None, 0

        def synchronize(self) -> None: ...

        def decode(self, vocoder: object, mels: list[torch.Tensor]) -> list[torch.Tensor]:
            waves.extend(torch.full((256 * mel.shape[1],), 0.3) for mel in mels)
            return list(waves)

    engine = F5Engine(dit=torch.nn.Identity(), vocoder=None, mel_spec=torch.nn.Identity(), vocab={},
                      precision=Precision("cpu", "fp32", "test"), model_id="t", sample_rate=24000, hop_length=256,
                      runner=Runner())  # type: ignore[arg-type]  # fmt: skip
    row = Row(item("hi"), PreparedReference(torch.zeros(4, 100), 4, rms=0.07), ["h", "i"], 12, (0.0,), (1.0,))
    row.y, row.steps_done = torch.zeros(12, 100), 1
    (audio,) = engine.finish([row])
    expected = torch.full((256 * 8,), 0.3) * 0.07 / 0.1
    assert torch.equal(waves[0], expected)  # in the vocoder's tensor, rounded as upstream rounds it
    assert to_numpy(audio).tobytes() == expected.numpy().tobytes()
