"""Shape buckets: the padded (batch, frames) a batch runs at, and the eager fallback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.f5.buckets import Bucket, ShapeBuckets

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
    [
        {"batch_sizes": ()},
        {"batch_sizes": (4, 2)},
        {"batch_sizes": (0, 1)},
        {"frame_step": 0},
        {"max_frames": 10},
        {"steps_per_octave": -1},
    ],
)
def test_a_malformed_grid_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ShapeBuckets(**kwargs)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        BUCKETS.choose(0, 10)


@pytest.mark.parametrize(
    ("frames", "padded"),
    [(1, 32), (33, 64), (300, 320), (512, 512), (513, 576), (688, 704), (1025, 1152), (1581, 1664), (2049, 2304)],
)
def test_the_default_grid_has_eight_points_per_octave(frames: int, padded: int) -> None:
    assert ShapeBuckets().choose(1, frames) == Bucket(1, padded, True)


def test_the_default_grid_has_about_as_many_shapes_as_a_fixed_step_of_128() -> None:
    points = {ShapeBuckets().padded_frames(frames) for frames in range(1, 4097)}
    assert len(points) == 40  # a step of 128 gives 32, 24 of them above 1024


@given(st.integers(1, 4096), st.integers(1, 4096))
def test_padding_never_shrinks_keeps_order_and_stays_under_an_eighth(a: int, b: int) -> None:
    grid = ShapeBuckets()
    low, high = sorted((a, b))
    assert grid.padded_frames(low) <= grid.padded_frames(high)
    padded = grid.padded_frames(low)
    assert low <= padded < low + max(grid.frame_step, low / 8)
    assert grid.padded_frames(padded) == padded  # a grid point is its own bucket


def test_no_octaves_is_a_fixed_step() -> None:
    grid = ShapeBuckets(frame_step=128, steps_per_octave=0)
    assert [grid.padded_frames(f) for f in (1, 129, 688, 2049)] == [128, 256, 768, 2176]


@pytest.mark.parametrize(("rows", "padded"), [(1, 1), (3, 3), (5, 6), (7, 8), (9, 12), (13, 16), (17, 24), (25, 32)])
def test_the_default_batch_sizes_pad_a_run_by_at_most_a_third(rows: int, padded: int) -> None:
    assert ShapeBuckets().choose(rows, 700).batch == padded
    assert ShapeBuckets().max_batch == 32


def test_a_held_bucket_at_most_a_quarter_larger_serves_a_step_whose_own_has_no_graph() -> None:
    grid = ShapeBuckets()
    assert grid.choose(15, 688) == Bucket(16, 704, True)  # nothing held: its own
    assert grid.choose(15, 688, held=[(16, 768)]) == Bucket(16, 768, True)  # 768/704 = 1.09
    assert grid.choose(11, 688, held=[(16, 704)]) == Bucket(12, 704, True)  # 16/12 = 1.33: its own
    assert grid.choose(15, 688, held=[(16, 768), (16, 832), (24, 704)]) == Bucket(16, 768, True)  # the smallest
    assert grid.choose(15, 688, held=[(16, 704), (16, 768)]) == Bucket(16, 704, True)  # its own is held
    assert grid.choose(15, 688, held=[(12, 768)]) == Bucket(16, 704, True)  # too few rows to hold them
    assert grid.choose(40, 688, held=[(16, 704)]) == Bucket(40, 688, False)  # beyond the grid: eager
