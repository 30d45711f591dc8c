"""Store timings against moto's S3 server on loopback: `python -m benchmarks.store`.

Times one voice upload, one synthesis (fake engine, so the store dominates) and
`list_voices` over 2,000 voices: the first listing ever (every metadata object read, the
index written), a new worker (one listing plus the index) and a warm worker (one
listing), through the same service the worker runs.
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import time

from container import build_container
from domain.voice import VoiceInfo
from entrypoints.service import WorkerService
from tests.helpers import audio_file
from tests.moto_s3 import moto_s3


def timed(action, repeat: int = 5) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        output = action()
        seconds.append(time.perf_counter() - start)
        assert "error" not in output, output
    return statistics.median(seconds)


def main() -> None:
    with moto_s3() as s3, tempfile.TemporaryDirectory() as cache:
        s3.create_bucket("bench")
        env = {**s3.env("bench"), "TTS_ENGINE": "fake", "VOICE_CACHE_DIR": cache}
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        container = build_container(env)
        service = WorkerService(container.app())
        voice = base64.b64encode(audio_file(6.0)).decode()
        upload = {
            "endpoint": "upload",
            "voice_file_base64": voice,
            "ref_text": "A six second voice.",
            "overwrite": True,
        }
        rows = [("upload (6 s voice)", timed(lambda: service.handle({**upload, "voice_name": "bench"})))]
        rows.append(("tts, url", timed(lambda: service.handle({"text": "Hello there.", "local_voice": "bench"}))))
        fs = container.store().fs
        wav = audio_file(1.0)
        meta = {
            f"bench/voices/v{i:04d}.json": VoiceInfo(f"v{i:04d}", "t", 1.0, 24000, "0" * 64, "2026").to_json()
            for i in range(2000)
        }
        fs.pipe({**meta, **{key.replace(".json", ".wav"): wav for key in meta}})
        for label in ("first listing ever", "new worker, index"):
            fresh = WorkerService(build_container(env).app())
            start = time.perf_counter()
            listed = fresh.handle({"endpoint": "list_voices"})
            rows.append((f"list 2,000 voices, {label}", time.perf_counter() - start))
            assert len(listed["voices"]) == 2002, len(listed["voices"])
        rows.append(("list 2,000 voices, warm", timed(lambda: fresh.handle({"endpoint": "list_voices"}))))
    print(f"{'operation':<40} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:8.3f}")


if __name__ == "__main__":
    main()
