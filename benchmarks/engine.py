"""This worker's synthesis against upstream `F5TTS.infer`: `python -m benchmarks.engine [--nfe 16]`.

Both sides speak the same texts in the same voice at the same NFE on the real-size random
checkpoint (benchmarks.common), each in its own process, so "ready" runs from process start
to model loaded, imports included. This worker's side is the worker itself, booted as the
image boots it (`entrypoints.runpod_handler.boot`: the container, the warm-up), and each case
is a job through its service (text planning, chunking, the micro-batcher, the engine, the
cross-fade, the WAV answer); upstream chunks and cross-fades inside `infer`. `batch8` is eight
one-sentence jobs at once: this worker batches them as it would serve them, upstream runs them
one after another (it has no cross-request batching).

The sides are interleaved (upstream, worker, upstream, ... `--repeats` pairs per case): each row
is its side's median wall time, the speedup the median of the per-pair ratios with their
spread. `--extra compile,int8,...` adds a row per setting (TTS_COMPILE=on, or a TTS_DTYPE),
each interleaved with upstream the same way; one that fails is left out with the reason. The
last line is `speedup_vs_upstream: X.XX` for the paragraph (or the last case).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import (
    BATCH_TEXTS,
    CHECKPOINT_DIR,
    REF_TEXT,
    ROOT,
    SEED,
    TEXTS,
    SideFailed,
    describe,
    ensure_files,
    load_upstream,
    pair_stats,
    stub_absent_modules,
)


def _emit(kind: str, payload: object) -> None:
    sys.__stdout__.write(f"{kind} {json.dumps(payload)}\n")
    sys.__stdout__.flush()


def serve_cases(label: str, run_case: Callable[[str], tuple[float, float]]) -> None:
    """A side's process, loaded: answer the parent, one case name per stdin line and one
    RESULT line (wall and audio seconds) each, until EOF."""
    _emit("READY", {"dtype": label})
    for line in sys.stdin:
        if case := line.strip():
            wall, audio = run_case(case)
            _emit("RESULT", {"case": case, "wall": wall, "audio": audio})


def run_upstream(settings: dict[str, str], nfe: int, device: str) -> None:
    model = load_upstream(settings, device)

    def infer(text: str) -> float:
        with contextlib.redirect_stdout(sys.stderr):
            wav, rate, _ = model.infer(
                settings["REF_WAV"], REF_TEXT, text, nfe_step=nfe, seed=SEED, show_info=lambda *a: None, progress=None
            )
        return len(wav) / rate

    infer("Warm up.")

    def run_case(case: str) -> tuple[float, float]:
        started = time.perf_counter()
        audio = sum(infer(text) for text in (BATCH_TEXTS if case == "batch8" else [TEXTS[case]]))
        return time.perf_counter() - started, audio

    serve_cases(str(next(model.ema_model.parameters()).dtype).removeprefix("torch."), run_case)


def run_worker(settings: dict[str, str], nfe: int, env: dict[str, str]) -> None:
    stub_absent_modules()  # before the engine's imports: the GPU image lacks some of upstream's
    from container import build_container
    from entrypoints.logging_setup import configure_logging
    from entrypoints.runpod_handler import boot
    from entrypoints.service import WorkerService

    configure_logging("WARNING", "json")  # to stderr: stdout carries the answers to the parent

    with tempfile.TemporaryDirectory() as tmp:
        # the environment as a worker reads it (TTS_DTYPE=fp32 serves fp32, as on an AVX2-only CPU), the
        # benchmark's model (a tiny one's config too) and a store of its own
        config = {**os.environ, **{key: value for key, value in settings.items() if key != "REF_WAV"}}
        config |= {"TTS_ENGINE": "f5", "STORAGE_URL": "memory://bench", "VOICE_CACHE_DIR": tmp, **env}
        service = WorkerService(boot(build_container(config)))
        upload = {"endpoint": "upload", "voice_name": "bench", "ref_text": REF_TEXT}
        upload["voice_file_base64"] = base64.b64encode(Path(settings["REF_WAV"]).read_bytes()).decode()
        service.handle(upload, "upload")

        def job(text: str, seed: int) -> float:
            job_input = {"text": text, "local_voice": "bench", "nfe_step": nfe, "seed": seed, "return": "base64"}
            output = service.handle(job_input, f"job-{seed}")
            if "error" in output:
                raise RuntimeError(output["error"])
            return output["duration"]

        def run_case(case: str) -> tuple[float, float]:
            texts = BATCH_TEXTS if case == "batch8" else [TEXTS[case]]
            started = time.perf_counter()
            with ThreadPoolExecutor(len(texts)) as pool:
                audio = sum(pool.map(job, texts, range(SEED, SEED + len(texts))))
            return time.perf_counter() - started, audio

        job("Warm up.", 0)  # as upstream's side: first-call costs, and the voice's mel the worker keeps
        engine = service.handle({"endpoint": "health"}, "health")["engine"]
        if engine["runner"] == "cuda_graph":  # graphs are captured on a bucket's first use: once, unmeasured
            for case in ("batch8", *TEXTS):
                run_case(case)
        compiled = "+compile" if engine["compile"] != "off" else ""
        serve_cases(engine["dtype"] + compiled, run_case)


class Side:
    """One side's process (`command`), loaded once; `run(case)` asks it for one timed case."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name = name
        started = time.perf_counter()
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING"}
        self._log, self._errors = log, log.open("a")
        self._proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, text=True
        )
        self.dtype = self._expect("READY")["dtype"]
        self.ready = time.perf_counter() - started

    def _expect(self, kind: str) -> dict:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            said, _, payload = line.partition(" ")
            if said in ("READY", "RESULT"):
                if said != kind:
                    raise SideFailed(f"benchmark side {self.name} said {said} for {kind}; see {self._log}")
                return json.loads(payload)
        raise SideFailed(f"benchmark side {self.name} failed; see {self._log}")

    def run(self, case: str) -> dict:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(case + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise SideFailed(f"benchmark side {self.name} is gone; see {self._log}") from exc
        result = self._expect("RESULT")
        if result["case"] != case:
            raise SideFailed(f"benchmark side {self.name} answered {result['case']} for {case}")
        return result

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()  # type: ignore[union-attr]
        self._proc.wait()
        self._errors.close()


Rows = list[tuple[Side, dict[str, tuple[list[float], list[float], float]]]]


def interleave(upstream: Side, other: Side, cases: list[str], repeats: int) -> dict:
    """Per case: upstream's and the other side's wall times, in alternating pairs, and the audio."""
    out: dict[str, tuple[list[float], list[float], float]] = {}
    for _ in range(repeats):
        for case in cases:
            base, ours, _ = out.setdefault(case, ([], [], 0.0))
            base.append(upstream.run(case)["wall"])
            result = other.run(case)
            ours.append(result["wall"])
            out[case] = (base, ours, result["audio"])
    return out


def extra_rows(upstream: Side, extras: list[str], start: Callable[[str], Side], cases: list[str], repeats: int) -> Rows:
    """The opt-in rows; an extra side that fails is left out with the reason, so an untried
    setting never costs the default's figures."""
    rows: Rows = []
    for extra in extras:
        try:
            side = start(extra)
            try:
                rows.append((side, interleave(upstream, side, cases, repeats)))
            finally:
                side.close()
        except SideFailed as exc:
            print(f"{exc}: left out")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--cases", default="sentence,paragraph", help="sentence, paragraph, batch8 (8 jobs)")
    parser.add_argument("--repeats", type=int, default=3, help="upstream/worker pairs per case")
    parser.add_argument("--extra", default="", help="extra rows: compile, fp32, bf16, fp16, int8 (comma list)")
    parser.add_argument("--extra-cases", default="sentence", help="cases for the extra rows")
    parser.add_argument("--worker", choices=("upstream", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--env", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = ensure_files(args.checkpoint_dir)
    if args.worker == "upstream":
        return run_upstream(settings, args.nfe, device)
    if args.worker == "engine":
        return run_worker(settings, args.nfe, {"TTS_DEVICE": device, **json.loads(args.env)})

    cases = [c for c in args.cases.split(",") if c]
    print(describe(device.startswith("cuda")))
    print(f"F5TTS_v1_Base sizes, random weights; nfe_step={args.nfe}; {args.repeats} interleaved pairs per case")
    log = args.checkpoint_dir / "bench-stderr.log"
    common = [sys.executable, "-m", "benchmarks.engine", "--nfe", str(args.nfe), "--device", device]
    common += ["--checkpoint-dir", str(args.checkpoint_dir)]

    def start(extra: str = "") -> Side:
        env = {"TTS_COMPILE": "on"} if extra == "compile" else {"TTS_DTYPE": extra} if extra else {}
        return Side(f"worker ({extra or 'default'})", [*common, "--worker", "engine", "--env", json.dumps(env)], log)

    upstream = Side("upstream F5TTS.infer", [*common, "--worker", "upstream"], log)
    worker = start()
    rows: Rows = [(worker, interleave(upstream, worker, cases, args.repeats))]
    worker.close()
    extras = [e for e in args.extra.split(",") if e]
    rows += extra_rows(upstream, extras, start, [c for c in args.extra_cases.split(",") if c], args.repeats)
    upstream.close()

    header = (
        f"{'case':<10} {'side':<26} {'dtype':<14} {'wall s':>8} {'audio s':>8} {'RTF':>7} {'speedup [min-max]':>19}"
    )
    print(f"{header}\n{'-' * len(header)}")
    speedups: dict[str, float] = {}
    for side, results in rows:
        for case, (base, ours, audio) in results.items():
            ratio, low, high = pair_stats(base, ours)
            for who, walls, shown in ((upstream, base, "1.00x"), (side, ours, f"{ratio:.2f}x {low:.2f}-{high:.2f}")):
                wall = statistics.median(walls)
                timing = f"{wall:>8.2f} {audio:>8.2f} {wall / audio:>7.3f}"
                print(f"{case:<10} {who.name:<26} {who.dtype:<14} {timing} {shown:>19}")
            if side is worker:
                speedups[case] = ratio
    for side in (upstream, *(side for side, _ in rows)):
        print(f"ready (process start -> warmed)  {side.name:<26} {side.dtype:<14} {side.ready:>6.2f} s")
    print(f"speedup_vs_upstream: {speedups['paragraph' if 'paragraph' in speedups else cases[-1]]:.2f}")


if __name__ == "__main__":
    main()
