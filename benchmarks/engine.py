"""This worker's synthesis against upstream `F5TTS.infer`: `python -m benchmarks.engine [--nfe 16]`.

Both sides speak the same texts in the same voice at the same NFE on the real-size random
checkpoint, each a worker process serving runpod's local API: this worker as the image boots
it, each case jobs through its service (planning, chunking, batching, the engine, the
cross-fade: the worker's own code), and `benchmarks.upstream_worker`, where upstream chunks
inside `infer`. "Ready" runs from the spawn to the first answer, imports included. `batch8` is
eight one-sentence jobs at once: batched here, one after another upstream. Sides alternate
(`--repeats` pairs per case); a speedup is the median of the per-pair ratios with their
spread. `--extra compile,int8,...` adds a row per setting (TTS_COMPILE=on or a TTS_DTYPE), left
out with the reason if it fails. Last line `speedup_vs_upstream: X.XX` for the paragraph (or
the last case).
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from argparse import ArgumentParser
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks import common
from benchmarks.common import BATCH_TEXTS, SEED, TEXTS, SideFailed
from benchmarks.serve import VOICE, post, prepare_worker
from harness.processes import running_worker


class Side:
    """One side's worker process, booted and warmed once; `run(case)` times one case."""

    def __init__(self, name: str, env: dict[str, str], log: Path, module: str, nfe: int) -> None:
        self.name, self._nfe, self._stack = name, nfe, contextlib.ExitStack()
        self._voice = {} if module == "benchmarks.upstream_worker" else {"local_voice": VOICE}
        started = time.perf_counter()
        try:
            self.worker = self._stack.enter_context(running_worker(env, log, 900, module))
            if self._voice:
                prepare_worker(self.worker, env["REF_WAV"], nfe, [], 1, 0, BATCH_TEXTS)
            self.ready = time.perf_counter() - started
            health = post(self.worker, {"endpoint": "health"})[1].get("engine", {})
            if health.get("runner") == "cuda_graph":  # graphs are captured on a bucket's first use: once, unmeasured
                for case in ("batch8", *TEXTS):
                    self.run(case)
            self.dtype = health.get("dtype", "") + ("+compile" if health.get("compile", "off") != "off" else "")
        except Exception as exc:  # a worker that exits before it serves, or fails its warm-up
            self.close()
            raise SideFailed(f"benchmark side {name} failed: {str(exc)[-1500:].strip()}; see {log}") from exc

    def run(self, case: str) -> dict:
        texts = BATCH_TEXTS if case == "batch8" else [TEXTS[case]]
        jobs = [{"text": text, "nfe_step": self._nfe, "seed": SEED + i, "return": "base64", **self._voice}
                for i, text in enumerate(texts)]  # fmt: skip
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(len(jobs)) as pool:
                audio = sum(output["duration"] for _, output in pool.map(lambda job: post(self.worker, job), jobs))
        except (requests.RequestException, AssertionError) as exc:
            raise SideFailed(f"benchmark side {self.name} failed at {case}: {type(exc).__name__}: {exc}") from exc
        return {"case": case, "wall": time.perf_counter() - started, "audio": audio}

    def close(self) -> None:
        self._stack.close()


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
    """The opt-in rows; one that fails is left out with the reason: it never costs the default's figures."""
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
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=common.CHECKPOINT_DIR)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--cases", default="sentence,paragraph", help="sentence, paragraph, batch8 (8 jobs)")
    parser.add_argument("--repeats", type=int, default=3, help="upstream/worker pairs per case")
    parser.add_argument("--extra", default="", help="extra rows: compile, fp32, bf16, fp16, int8 (comma list)")
    parser.add_argument("--extra-cases", default="sentence", help="cases for the extra rows")
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = common.ensure_files(args.checkpoint_dir)
    cases = [c for c in args.cases.split(",") if c]
    print(common.describe(device.startswith("cuda")))
    print(f"F5TTS_v1_Base sizes, random weights; nfe_step={args.nfe}; {args.repeats} interleaved pairs per case")
    env = {**settings, "TTS_DEVICE": device, "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:

        def start(extra: str = "") -> Side:
            setting = {"TTS_COMPILE": "on"} if extra == "compile" else {"TTS_DTYPE": extra} if extra else {}
            store = {"STORAGE_URL": f"file://{tmp}/{extra}", "VOICE_CACHE_DIR": f"{tmp}/cache-{extra}"}
            log = args.checkpoint_dir / f"engine-{extra or 'default'}.log"
            side_env = {**env, "TTS_ENGINE": "f5", **store, **setting}
            return Side(f"worker ({extra or 'default'})", side_env, log, "entrypoints.runpod_handler", args.nfe)

        log = args.checkpoint_dir / "engine-upstream.log"
        upstream = Side("upstream F5TTS.infer", env, log, "benchmarks.upstream_worker", args.nfe)
        worker = start()
        rows: Rows = [(worker, interleave(upstream, worker, cases, args.repeats))]
        worker.close()
        extras = [e for e in args.extra.split(",") if e]
        rows += extra_rows(upstream, extras, start, [c for c in args.extra_cases.split(",") if c], args.repeats)
        upstream.close()
    table = []
    for side, results in rows:
        for case, (base, ours, audio) in results.items():
            ratio, low, high = common.pair_stats(base, ours)
            for who, walls, shown in ((upstream, base, "1.00x"), (side, ours, f"{ratio:.2f}x {low:.2f}-{high:.2f}")):
                wall = statistics.median(walls)
                table.append({"case": case, "side": who.name, "dtype": who.dtype, "wall": wall, "audio": audio,
                              "rtf": wall / audio, "speedup": shown})  # fmt: skip
    common.print_rows([("case", "case", "<10", 1), ("side", "side", "<26", 1), ("dtype", "dtype", "<22", 1),
                ("wall s", "wall", "8.2f", 1), ("audio s", "audio", "8.2f", 1), ("RTF", "rtf", "7.3f", 1),
                ("speedup [min-max]", "speedup", ">19", 1)], table)  # fmt: skip
    for side in (upstream, *(side for side, _ in rows)):
        print(f"ready (process start -> warmed)  {side.name:<26} {side.dtype:<22} {side.ready:>6.2f} s")
    speedups = {case: common.pair_stats(base, ours)[0] for case, (base, ours, _) in rows[0][1].items()}
    print(f"speedup_vs_upstream: {speedups.get('paragraph', speedups[cases[-1]]):.2f}")


if __name__ == "__main__":
    main()
