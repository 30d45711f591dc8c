"""Shape buckets: which fixed (batch, frames) shape a batch of items runs at.

A CUDA graph replays one shape, so live batches are padded up to a small set of shapes
(vLLM's capture sizes): frames up to a multiple of `frame_step`, the batch up to the next
size in `batch_sizes`. Padded frames and padded rows are always masked, so the choice of
bucket never changes an item's audio. Beyond the largest bucket a batch runs eagerly at
its own shape. The eager CPU runner uses the exact shape (no grid): padding there only
costs time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32)
DEFAULT_FRAME_STEP = 128
DEFAULT_MAX_FRAMES = 4096


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

    def __post_init__(self) -> None:
        if not self.batch_sizes or list(self.batch_sizes) != sorted(set(self.batch_sizes)) or self.batch_sizes[0] < 1:
            raise ValueError(f"batch sizes must be increasing positive integers, got {self.batch_sizes}")
        if self.frame_step < 1 or self.max_frames < self.frame_step:
            raise ValueError(f"bad frame grid: step {self.frame_step}, max {self.max_frames}")

    @property
    def max_batch(self) -> int:
        return self.batch_sizes[-1]

    def choose(self, batch: int, frames: int) -> Bucket:
        """The smallest bucket that holds `batch` rows of `frames` frames, else the exact shape."""
        if batch < 1 or frames < 1:
            raise ValueError(f"empty batch: {batch} x {frames}")
        padded_frames = -(-frames // self.frame_step) * self.frame_step
        index = bisect.bisect_left(self.batch_sizes, batch)
        if index == len(self.batch_sizes) or padded_frames > self.max_frames:
            return Bucket(batch, frames, captured=False)
        return Bucket(self.batch_sizes[index], padded_frames, captured=True)
