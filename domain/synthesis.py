"""What the engine is asked to do, and upstream F5-TTS's rule for how long the answer is."""

from __future__ import annotations

from dataclasses import dataclass

from domain.audio import Audio

HOP_LENGTH = 256
SHORT_TEXT_BYTES = 10
SHORT_TEXT_SPEED = 0.3


@dataclass(frozen=True)
class SynthesisParams:
    """Generation settings; defaults are upstream F5-TTS's."""

    speed: float = 1.0
    nfe_step: int = 32
    cfg_strength: float = 2.0
    sway_sampling_coef: float = -1.0
    cross_fade_duration: float = 0.15
    remove_silence: bool = False


@dataclass(frozen=True, eq=False)
class Reference:
    """A voice as the engine consumes it; `key` (the audio's sha256) keys engine caches."""

    key: str
    audio: Audio
    text: str


@dataclass(frozen=True, eq=False)
class SynthesisItem:
    """One chunk of one job; a batch mixes items of any jobs. `seed` makes it reproducible
    on its own, whatever else shares its batch."""

    reference: Reference
    text: str
    params: SynthesisParams
    seed: int


def prepare_ref_text(text: str) -> str:
    """Upstream ends the reference transcript with sentence punctuation and a space so the
    generated text starts as a new sentence."""
    text = text.strip()
    if text.endswith("。"):
        return text
    if text.endswith("."):
        return text + " "
    return text + ". "


def generated_frames(ref_frames: int, ref_text: str, text: str, speed: float) -> int:
    """Mel frames upstream F5-TTS generates for `text`: the reference's frames per byte of
    transcript, scaled to the new text and divided by `speed`; very short texts are slowed
    to 0.3 as upstream does, so a single word is not swallowed. The transcript is counted
    as upstream's `infer_batch_process` sees it: after `prepare_ref_text`'s ". " it appends
    one more space when the text ends in a one-byte character."""
    prepared = prepare_ref_text(ref_text)
    if len(prepared[-1].encode("utf-8")) == 1:
        prepared += " "
    ref_bytes = len(prepared.encode("utf-8"))
    gen_bytes = len(text.encode("utf-8"))
    local_speed = SHORT_TEXT_SPEED if gen_bytes < SHORT_TEXT_BYTES else speed
    return max(1, int(ref_frames / ref_bytes * gen_bytes / local_speed))
