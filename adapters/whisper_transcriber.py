"""Speech recognition for uploaded voices that come without a transcript: Whisper through
`transformers`, as upstream F5-TTS does.

Loaded lazily, on the first upload that needs it, because most deployments send `ref_text`
and Whisper (and `transformers` itself) would otherwise cost start-up time and memory on
every worker. When it cannot be loaded (package absent, weights not cached and the hub
unreachable or HF_HUB_OFFLINE set), the upload fails as invalid input telling the client to
send `ref_text`: that is the one thing the client can do about it. The failure is
remembered so later uploads do not retry a slow, failing hub lookup each time.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import structlog

from adapters.audio_arrays import to_numpy
from domain.audio import Audio
from domain.errors import EngineError, InvalidInput

log = structlog.get_logger()


class WhisperTranscriber:
    def __init__(self, model: str, device: str | None = None) -> None:
        self.model = model
        self._device = device
        self._pipe: Any = None
        self._unavailable: str | None = None
        self._lock = threading.Lock()

    def _pipeline(self) -> Any:
        with self._lock:
            if self._pipe is None and self._unavailable is None:
                self._pipe, self._unavailable = self._load()
        if self._unavailable is not None:
            raise InvalidInput(
                f"no speech recogniser available ({self._unavailable}); send ref_text with the voice", "ref_text"
            )
        return self._pipe

    def _load(self) -> tuple[Any, str | None]:
        try:
            from transformers import pipeline
        except ImportError:
            return None, "transformers is not installed"
        import torch

        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        try:
            return pipeline("automatic-speech-recognition", model=self.model, torch_dtype=dtype, device=device), None
        except Exception as exc:  # offline, no cached weights, bad model name: all mean "send ref_text"
            log.warning("asr_unavailable", model=self.model, error=f"{type(exc).__name__}: {exc}")
            return None, f"the model cannot be loaded: {type(exc).__name__}"

    def transcribe(self, audio: Audio) -> str:
        pipe = self._pipeline()
        try:
            result = pipe(
                {"raw": np.array(to_numpy(audio)), "sampling_rate": audio.sample_rate},
                chunk_length_s=30,
                batch_size=16,
                generate_kwargs={"task": "transcribe"},
                return_timestamps=False,
            )
        except Exception as exc:
            log.exception("asr_failed")
            raise EngineError(f"speech recognition failed ({type(exc).__name__}); the error was logged") from exc
        return str(result["text"]).strip()
