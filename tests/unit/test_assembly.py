"""Assembly: exact pauses, cross-fades only within one voice, and segment times that tile
the output."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.audio_arrays import from_numpy, to_numpy
from domain.assembly import Assembler, SilenceSlot, SpeechSlot
from tests.unit.test_audio import cross_fade

RATE = 1000  # small rate: exact sample arithmetic stays fast


def part(length: int, seed: int):
    rng = np.random.default_rng(seed)
    return from_numpy((0.1 + rng.random(length)).astype(np.float32), RATE)  # never zero: silence is ours


def assemble(layout, parts, fade):
    assembler = Assembler(layout, fade, RATE)
    pieces = [assembler.push(p) for p in parts]
    whole = np.concatenate([to_numpy(p) for p in pieces]) if pieces else np.zeros(0, np.float32)
    return whole, assembler.segments, pieces


# a script: items of ("speech", voice, length) or ("pause", seconds)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("speech"), st.sampled_from(["a", "b"]), st.integers(min_value=1, max_value=400)),
        st.tuples(st.just("pause"), st.integers(min_value=0, max_value=3000).map(lambda ms: ms / 1000)),
    ),
    max_size=12,
).filter(lambda items: any(item[0] == "speech" for item in items))


def layout_of(items):
    layout, parts, last = [], [], None
    for index, item in enumerate(items):
        if item[0] == "pause":
            layout.append(SilenceSlot(item[1]))
            last = None
            continue
        _, voice, length = item
        if last is not None and last != voice:
            layout.append(SilenceSlot(0.25))
        layout.append(SpeechSlot(voice, f"chunk {index}", fade_in=last == voice))
        parts.append(part(length, index))
        last = voice
    return layout, parts


@settings(max_examples=200, deadline=None)
@given(steps, st.sampled_from([0.0, 0.01, 0.15, 0.5]))
def test_segments_tile_the_output_and_pauses_are_exact_zeros(items, fade):
    layout, parts = layout_of(items)
    whole, segments, _ = assemble(layout, parts, fade)
    duration = round(len(whole) / RATE, 3)
    assert segments[0].start == 0 and segments[-1].end == duration
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    assert sum(s.end - s.start for s in segments) == pytest.approx(duration, abs=1e-9)
    assert len(segments) == len(layout)
    for index, (slot, segment) in enumerate(zip(layout, segments, strict=True)):
        if isinstance(slot, SilenceSlot):
            start, count = round(segment.start * RATE), round(slot.seconds * RATE)
            assert segment.voice is None and round(segment.end * RATE) - start == count
            assert not whole[start : start + count].any()  # digital silence, exactly its length
            if index + 1 < len(layout) and isinstance(layout[index + 1], SpeechSlot):
                assert whole[start + count] != 0  # and not a sample more
        else:
            assert (segment.voice, segment.text) == (slot.voice, slot.text)


@settings(max_examples=100, deadline=None)
@given(steps, st.sampled_from([0.0, 0.15]))
def test_a_pause_of_d_seconds_adds_d_seconds(items, fade):
    layout, parts = layout_of(items)
    whole, _, _ = assemble(layout, parts, fade)
    zeroed = [SilenceSlot(0.0) if isinstance(slot, SilenceSlot) else slot for slot in layout]
    shorter, _, _ = assemble(zeroed, parts, fade)
    paused = sum(round(slot.seconds * RATE) for slot in layout if isinstance(slot, SilenceSlot))
    assert len(whole) - len(shorter) == paused


def test_one_voice_without_pauses_is_upstreams_cross_fade():
    parts = [part(n, i) for i, n in enumerate([500, 300, 800])]
    layout = [SpeechSlot("a", "x", False), SpeechSlot("a", "y", True), SpeechSlot("a", "z", True)]
    whole, segments, _ = assemble(layout, parts, 0.1)
    np.testing.assert_array_equal(whole, cross_fade(parts, 0.1))
    assembler = Assembler(layout, 0.1, RATE)
    for p in parts:
        assembler.push(p)
    assert assembler.part_starts == [0, 400, 600]  # each part starts 100 samples before the previous ends
    # boundaries in the middle of each 100-sample overlap
    assert [(s.start, s.end) for s in segments] == [(0.0, 0.45), (0.45, 0.65), (0.65, 1.4)]


def test_a_voice_change_gets_a_gap_not_a_fade_and_streams_final_samples():
    parts = [part(500, 1), part(300, 2)]
    layout = [SpeechSlot("a", "x", False), SilenceSlot(0.25), SpeechSlot("b", "y", False), SilenceSlot(1.0)]
    whole, segments, pieces = assemble(layout, parts, 0.1)
    assert len(whole) == 500 + 250 + 300 + 1000
    np.testing.assert_array_equal(whole[:500], to_numpy(parts[0]))  # not faded out
    np.testing.assert_array_equal(whole[750:1050], to_numpy(parts[1]))
    assert [p.num_samples for p in pieces] == [750, 1300]  # the first part and its gap went out at once
    assert [(s.voice, s.start, s.end) for s in segments] == [
        ("a", 0.0, 0.5), (None, 0.5, 0.75), ("b", 0.75, 1.05), (None, 1.05, 2.05)
    ]  # fmt: skip


def test_leading_pause_goes_out_with_the_first_part():
    whole, segments, _ = assemble([SilenceSlot(0.5), SpeechSlot("a", "x", False)], [part(100, 0)], 0.1)
    assert len(whole) == 600 and not whole[:500].any()
    assert [(s.voice, s.start, s.end) for s in segments] == [(None, 0.0, 0.5), ("a", 0.5, 0.6)]


def test_layout_misuse_is_refused():
    with pytest.raises(ValueError):
        Assembler([SilenceSlot(1.0)], 0.1, RATE)
    assembler = Assembler([SpeechSlot("a", "x", False)], 0.1, RATE)
    assembler.push(part(10, 0))
    with pytest.raises(ValueError):
        assembler.push(part(10, 1))
    with pytest.raises(ValueError):
        Assembler([SpeechSlot("a", "x", False)], 0.1, RATE).push(from_numpy(np.zeros(4, np.float32), 16000))


def test_a_long_part_is_copied_once_on_its_way_through_the_assembly():
    """A stream's 12 s part went through four copies of itself (the fade's joins, the cut of
    the held tail, the piece's own array), two of them alive at once; now the piece is the one
    copy. Measured as the peak of what Python allocated while it was pushed."""
    import tracemalloc

    rate, seconds = 24000, 10.0
    assembler = Assembler([SpeechSlot("v", "a", False), SpeechSlot("v", "b", True)], 0.15, rate)
    first, second = (from_numpy(np.full(int(seconds * rate), 0.5, np.float32), rate) for _ in range(2))
    assembler.push(first)
    tracemalloc.start()
    try:
        piece = assembler.push(second)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert piece.num_samples == second.num_samples  # a held tail out, one in
    assert peak < 1.5 * 4 * second.num_samples  # before: twice the part at once
