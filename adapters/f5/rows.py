"""An item's way through the ODE as a `Row`, and the engine's work on rows that needs no
model: a row's length, its starting state, one step's batch, the mel the vocoder reads, and a
call's rows run a group of similar lengths at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from adapters.f5.references import PreparedReference
from adapters.f5.runner import StepBatch, guided
from adapters.step_scheduler import choose_rows
from domain.audio import Audio
from domain.synthesis import SynthesisItem, generated_frames

MAX_DURATION = 65536


@dataclass(eq=False)
class Row:
    """One item on its way through the ODE. Planned, it knows its length and guidance; started,
    it holds its state on the device (`y`, from its own seeded noise), its conditioning and
    text embeddings; each step advances it along its own grid (`times`, `deltas`: fp32
    values of upstream's time grid for its NFE and sway) until it is done."""

    item: SynthesisItem
    ref: PreparedReference
    tokens: list[str]
    frames: int
    times: tuple[float, ...]
    deltas: tuple[float, ...]
    y: torch.Tensor | None = field(default=None, repr=False)
    cond: torch.Tensor | None = field(default=None, repr=False)
    text: torch.Tensor | None = field(default=None, repr=False)
    steps_done: int = 0

    @property
    def guided(self) -> bool:
        return guided(self.item.params.cfg_strength)

    @property
    def started(self) -> bool:
        return self.y is not None

    @property
    def steps(self) -> int:
        return len(self.deltas)

    @property
    def done(self) -> bool:
        return self.steps_done == len(self.deltas)


def row_frames(item: SynthesisItem, ref: PreparedReference, tokens: int) -> int:
    """Upstream's duration rule: the prompt's frames and the text's at the voice's pace, at
    least the prompt (or the text's `tokens`) plus one frame, as CFM.sample has it."""
    duration = ref.audio_frames + generated_frames(ref.audio_frames, item.reference.text, item.text, item.params.speed)
    return min(max(tokens + 1, ref.mel.shape[0] + 1, duration), MAX_DURATION)


def start_row(row: Row, text: torch.Tensor, device: torch.device, dtype: torch.dtype) -> None:
    """The row's state from its own noise (its item's seed, so its audio never depends on
    its batch), the reference's mel as the start of its conditioning, and its `text` embeddings."""
    channels = row.ref.mel.shape[1]
    gen = torch.Generator(device=device).manual_seed(row.item.seed)
    noise = torch.randn(row.frames, channels, generator=gen, device=device, dtype=dtype)
    cond = torch.zeros(row.frames, channels, device=device, dtype=dtype)
    cond[: row.ref.mel.shape[0]] = row.ref.mel
    row.y, row.cond, row.text = noise.float(), cond, text


def step_batch(rows: Sequence[Row]) -> StepBatch:
    """One step of started rows, each at its own point of its own grid."""
    return StepBatch(
        y=tuple(row.y for row in rows),  # type: ignore[misc] - started rows
        cond=tuple(row.cond for row in rows),  # type: ignore[misc]
        text=tuple(row.text for row in rows),  # type: ignore[misc]
        t=tuple(row.times[row.steps_done] for row in rows),
        dt=tuple(row.deltas[row.steps_done] for row in rows),
        cfg=tuple(row.item.params.cfg_strength for row in rows),
    )


def generated_mel(row: Row, dtype: torch.dtype) -> torch.Tensor:
    """A done row's mel as the vocoder reads it (channels x frames, fp32). Like upstream, the
    reference's mel is put back over the prompt and generation starts at `audio_frames`
    (which includes the prompt's last, centre-padded frame)."""
    sampled = row.y.to(dtype)  # type: ignore[union-attr] - a done row
    sampled[: row.ref.mel.shape[0]] = row.ref.mel
    return sampled[row.ref.audio_frames :].float().T


def run_grouped(
    rows: Sequence[Row],
    max_frames: int,
    start: Callable[[list[Row]], None],
    step: Callable[[list[Row]], None],
    finish: Callable[[list[Row]], list[Audio]],
) -> list[Audio]:
    """Every row to its end, a step at a time over the rows the step scheduler's policy
    (choose_rows) groups by length, so a call's audio is what the scheduler gives the same
    items; one audio per row, in order."""
    audios: dict[int, Audio] = {}
    pending = list(rows)
    while pending:
        chosen = choose_rows(pending, len(pending), max_frames)
        start([row for row in chosen if not row.started])
        step(chosen)
        finished = [row for row in chosen if row.done]
        audios.update(zip(map(id, finished), finish(finished), strict=True))
        pending = [row for row in pending if not row.done]
    return [audios[id(row)] for row in rows]
