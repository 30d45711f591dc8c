"""The one contract every audio codec passes; subclass it with a `codec` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy, to_numpy
from domain.errors import InvalidAudio, InvalidInput
from ports.audio_codec import FORMATS
from tests.helpers import claimed_long_flac, tone


class AudioCodecContract:
    @pytest.fixture
    def codec(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_every_format_round_trips_with_its_length(self, codec, fmt) -> None:
        audio = from_numpy(tone(1.5, 24000), 24000)
        decoded = codec.decode(codec.encode(audio, fmt))
        assert decoded.sample_rate == 24000
        assert abs(decoded.duration - 1.5) < 0.06
        if fmt in ("wav", "flac"):  # lossless: same samples up to 16-bit quantisation
            np.testing.assert_allclose(to_numpy(decoded), to_numpy(audio), atol=1e-4)

    def test_stereo_is_mixed_to_mono(self, codec) -> None:
        import io

        import soundfile as sf

        buffer = io.BytesIO()
        left = tone(1.0, 16000)
        sf.write(buffer, np.stack([left, -left * 0.5], axis=1), 16000, format="WAV")
        decoded = codec.decode(buffer.getvalue())
        assert decoded.sample_rate == 16000
        np.testing.assert_allclose(to_numpy(decoded), left * 0.25, atol=1e-3)

    @pytest.mark.parametrize(
        "data", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEjunk", bytes(range(256)) * 40]
    )
    def test_garbage_is_invalid_audio(self, codec, data) -> None:
        with pytest.raises(InvalidAudio):
            codec.decode(data)

    def test_silence_is_invalid_audio(self, codec) -> None:
        silent = codec.encode(from_numpy(np.zeros(24000, np.float32), 24000), "wav")
        with pytest.raises(InvalidAudio, match="silent"):
            codec.decode(silent)

    def test_unknown_format_is_refused(self, codec) -> None:
        with pytest.raises(InvalidInput):
            codec.encode(from_numpy(tone(0.5), 24000), "aac")

    def test_a_file_claiming_too_long_is_refused_before_decoding(self, codec) -> None:
        """134 KB claiming 2048 s of 8 channels: refused from its header, so the refusal
        allocates almost nothing (decoded whole it would be 524 MB of float32)."""
        import tracemalloc

        data = claimed_long_flac()
        tracemalloc.start()
        try:
            with pytest.raises(InvalidAudio, match=r"lasts 2048\.0 s; the limit is 60 s"):
                codec.decode(data, max_seconds=60.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * 1024 * 1024

    def test_within_the_cap_decodes(self, codec) -> None:
        audio = from_numpy(tone(2.0, 16000), 16000)
        assert codec.decode(codec.encode(audio, "flac"), max_seconds=2.5).duration == pytest.approx(2.0)
        with pytest.raises(InvalidAudio, match=r"limit is 1\.5 s"):
            codec.decode(codec.encode(audio, "flac"), max_seconds=1.5)
