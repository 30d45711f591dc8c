"""The baseline for `benchmarks/serve.py`: a RunPod worker around upstream `F5TTS.infer`.

A plain `def` handler, as upstream's own examples write one: runpod calls it inside its
event loop, so requests are served one at a time, each at batch size 1. It answers like
this worker does (the audio as base64 WAV), so both sides do the same work per request.
Settings come from the environment: F5_CKPT_FILE, F5_VOCAB_FILE, VOCODER_PATH, REF_WAV.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import sys

import soundfile as sf

from benchmarks.common import REF_TEXT, load_upstream


def main() -> None:
    import runpod
    import torch
    from runpod.serverless.modules.rp_logger import RunPodLogger

    RunPodLogger().set_level("WARN")
    device = os.environ.get("TTS_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_upstream(dict(os.environ), device)
    reference = os.environ["REF_WAV"]

    def speak(text: str, nfe_step: int, seed: int | None) -> tuple[bytes, float]:
        with contextlib.redirect_stdout(sys.stderr):
            wav, rate, _ = model.infer(
                reference, REF_TEXT, text, nfe_step=nfe_step, seed=seed, show_info=lambda *a: None, progress=None
            )
        buffer = io.BytesIO()
        sf.write(buffer, wav, rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue(), len(wav) / rate

    speak("Warm up.", 2, 0)

    def handler(job: dict) -> dict:
        job_input = job["input"]
        audio, seconds = speak(job_input["text"], int(job_input.get("nfe_step", 32)), job_input.get("seed"))
        return {"audio_base64": base64.b64encode(audio).decode(), "duration": seconds, "status": "completed"}

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
