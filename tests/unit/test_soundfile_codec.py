import io

import numpy as np
import pytest
import soundfile as sf

from adapters.soundfile_codec import SoundfileCodec
from domain.errors import InvalidAudio
from tests.contracts.audio_codec import AudioCodecContract


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
