"""Shape buckets: which fixed (batch, frames) shape a batch of items runs at.

A CUDA graph replays one shape, so live batches are padded up to a small set of shapes
(vLLM's capture sizes): the batch up to the next size in `batch_sizes`, frames up to the
next point of a grid that is `steps_per_octave` points per doubling (512, 576, 640, ...,
1024, 1152, ...) and never finer than `frame_step`. A padded row or frame costs the DiT
what a real one does, so both grids bound the share of padding rather than its count: at
most 7 rows of 24 and under an eighth of an item's frames. A fixed step of 128 frames
padded a one-sentence job's 688 frames to 768 (12%); powers of two alone padded a run of 5
items to 8 and 9 to 16. Graphs are captured only for the shapes jobs use: the finer grids
mean more of them (40 frame sizes from 32 to 4096 instead of 32, 20 instead of 14 from 384
to 2048; 10 batch sizes instead of 6), and on the paced H200 model (benchmarks.serve --paced)
a load of 1-4 sentence jobs captured 17-18 graphs instead of 13-15 and spoke 12-17% more
audio per second at 8 and 16 clients (one-sentence jobs: the same). Padded frames and
padded rows are always masked, so the choice of bucket never changes an item's audio.
Beyond the largest bucket a batch runs eagerly at its own shape. The eager CPU runner uses
the exact shape (no grid): padding there only costs time.

With step-level batching the rows of a step change from step to step, and so would its bucket:
on the paced H200 model jobs of one to four sentences used 47 buckets (over the LRU's 24, so
some were captured again and again) where whole-call batches used 21. So a step whose own
bucket has no graph yet runs in a larger one that has, if that costs at most REUSE_SLACK more
(rows x frames): a step's padding is cheaper than a capture (0.15 s, several full steps).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection
from dataclasses import dataclass

#: jobs of unlike lengths split a call into runs of any size (3.4 runs per call for 1-4
#: sentence jobs at 8 and 16 clients), so the sizes are dense enough to keep padding under 1/3
DEFAULT_BATCH_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
DEFAULT_FRAME_STEP = 32
DEFAULT_STEPS_PER_OCTAVE = 8
DEFAULT_MAX_FRAMES = 4096
#: how much larger (rows x frames) a held bucket may be than a step's own to serve it instead
REUSE_SLACK = 1.25


@dataclass(frozen=True)
class Bucket:
    """The shape a batch runs at; `captured` is False for the eager fallback."""

    batch: int
    frames: int
    captured: bool


@dataclass(frozen=True)
class ShapeBuckets:
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    frame_step: int = DEFAULT_FRAME_STEP
    max_frames: int = DEFAULT_MAX_FRAMES
    steps_per_octave: int = DEFAULT_STEPS_PER_OCTAVE  # 0: every multiple of frame_step

    def __post_init__(self) -> None:
        if not self.batch_sizes or list(self.batch_sizes) != sorted(set(self.batch_sizes)) or self.batch_sizes[0] < 1:
            raise ValueError(f"batch sizes must be increasing positive integers, got {self.batch_sizes}")
        if self.frame_step < 1 or self.max_frames < self.frame_step or self.steps_per_octave < 0:
            raise ValueError(
                f"bad frame grid: step {self.frame_step}, {self.steps_per_octave} per octave, max {self.max_frames}"
            )

    @property
    def max_batch(self) -> int:
        return self.batch_sizes[-1]

    def choose(self, batch: int, frames: int, held: Collection[tuple[int, int]] = ()) -> Bucket:
        """The smallest bucket that holds `batch` rows of `frames` frames, else the exact
        shape; where that bucket is not among `held` (the (batch, frames) of graphs already
        captured), the smallest held one that holds them at most REUSE_SLACK larger."""
        if batch < 1 or frames < 1:
            raise ValueError(f"empty batch: {batch} x {frames}")
        padded_frames = self.padded_frames(frames)
        index = bisect.bisect_left(self.batch_sizes, batch)
        if index == len(self.batch_sizes) or padded_frames > self.max_frames:
            return Bucket(batch, frames, captured=False)
        own = (self.batch_sizes[index], padded_frames)
        if own not in held:
            limit = REUSE_SLACK * own[0] * own[1]
            larger = [(b, f) for b, f in held if b >= batch and f >= frames and b * f <= limit]
            own = min(larger, key=lambda shape: shape[0] * shape[1], default=own)
        return Bucket(own[0], own[1], captured=True)

    def padded_frames(self, frames: int) -> int:
        """The grid point at or above `frames`: a multiple of the step of the octave
        (2^k, 2^(k+1)] that holds it, so a grid point never falls between octaves."""
        step = self.frame_step
        if self.steps_per_octave:
            octave = 1 << max(0, (frames - 1).bit_length() - 1)  # the largest power of two below frames
            step = max(step, octave // self.steps_per_octave)
        return -(-frames // step) * step
