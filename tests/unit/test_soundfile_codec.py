import io

import numpy as np
import pytest
import soundfile as sf

from adapters.soundfile_codec import SoundfileCodec
from domain.errors import InvalidAudio
from tests.contracts.audio_codec import AudioCodecContract
from tests.helpers import claimed_long_flac


class TestSoundfileCodecContract(AudioCodecContract):
    @pytest.fixture
    def codec(self):
        return SoundfileCodec()


def test_non_finite_samples_are_refused():
    buffer = io.BytesIO()
    samples = np.full(16000, 0.1, np.float32)
    samples[100] = np.nan
    sf.write(buffer, samples, 16000, format="WAV", subtype="FLOAT")
    with pytest.raises(InvalidAudio, match="non-finite"):
        SoundfileCodec().decode(buffer.getvalue())


def test_absurd_rates_are_refused():
    buffer = io.BytesIO()
    sf.write(buffer, np.full(100, 0.1, np.float32), 1000, format="WAV")
    with pytest.raises(InvalidAudio, match="sample rate"):
        SoundfileCodec().decode(buffer.getvalue())


def test_many_channels_are_downmixed_block_by_block():
    """Uncapped, the 8-channel file decodes to its mono length plus small blocks, never to
    all channels at once (8 x as much) or a second whole copy."""
    import tracemalloc

    data = claimed_long_flac()
    mono_bytes = 2048 * 8000 * 4
    tracemalloc.start()
    try:
        audio = SoundfileCodec().decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.num_samples == 2048 * 8000
    assert peak < mono_bytes * 1.3


def test_absurd_channel_counts_are_refused():
    buffer = io.BytesIO()
    sf.write(buffer, np.full((100, 9), 0.1, np.float32), 16000, format="WAV")
    with pytest.raises(InvalidAudio, match="9 channels"):
        SoundfileCodec().decode(buffer.getvalue())


LONG_ENCODE = """
import sys, threading
import numpy as np
from adapters.audio_arrays import from_numpy
from adapters.av_encoder import AvEncoder
from adapters.soundfile_codec import SoundfileCodec
from settings import Settings

encoder = AvEncoder(files=SoundfileCodec())  # the worker's encoder: libsndfile formats, then PyAV's
rate = 8000  # the longest answer's length at a third of the engine's samples: the encoders' cost
longest = int(Settings.defaults().max_audio_seconds)
samples = (0.3 * np.sin(np.arange(longest * rate, dtype=np.float32) * 0.05)).astype(np.float32)


sizes = {}

def encode_all():
    for fmt in sys.argv[3:]:  # those named in argv[2] at the longest answer, the rest at argv[1] seconds
        seconds = longest if fmt in sys.argv[2].split(",") else int(sys.argv[1])
        sizes[fmt] = f"{seconds}:{len(encoder.encode(from_numpy(samples[: seconds * rate], rate), fmt))}"

threading.stack_size(1 << 20)  # a worker thread's stack, smaller than the main thread's 8 MiB
worker = threading.Thread(target=encode_all)
worker.start()
worker.join()
print(" ".join(f"{fmt}={size}" for fmt, size in sizes.items()))
"""
LONGEST = ("wav", "flac", "ogg")  # encoded at the longest answer; ogg's Vorbis is the encoder that crashed
BLOCKED_SECONDS = 300  # at 8 kHz, 2.4 million samples: more than crashed Vorbis (~90 s at 24 kHz), in 37 blocks


@pytest.mark.slow
def test_every_format_encodes_the_longest_answer_without_crashing():
    """libsndfile's Vorbis encoder overflowed the stack (SIGSEGV) when handed ~90 s in one
    call; wav, flac and ogg are encoded at the longest answer a job may have (MAX_AUDIO_SECONDS,
    40 minutes), the way the worker encodes it. At 8 kHz: 19 million samples are still many
    times what crashed, at two thirds of the encoders' time at 24 kHz. Every format is written
    block by block (libsndfile's in BLOCK_FRAMES, PyAV's opus and aac in frames of 65,536
    samples, pcm as it comes), so the others are encoded at BLOCKED_SECONDS: a longer answer
    only repeats the same block, and 40 minutes of mp3 (LAME) alone was half of this test's
    time. A subprocess, so a crash fails this test instead of killing pytest."""
    import subprocess
    import sys
    from pathlib import Path

    from ports.audio_encoder import OUTPUT_FORMATS as FORMATS

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", LONG_ENCODE, str(BLOCKED_SECONDS), ",".join(LONGEST), *FORMATS]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    encoded = {fmt: tuple(map(int, pair.split(":"))) for fmt, pair in (p.split("=") for p in done.stdout.split())}
    assert set(encoded) == set(FORMATS)
    longest = 2400
    assert {fmt for fmt, (seconds, _) in encoded.items() if seconds == longest} == set(LONGEST)
    assert encoded["wav"] == (longest, longest * 8000 * 2 + 44)
    assert encoded["pcm"] == (BLOCKED_SECONDS, BLOCKED_SECONDS * 8000 * 2)
    # at least 4 kbit/s, under any encoder's rate at 8 kHz (mp3's is 8): none was cut short
    assert all(size > seconds * 500 for seconds, size in encoded.values()), encoded
