"""Word timestamps by CTC forced alignment with MMS_FA, the multilingual wav2vec2 aligner
torchaudio publishes (trained on 31 K hours in 1,130 languages, romanised characters).

Why this model: F5-TTS speaks any language it was given, and MMS_FA aligns romanised text
in any of them with one 300 M-parameter model, in torchaudio's own format, so no extra
runtime dependency is needed. Chinese is romanised with pypinyin (already needed by F5-TTS),
accented Latin letters lose their accents; a word with nothing left to align (digits before
normalisation, other scripts) is matched by MMS_FA's `*` token, which absorbs whatever the
neighbouring words do not claim.

`torchaudio.functional.forced_align` (still shipped and working in torchaudio 2.11, which
this project pins) does the Viterbi search; `torchaudio.pipelines` is not used, so only the
model class, `forced_align` and `resample` are relied upon. The weights are the published
`model.pt` (a state dict for `torchaudio.models.wav2vec2_model`); a `config.json` beside
it, when present, overrides the architecture (the project's tiny test aligner uses that).

Loaded lazily on the first job that asks for timestamps, so workers whose clients never
do pay neither the memory nor the start-up time. A batch (the chunks of one or several
jobs) runs through the acoustic model as one padded forward pass.
"""

from __future__ import annotations

import itertools
import json
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from domain.errors import EngineError, InvalidInput
from domain.word_timing import AlignmentItem, WordSpan

log = structlog.get_logger()

WEIGHTS_FILE = "model.pt"
CONFIG_FILE = "config.json"
STAR = "*"
BLANK = "-"
# torchaudio.pipelines.MMS_FA's architecture and labels (tests check they still agree).
MMS_FA_CONFIG: dict[str, Any] = {
    "sample_rate": 16000,
    "normalize_waveform": True,
    "labels": list("aienoutsrmkldghybpwcvjzf'qx"),
    "remove_aux_rows": [1, 2, 3],
    "model": {
        "extractor_mode": "layer_norm",
        "extractor_conv_layer_config": [[512, 10, 5]] + [[512, 3, 2]] * 4 + [[512, 2, 2]] * 2,
        "extractor_conv_bias": True,
        "encoder_embed_dim": 1024,
        "encoder_projection_dropout": 0.0,
        "encoder_pos_conv_kernel": 128,
        "encoder_pos_conv_groups": 16,
        "encoder_num_layers": 24,
        "encoder_num_heads": 16,
        "encoder_attention_dropout": 0.0,
        "encoder_ff_interm_features": 4096,
        "encoder_ff_interm_dropout": 0.1,
        "encoder_dropout": 0.0,
        "encoder_layer_norm_first": True,
        "encoder_layer_drop": 0.1,
        "aux_num_out": 31,
    },
}
MAX_BATCH_SECONDS = 240.0  # padded audio per forward pass: bounds memory on long jobs
NOT_BUILT = (
    "timestamps need the aligner's weights and this worker was built without them "
    "(bake them with BAKE_ALIGNER=1, or set ALIGNER_PATH)"
)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text)


def romanise(word: str, alphabet: set[str]) -> str:
    """The letters of `word` the model knows: pinyin for Chinese, accents dropped, lower case."""
    if _has_cjk(word):
        from pypinyin import lazy_pinyin

        word = "".join(lazy_pinyin(word))
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("’", "'"))
    return "".join(char for char in decomposed if char in alphabet)


class CtcAligner:
    def __init__(self, path: str | Path | None, device: str | None = None) -> None:
        self._dir = Path(path) if path else None
        self._device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, dict[str, Any], dict[str, int], str] | None = None

    @property
    def available(self) -> bool:
        return self._dir is not None and (self._dir / WEIGHTS_FILE).is_file()

    @property
    def detail(self) -> str:
        if self._dir is None:
            return "no aligner weights configured"
        if not self.available:
            return f"no aligner weights at {self._dir / WEIGHTS_FILE}"
        return f"{self._dir / WEIGHTS_FILE} ({'loaded' if self._loaded else 'not loaded yet'})"

    def warm_up(self) -> None:
        """Load the model now (benchmarks and the doctor command; jobs load it on demand)."""
        self._model()

    def _model(self) -> tuple[Any, dict[str, Any], dict[str, int], str]:
        if not self.available:
            raise InvalidInput(NOT_BUILT)
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, dict[str, Any], dict[str, int], str]:
        import torch
        from torchaudio.models import wav2vec2_model

        assert self._dir is not None
        config = MMS_FA_CONFIG
        if (self._dir / CONFIG_FILE).is_file():
            config = json.loads((self._dir / CONFIG_FILE).read_text(encoding="utf-8"))
        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        params = dict(config["model"])
        params["extractor_conv_layer_config"] = [tuple(layer) for layer in params["extractor_conv_layer_config"]]
        try:
            state = torch.load(self._dir / WEIGHTS_FILE, map_location="cpu", weights_only=True)
            drop = set(config.get("remove_aux_rows", []))
            for key in ("aux.weight", "aux.bias"):
                rows = state[key]
                state[key] = torch.stack([rows[i] for i in range(rows.shape[0]) if i not in drop])
            params["aux_num_out"] = state["aux.weight"].shape[0]
            model = wav2vec2_model(**params)
            model.load_state_dict(state)
        except Exception as exc:
            log.exception("aligner_load_failed", path=str(self._dir))
            raise EngineError(f"the aligner's weights cannot be loaded ({type(exc).__name__})") from exc
        model.eval().to(device)
        labels = [BLANK, *config["labels"], STAR]
        if len(labels) != params["aux_num_out"] + 1:
            raise EngineError(f"the aligner has {params['aux_num_out']} outputs for {len(labels) - 1} labels")
        log.info("aligner_loaded", path=str(self._dir), device=device)
        return model, config, {label: i for i, label in enumerate(labels)}, device

    def align(self, items: Sequence[AlignmentItem]) -> list[list[WordSpan]]:
        model, config, vocab, device = self._model()
        try:
            return self._align(list(items), model, config, vocab, device)
        except (InvalidInput, EngineError):
            raise
        except Exception as exc:
            log.exception("alignment_failed")
            raise EngineError(f"alignment failed ({type(exc).__name__}); the error was logged") from exc

    def _align(
        self, items: list[AlignmentItem], model: Any, config: dict[str, Any], vocab: dict[str, int], device: str
    ) -> list[list[WordSpan]]:
        import numpy as np
        import torch
        import torchaudio.functional as F

        rate = int(config["sample_rate"])
        alphabet = set(vocab) - {BLANK, STAR}
        waves = []
        for item in items:
            wave = torch.from_numpy(np.frombuffer(item.audio.samples, dtype=np.float32).copy())
            if item.audio.sample_rate != rate:
                wave = F.resample(wave, item.audio.sample_rate, rate)
            if config.get("normalize_waveform"):
                wave = torch.nn.functional.layer_norm(wave, wave.shape)
            waves.append(wave)
        emissions: list[Any] = [None] * len(items)
        for group in _groups([w.shape[0] for w in waves], int(MAX_BATCH_SECONDS * rate)):
            lengths = torch.tensor([waves[i].shape[0] for i in group])
            batch = torch.zeros(len(group), int(lengths.max()))
            for row, i in enumerate(group):
                batch[row, : waves[i].shape[0]] = waves[i]
            with torch.inference_mode():
                logits, frames = model(batch.to(device), lengths.to(device))
                logp = torch.log_softmax(logits.float(), dim=-1)
                star = torch.zeros(*logp.shape[:2], 1, device=logp.device)  # as torchaudio's MMS_FA bundle
                logp = torch.cat([logp, star], dim=-1)
            for row, i in enumerate(group):
                emissions[i] = logp[row, : int(frames[row])] if frames is not None else logp[row]
        out = []
        for item, emission in zip(items, emissions, strict=True):
            tokens = [[vocab[c] for c in romanise(word, alphabet)] or [vocab[STAR]] for word in item.words]
            out.append(_word_spans(F, torch, emission, tokens, item.audio.duration))
        return out


def _groups(lengths: list[int], max_padded: int) -> list[list[int]]:
    """Indices grouped by similar length so padding stays small and each forward pass holds
    at most `max_padded` padded samples (always at least one clip)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] * (len(groups[-1]) + 1) <= max_padded:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _word_spans(F: Any, torch: Any, emission: Any, tokens: list[list[int]], duration: float) -> list[WordSpan]:
    """Viterbi alignment of the words' tokens over one clip's frames, grouped back into words.
    A clip too short for its tokens (CTC needs a frame per token, two for a repeat) gets its
    words spread by length instead of an error: the answer stays one span per word."""
    flat = [t for word in tokens for t in word]
    frames = emission.shape[0]
    repeats = sum(1 for a, b in itertools.pairwise(flat) if a == b)
    if frames == 0 or len(flat) + repeats > frames:
        return _spread([len(word) for word in tokens], duration)
    targets = torch.tensor([flat], dtype=torch.int32, device=emission.device)
    path, scores = F.forced_align(emission.unsqueeze(0), targets, blank=0)
    spans = F.merge_tokens(path[0].cpu(), scores[0].exp().cpu(), blank=0)
    seconds_per_frame = duration / frames
    out, cursor = [], 0
    for word in tokens:
        first, last = spans[cursor], spans[cursor + len(word) - 1]
        cursor += len(word)
        out.append(WordSpan(first.start * seconds_per_frame, min(last.end * seconds_per_frame, duration)))
    return out


def _spread(weights: list[int], duration: float) -> list[WordSpan]:
    total = sum(weights) or 1
    out, start = [], 0.0
    for weight in weights:
        end = start + duration * weight / total
        out.append(WordSpan(start, min(end, duration)))
        start = end
    return out
