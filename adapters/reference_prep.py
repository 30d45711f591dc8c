"""Upstream F5-TTS's reference-audio and output-silence handling, in numpy.

Upstream does this with pydub (`preprocess_ref_audio_text`, `remove_silence_edges`,
`remove_silence_for_generated_wav`), which needs FFmpeg for most formats and works through
temporary wav files. The worker already holds decoded float samples, so the same rules are
reimplemented here over arrays: pydub's millisecond grid (`int(ms * rate / 1000)` sample
positions), its RMS-in-dBFS silence test and its range arithmetic are kept, so the clip
points match upstream's. Float samples are in [-1, 1], so full scale is 1.0 where pydub
uses the integer sample width's maximum.
"""

from __future__ import annotations

import itertools

import numpy as np

MAX_REF_MS = 12000
REF_MIN_KEEP_MS = 6000
EDGE_SILENCE_DB = -42.0
TAIL_SILENCE_MS = 50


def _ms(num_samples: int, rate: int) -> int:
    """pydub's `len(segment)`: the duration rounded to whole milliseconds."""
    return round(1000 * num_samples / rate)


def _ms_len(samples: np.ndarray, rate: int) -> int:
    return _ms(samples.shape[0], rate)


def _pos(ms: int, rate: int) -> int:
    return int(ms * rate / 1000.0)


def _slice(samples: np.ndarray, rate: int, start_ms: int, end_ms: int) -> np.ndarray:
    length = _ms_len(samples, rate)
    return samples[_pos(min(start_ms, length), rate) : _pos(min(end_ms, length), rate)]


def _window_rms(samples: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """RMS of samples[s:e] for many windows at once, from one cumulative sum of squares."""
    csum = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
    counts = np.maximum(ends - starts, 1)
    return np.sqrt(np.maximum(csum[ends] - csum[starts], 0.0) / counts)


def detect_silence(
    samples: np.ndarray, rate: int, min_silence_len: int, silence_thresh: float, seek_step: int
) -> list[list[int]]:
    """pydub.silence.detect_silence: [start_ms, end_ms] ranges quieter than the threshold."""
    seg_len = _ms_len(samples, rate)
    if seg_len < min_silence_len:
        return []
    threshold = 10 ** (silence_thresh / 20)
    last_start = seg_len - min_silence_len
    starts_ms = list(range(0, last_start + 1, seek_step))
    if last_start % seek_step:
        starts_ms.append(last_start)
    starts_ms_arr = np.asarray(starts_ms)
    ends_ms_arr = np.minimum(starts_ms_arr + min_silence_len, seg_len)
    starts = (starts_ms_arr * rate / 1000.0).astype(np.int64)
    ends = (ends_ms_arr * rate / 1000.0).astype(np.int64)
    ends = np.minimum(ends, samples.shape[0])
    quiet = _window_rms(samples, starts, ends) <= threshold
    silence_starts = [int(s) for s, q in zip(starts_ms, quiet, strict=True) if q]
    if not silence_starts:
        return []
    ranges: list[list[int]] = []
    prev = silence_starts.pop(0)
    range_start = prev
    for start in silence_starts:
        continuous = start == prev + seek_step
        has_gap = start > prev + min_silence_len
        if not continuous and has_gap:
            ranges.append([range_start, prev + min_silence_len])
            range_start = start
        prev = start
    ranges.append([range_start, prev + min_silence_len])
    return ranges


def detect_nonsilent(
    samples: np.ndarray, rate: int, min_silence_len: int, silence_thresh: float, seek_step: int
) -> list[list[int]]:
    silent = detect_silence(samples, rate, min_silence_len, silence_thresh, seek_step)
    length = _ms_len(samples, rate)
    if not silent:
        return [[0, length]]
    if silent[0][0] == 0 and silent[0][1] == length:
        return []
    prev_end = 0
    ranges: list[list[int]] = []
    end = 0
    for start, end in silent:
        ranges.append([prev_end, start])
        prev_end = end
    if end != length:
        ranges.append([prev_end, length])
    if ranges[0] == [0, 0]:
        ranges.pop(0)
    return ranges


def split_on_silence(
    samples: np.ndarray,
    rate: int,
    *,
    min_silence_len: int,
    silence_thresh: float,
    keep_silence: int,
    seek_step: int,
) -> list[np.ndarray]:
    """pydub.silence.split_on_silence: the loud parts, each padded with up to
    `keep_silence` ms of the silence around it (split in the middle where pads overlap)."""
    out_ranges = [
        [start - keep_silence, end + keep_silence]
        for start, end in detect_nonsilent(samples, rate, min_silence_len, silence_thresh, seek_step)
    ]
    for first, second in itertools.pairwise(out_ranges):
        if second[0] < first[1]:
            first[1] = (first[1] + second[0]) // 2
            second[0] = first[1]
    length = _ms_len(samples, rate)
    return [_slice(samples, rate, max(s, 0), min(e, length)) for s, e in out_ranges]


def _leading_silence_ms(samples: np.ndarray, rate: int, threshold_db: float, chunk_ms: int = 10) -> int:
    """pydub.silence.detect_leading_silence: ms of leading 10 ms chunks below the threshold."""
    length = _ms_len(samples, rate)
    starts_ms = np.arange(0, length, chunk_ms)
    if starts_ms.size == 0:
        return 0
    ends_ms = np.minimum(starts_ms + chunk_ms, length)
    starts = (starts_ms * rate / 1000.0).astype(np.int64)
    ends = np.minimum((ends_ms * rate / 1000.0).astype(np.int64), samples.shape[0])
    rms = _window_rms(samples, starts, ends)
    loud = np.flatnonzero((rms > 0) & (rms >= 10 ** (threshold_db / 20)) & (ends > starts))
    return length if loud.size == 0 else int(starts_ms[loud[0]])


def remove_silence_edges(samples: np.ndarray, rate: int, threshold_db: float = EDGE_SILENCE_DB) -> np.ndarray:
    start = _leading_silence_ms(samples, rate, threshold_db)
    samples = _slice(samples, rate, start, _ms_len(samples, rate))
    end = _leading_silence_ms(samples[::-1], rate, threshold_db)
    if end > 0:
        return _slice(samples, rate, 0, _ms_len(samples, rate) - end)
    return samples


def _join_until_12s(segments: list[np.ndarray], rate: int) -> np.ndarray:
    """Upstream keeps whole segments while the result stays within 12 s (once past 6 s)."""
    kept: list[np.ndarray] = []
    total = 0
    for seg in segments:
        joined = total + seg.shape[0]
        if _ms(total, rate) > REF_MIN_KEEP_MS and _ms(joined, rate) > MAX_REF_MS:
            break
        kept.append(seg)
        total = joined
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)


def clip_reference(samples: np.ndarray, rate: int) -> np.ndarray:
    """Upstream's reference clipping: cut at a long (1 s, -50 dBFS) silence so at most ~12 s
    remain; failing that at a short (0.1 s, -40 dBFS) one; failing that hard at 12 s. Then
    trim edge silence (-42 dBFS) and append 50 ms of silence, as upstream does."""
    clipped = _join_until_12s(
        split_on_silence(samples, rate, min_silence_len=1000, silence_thresh=-50, keep_silence=1000, seek_step=10),
        rate,
    )
    if _ms_len(clipped, rate) > MAX_REF_MS:
        clipped = _join_until_12s(
            split_on_silence(samples, rate, min_silence_len=100, silence_thresh=-40, keep_silence=1000, seek_step=10),
            rate,
        )
    if _ms_len(clipped, rate) > MAX_REF_MS:
        clipped = _slice(clipped, rate, 0, MAX_REF_MS)
    trimmed = remove_silence_edges(clipped, rate)
    return np.concatenate([trimmed.astype(np.float32), np.zeros(_tail_samples(rate), dtype=np.float32)])


def _tail_samples(rate: int) -> int:
    """pydub makes its 50 ms of silence at 11025 Hz (551 frames) and resamples it to the
    clip's rate with audioop.ratecv, which yields (551 - 1) * rate // 11025 + 1 frames; the
    exact count keeps the reference's mel frame count equal to upstream's."""
    silent_rate = 11025
    frames = int(TAIL_SILENCE_MS * silent_rate / 1000)
    if rate < silent_rate:
        return int(TAIL_SILENCE_MS * rate / 1000)
    return (frames - 1) * rate // silent_rate + 1


def remove_long_silences(samples: np.ndarray, rate: int) -> np.ndarray:
    """Upstream's `remove_silence_for_generated_wav`: drop silences over 1 s (-50 dBFS),
    keeping 0.5 s of each side."""
    parts = split_on_silence(samples, rate, min_silence_len=1000, silence_thresh=-50, keep_silence=500, seek_step=10)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)
