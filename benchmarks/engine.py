"""This worker's synthesis against upstream `F5TTS.infer`: `python -m benchmarks.engine [--nfe 16]`.

Both sides speak the same texts in the same voice at the same NFE on the real-size random
checkpoint, each in its own process ("ready" runs from process start, imports included). This
worker's side is the worker booted as the image boots it, each case a job through its service
(planning, chunking, batching, the engine, the cross-fade: the worker's own code); upstream
chunks inside `infer`. `batch8` is eight one-sentence jobs at once: batched here, one after
another upstream. Sides alternate (`--repeats` pairs per case); a speedup is the median of the
per-pair ratios with their spread. `--extra compile,int8,...` adds a row per setting
(TTS_COMPILE=on or a TTS_DTYPE), left out with the reason if it fails. Last line
`speedup_vs_upstream: X.XX` for the paragraph (or the last case).
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
    print_rows,
    stub_absent_modules,
    upstream_speaker,
)


def serve_cases(label: str, run_case: Callable[[str], tuple[float, float]]) -> None:
    """A side's process, loaded: READY to the parent, then for each case name on stdin one
    RESULT line (wall and audio seconds), until EOF. Stdout carries only these lines."""
    print("READY " + json.dumps({"dtype": label}), file=sys.__stdout__, flush=True)
    for line in sys.stdin:
        if case := line.strip():
            wall, audio = run_case(case)
            print("RESULT " + json.dumps({"case": case, "wall": wall, "audio": audio}), file=sys.__stdout__, flush=True)


def run_upstream(settings: dict[str, str], nfe: int, device: str) -> None:
    model = load_upstream(settings, device)
    speak = upstream_speaker(model, settings["REF_WAV"])
    speak("Warm up.", nfe, SEED)

    def run_case(case: str) -> tuple[float, float]:
        started = time.perf_counter()
        audio = sum(len(wav) / rate for wav, rate in (speak(text, nfe, SEED) for text in texts_of(case)))
        return time.perf_counter() - started, audio

    serve_cases(str(next(model.ema_model.parameters()).dtype).removeprefix("torch."), run_case)


def texts_of(case: str) -> list[str]:
    return BATCH_TEXTS if case == "batch8" else [TEXTS[case]]


def run_worker(settings: dict[str, str], nfe: int, env: dict[str, str]) -> None:
    stub_absent_modules()  # before the engine's imports: the GPU image lacks some of upstream's
    from container import build_container
    from entrypoints.logging_setup import configure_logging
    from entrypoints.runpod_handler import boot

    configure_logging("WARNING", "json")  # to stderr: stdout carries the answers to the parent

    with tempfile.TemporaryDirectory() as tmp:
        # the environment as a worker reads it (TTS_DTYPE=fp32 serves fp32, as on an AVX2-only CPU), the
        # benchmark's model (a tiny one's config too) and a store of its own
        config = {**os.environ, **{key: value for key, value in settings.items() if key != "REF_WAV"}}
        config |= {"TTS_ENGINE": "f5", "STORAGE_URL": "memory://bench", "VOICE_CACHE_DIR": tmp, **env}
        service = boot(build_container(config))
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
            texts = texts_of(case)
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

    table = []
    for side, results in rows:
        for case, (base, ours, audio) in results.items():
            ratio, low, high = pair_stats(base, ours)
            for who, walls, shown in ((upstream, base, "1.00x"), (side, ours, f"{ratio:.2f}x {low:.2f}-{high:.2f}")):
                wall = statistics.median(walls)
                table.append({"case": case, "side": who.name, "dtype": who.dtype, "wall": wall, "audio": audio,
                              "rtf": wall / audio, "speedup": shown})  # fmt: skip
    print_rows([("case", "case", "<10", 1), ("side", "side", "<26", 1), ("dtype", "dtype", "<14", 1),
                ("wall s", "wall", "8.2f", 1), ("audio s", "audio", "8.2f", 1), ("RTF", "rtf", "7.3f", 1),
                ("speedup [min-max]", "speedup", ">19", 1)], table)  # fmt: skip
    for side in (upstream, *(side for side, _ in rows)):
        print(f"ready (process start -> warmed)  {side.name:<26} {side.dtype:<14} {side.ready:>6.2f} s")
    speedups = {case: pair_stats(base, ours)[0] for case, (base, ours, _) in rows[0][1].items()}
    print(f"speedup_vs_upstream: {speedups.get('paragraph', speedups[cases[-1]]):.2f}")


if __name__ == "__main__":
    main()
