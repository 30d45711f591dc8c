"""The baseline for benchmarks.serve and benchmarks.engine: a RunPod worker around upstream `F5TTS.infer`.

A plain `def` handler, as upstream's own examples write one: one request at a time, at batch size 1, answered
as this worker answers (base64 WAV). Its shims (the package's `__init__` bypassed, unused modules stood in for,
`torchaudio.load` by soundfile: no FFmpeg here) only make its import faster: its load time is an understatement.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import sys

import soundfile as sf

from benchmarks.common import REF_TEXT, stub_absent_modules


def main() -> None:
    import runpod
    import torch
    import torchaudio
    from runpod.serverless.modules.rp_logger import RunPodLogger

    from adapters.f5.loading import import_f5_model

    RunPodLogger().set_level("WARN")
    stub_absent_modules()
    package = import_f5_model()  # first: it bypasses the package's __init__ (the trainer's imports)
    package.CFM = __import__("f5_tts.model.cfm", fromlist=["cfm"]).CFM

    def soundfile_load(path: str, *args: object, **kwargs: object) -> tuple:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate

    torchaudio.load = soundfile_load
    device = os.environ.get("TTS_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    with contextlib.redirect_stdout(sys.stderr):
        from f5_tts.api import F5TTS

        model = F5TTS("F5TTS_v1_Base", os.environ["F5_CKPT_FILE"], os.environ["F5_VOCAB_FILE"],
                      vocoder_local_path=os.environ["VOCODER_PATH"], device=device)  # fmt: skip

    def speak(text: str, nfe_step: int, seed: int | None) -> tuple:
        with contextlib.redirect_stdout(sys.stderr):
            wav, rate, _ = model.infer(os.environ["REF_WAV"], REF_TEXT, text, nfe_step=nfe_step, seed=seed,
                                       show_info=lambda *a: None, progress=None)  # fmt: skip
        return wav, rate

    speak("Warm up.", 2, 0)
    dtype = str(next(model.ema_model.parameters()).dtype).removeprefix("torch.")

    def handler(job: dict) -> dict:
        job_input = job["input"]
        if job_input.get("endpoint") == "health":  # as this worker answers it: how the model runs
            return {"engine": {"dtype": dtype, "compile": "off"}}
        wav, rate = speak(job_input["text"], int(job_input.get("nfe_step", 32)), job_input.get("seed"))
        buffer = io.BytesIO()
        sf.write(buffer, wav, rate, format="WAV", subtype="PCM_16")
        audio = base64.b64encode(buffer.getvalue()).decode()
        return {"audio_base64": audio, "duration": len(wav) / rate, "status": "completed"}

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
