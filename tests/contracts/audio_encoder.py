"""The one contract every output encoder passes; subclass it with an `encoder` fixture."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy
from domain.errors import InvalidInput
from ports.audio_encoder import OUTPUT_FORMATS
from tests.audio_decode import decode
from tests.helpers import tone

LOSSLESS = ("wav", "flac", "pcm")
OGG = ("ogg", "opus")
STREAMED_EARLY = [fmt for fmt, spec in OUTPUT_FORMATS.items() if spec.streamed]


class AudioEncoderContract:
    @pytest.fixture
    def encoder(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
    def test_every_format_decodes_to_the_same_length(self, encoder, fmt) -> None:
        samples = tone(1.5, 24000)
        decoded, rate = decode(encoder.encode(from_numpy(samples, 24000), fmt), fmt)
        assert rate in (24000, 48000)  # Ogg Opus decoders always answer at 48 kHz
        assert decoded.size / rate == pytest.approx(1.5, abs=0.1)
        if fmt in LOSSLESS:
            np.testing.assert_allclose(decoded, samples, atol=1e-4)
        else:  # lossy, but the same signal: its loudness survives
            assert np.sqrt(np.mean(decoded**2)) == pytest.approx(np.sqrt(np.mean(samples**2)), rel=0.2)

    @pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
    def test_a_stream_is_one_file_of_all_pieces(self, encoder, fmt) -> None:
        samples = tone(2.0, 24000)
        stream = encoder.open_stream(fmt, 24000)
        pieces = [stream.push(from_numpy(part, 24000)) for part in np.array_split(samples, 4)]
        data = b"".join(pieces) + stream.finish()
        decoded, rate = decode(data, fmt)
        assert decoded.size / rate == pytest.approx(2.0, abs=0.1)
        if fmt in LOSSLESS:
            np.testing.assert_allclose(decoded, samples, atol=1e-4)
        if fmt in STREAMED_EARLY:  # bytes leave with the first piece, not at the end
            assert pieces[0]

    @pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
    def test_chunked_files_are_each_piece_then_the_whole(self, encoder, fmt) -> None:
        samples = tone(2.0, 24000)
        parts = np.split(samples, [7, 7, 20001])  # an empty piece too
        chunked = encoder.open_chunked(fmt, 24000)
        files = [chunked.add(from_numpy(part, 24000)) for part in parts]
        whole = chunked.whole()
        if fmt in OGG:  # its stream's serial number is random: the same audio in other bytes
            decoded, rate = decode(whole, fmt)
            assert decoded.size / rate == pytest.approx(2.0, abs=0.1)
            assert decode(files[-1], fmt)[0].size / rate == pytest.approx(parts[-1].size / 24000, abs=0.1)
        else:
            assert files == [encoder.encode(from_numpy(part, 24000), fmt) for part in parts]
            assert whole == encoder.encode(from_numpy(samples, 24000), fmt)

    def test_out_of_range_samples_are_clipped(self, encoder) -> None:
        decoded, _ = decode(encoder.encode(from_numpy(np.full(2400, 3.0, np.float32), 24000), "pcm"), "pcm")
        np.testing.assert_allclose(decoded, 1.0)

    @pytest.mark.parametrize("fmt", ["aiff", "", "WAV", "../wav"])
    def test_unknown_formats_are_refused(self, encoder, fmt) -> None:
        with pytest.raises(InvalidInput):
            encoder.encode(from_numpy(tone(0.5), 24000), fmt)
        with pytest.raises(InvalidInput):
            encoder.open_stream(fmt, 24000)
        with pytest.raises(InvalidInput):
            encoder.open_chunked(fmt, 24000)
