import io
import struct

import numpy as np
import pytest
import soundfile as sf

from adapters.audio_arrays import from_numpy
from adapters.av_encoder import AvEncoder
from adapters.soundfile_codec import SoundfileCodec
from tests.contracts.audio_encoder import AudioEncoderContract
from tests.helpers import tone


class TestAvEncoderContract(AudioEncoderContract):
    @pytest.fixture
    def encoder(self):
        return AvEncoder(files=SoundfileCodec())


def test_pcm_is_raw_16_bit_little_endian():
    data = AvEncoder(SoundfileCodec()).encode(from_numpy(np.array([0.0, 0.5, -1.0], np.float32), 24000), "pcm")
    assert struct.unpack("<3h", data) == (0, 16384, -32767)


class NoFiles(SoundfileCodec):
    def encode(self, audio, fmt):
        raise AssertionError(f"{fmt} went through the codec")


@pytest.mark.parametrize("rate", [24000, 44100])
def test_a_wav_file_is_written_without_the_codec_byte_for_byte_as_libsndfile_writes_it(rate):
    rng = np.random.default_rng(3)
    edges = np.array([1, -1, 0, 0.99999, 0.5 / 32768, 1.5 / 32768, -0.5 / 32768, 2.5 / 32768, 7.0, -7.0], np.float32)
    ramp = (np.arange(-70000, 70000, dtype=np.float32) + 0.5) / 32767  # every level, between levels
    samples = np.concatenate([rng.uniform(-1.3, 1.3, 50000).astype(np.float32), ramp, edges])
    for audio in (from_numpy(samples, rate), from_numpy(samples[:0], rate)):
        assert AvEncoder(NoFiles()).encode(audio, "wav") == SoundfileCodec().encode(audio, "wav")


def test_a_streamed_wav_reads_with_libsndfile_to_its_end():
    """The header leaves before the length is known; soundfile still reads every sample."""
    stream = AvEncoder(SoundfileCodec()).open_stream("wav", 24000)
    samples = tone(1.0, 24000)
    data = stream.push(from_numpy(samples[:10000], 24000)) + stream.push(from_numpy(samples[10000:], 24000))
    data += stream.finish()
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    read, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 24000
    np.testing.assert_allclose(read, samples, atol=1e-4)


def test_opus_and_aac_are_the_containers_clients_expect():
    encoder = AvEncoder(SoundfileCodec())
    audio = from_numpy(tone(1.0), 24000)
    assert encoder.encode(audio, "opus")[:4] == b"OggS"
    assert encoder.encode(audio, "opus")[28:36] == b"OpusHead"
    assert encoder.encode(audio, "aac")[:2] in (b"\xff\xf1", b"\xff\xf9")  # ADTS sync word
