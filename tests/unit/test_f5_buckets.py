"""Shape buckets: the padded (batch, frames) a batch runs at, and the eager fallback."""

from __future__ import annotations

import pytest

from adapters.f5_buckets import Bucket, ShapeBuckets

BUCKETS = ShapeBuckets(batch_sizes=(1, 2, 4, 8), frame_step=128, max_frames=1024)


@pytest.mark.parametrize(
    ("batch", "frames", "expected"),
    [
        (1, 1, Bucket(1, 128, True)),
        (1, 128, Bucket(1, 128, True)),
        (1, 129, Bucket(1, 256, True)),
        (3, 700, Bucket(4, 768, True)),
        (5, 1024, Bucket(8, 1024, True)),
        (8, 900, Bucket(8, 1024, True)),
    ],
)
def test_pads_up_to_the_smallest_bucket_that_holds_the_batch(batch: int, frames: int, expected: Bucket) -> None:
    assert BUCKETS.choose(batch, frames) == expected


@pytest.mark.parametrize(("batch", "frames"), [(9, 100), (2, 1025), (16, 4000)])
def test_beyond_the_largest_bucket_runs_at_its_own_shape_uncaptured(batch: int, frames: int) -> None:
    assert BUCKETS.choose(batch, frames) == Bucket(batch, frames, captured=False)


def test_largest_batch_is_the_last_size() -> None:
    assert BUCKETS.max_batch == 8


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_sizes": ()}, {"batch_sizes": (4, 2)}, {"batch_sizes": (0, 1)}, {"frame_step": 0}, {"max_frames": 10}],
)
def test_a_malformed_grid_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ShapeBuckets(**kwargs)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        BUCKETS.choose(0, 10)
