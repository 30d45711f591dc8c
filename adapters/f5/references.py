"""A voice's audio as the DiT reads it, prepared once per voice and kept while it is in use."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from adapters.audio_arrays import to_numpy
from adapters.reference_prep import clip_reference
from domain.errors import InvalidInput
from domain.synthesis import Reference

TARGET_RMS = 0.1


@dataclass(frozen=True)
class PreparedReference:
    """A voice's audio ready for the DiT: its mel (frames x channels, model dtype, on the
    device), the 24 kHz sample count upstream's duration rule uses, and its loudness. Cached
    by the audio's sha256, so it holds nothing else: the transcript comes with each item (a
    voice re-uploaded with corrected text, or one clip under two names, has the same key)."""

    mel: torch.Tensor
    audio_frames: int
    rms: float


class ReferenceCache:
    """The `size` voices used last, prepared by `prepare`, by the reference's key. Not
    thread-safe: the engine calls it under its lock."""

    def __init__(self, prepare: Callable[[Reference], PreparedReference], size: int) -> None:
        self._prepare = prepare
        self._size = size
        self._prepared: OrderedDict[str, PreparedReference] = OrderedDict()

    def get(self, reference: Reference) -> PreparedReference:
        prepared = self._prepared.get(reference.key)
        if prepared is None:
            prepared = self._prepared[reference.key] = self._prepare(reference)
            while len(self._prepared) > self._size:
                self._prepared.popitem(last=False)
        self._prepared.move_to_end(reference.key)
        return prepared

    def drop(self, key: str) -> None:
        self._prepared.pop(key, None)


def prepare_reference(
    reference: Reference,
    mel_spec: Callable[[torch.Tensor], torch.Tensor],
    rate: int,
    hop: int,
    device: torch.device,
    dtype: torch.dtype,
) -> PreparedReference:
    """Upstream's `preprocess_ref_audio_text` + the start of `infer_batch_process`: clip to
    ~12 s at a silence, trim edges, add 50 ms of silence, raise quiet voices to RMS 0.1
    (remembering the RMS so the output is scaled back), resample to the model's `rate`, then
    the mel the DiT conditions on, computed on `device`."""
    clipped = clip_reference(to_numpy(reference.audio), reference.audio.sample_rate)
    if clipped.size == 0 or not np.any(clipped):
        raise InvalidInput("the reference audio is silent")
    audio = torch.from_numpy(clipped).unsqueeze(0)
    rms = torch.sqrt(torch.mean(torch.square(audio)))
    if rms < TARGET_RMS:
        audio = audio * TARGET_RMS / rms
    if reference.audio.sample_rate != rate:
        import torchaudio.functional as taf

        audio = taf.resample(audio, reference.audio.sample_rate, rate)
    mel = mel_spec(audio.to(device)).permute(0, 2, 1)[0].to(dtype)
    return PreparedReference(mel=mel, audio_frames=audio.shape[-1] // hop, rms=float(rms))
