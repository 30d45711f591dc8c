"""Cold start of the worker as the image starts it: `python -m benchmarks.coldstart [--rounds 3] [--cold]`.

Each round starts `python -m entrypoints.runpod_handler` (the image's command, no
arguments) with the image's run-time settings (MODEL_DIR laid out as the image bakes it,
with the DiT in bf16 as `scripts/convert_weights.py` makes it; HF_HUB_OFFLINE=1) against a
loopback stand-in of RunPod's job queue (tests/runpod_queue.py) that already holds a job,
and measures from the moment it spawns the process:

* ready: until the worker takes its first job (the stand-in sees the take), and the
  worker's own `worker_ready` breakdown by stage;
* first job vs second job: two one-sentence jobs of the same length, the second sent when
  the first is done, each timed from its take to its answer (the target: first <= 1.3x second).

In the same run, interleaved with the worker's rounds, each side's load alone (process start
to model loaded, imports included, no warm-up): upstream's `F5TTS(...)` on the release's
fp32 file (with the shims benchmarks/engine.py documents, which only make it faster), and
`build_f5_engine` on the bf16 file and on the fp32 file. `--cold` drops the page cache
(`echo 3 > /proc/sys/vm/drop_caches`, root only) before every process, so each one reads
its Python, torch and weights from disk as on a new machine; without it the files are in
the page cache, as for a restarted or FlashBoot-resumed worker. The weights are real-size
(F5TTS_v1_Base, 337 M parameters) and random, written by benchmarks/engine.py.

`--compile` starts the worker with TTS_COMPILE=1 and PyTorch's compile cache
(TORCHINDUCTOR_CACHE_DIR, which holds Triton's kernels too) in one directory that is empty
for round 1 (a first start, or a machine without a persistent volume) and kept for the later
rounds (a restart with the cache on a volume that survives it). `--compile background` does
the same under TTS_COMPILE=background, where the two jobs run while the compile does; each
round then also waits for the swap and times two more jobs: from process start to the swap,
the first job after it (it captures the compiled graphs) and the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.worker import Worker

ROOT = Path(__file__).resolve().parents[1]
JOBS = (
    "The morning train was late again, so I walked.",
    "She painted the old fence a bright shade of blue.",
)
JOB_PARAMS = {"nfe_step": 4, "seed": 7}
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def bench_model_dir(checkpoint_dir: Path) -> tuple[Path, dict[str, str]]:
    """The image's MODEL_DIR layout over the benchmark's files (links), with only the bf16
    DiT in it, as the image keeps only that one; and the fp32 settings for the load rows."""
    from benchmarks.engine import ensure_files

    settings = ensure_files(checkpoint_dir)
    fp32 = Path(settings["F5_CKPT_FILE"])
    bf16 = fp32.with_name(fp32.stem + ".bf16.safetensors")
    if not bf16.exists():
        sys.path.insert(0, str(ROOT / "scripts"))
        from convert_weights import convert

        convert(fp32, bf16, "bf16")
    model_dir = checkpoint_dir / "image-model-dir"
    links = {
        model_dir / "F5TTS_v1_Base" / "model_1250000.bf16.safetensors": bf16,
        model_dir / "F5TTS_v1_Base" / "vocab.txt": Path(settings["F5_VOCAB_FILE"]),
        model_dir / "vocos-mel-24khz": Path(settings["VOCODER_PATH"]),
    }
    for link, target in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(target)
    return model_dir, settings


def drop_caches() -> str | None:
    """Empty the page cache; None when it worked, else why it could not."""
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _base_env() -> dict[str, str]:
    drop = ("RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_REALTIME_PORT", "STORAGE_URL", "S3_BUCKET", "F5_CKPT_FILE",
            "F5_VOCAB_FILE", "VOCODER_PATH", "F5_MODEL", "TTS_DTYPE", "TTS_DEVICE")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)  # keep a wheel target
    env.update({"PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "json"})
    return env


# -- one worker, as the image starts it ------------------------------------------------------


def worker_round(
    model_dir: Path, workdir: Path, cold: bool, dtype: str | None, device: str, extra_env: dict[str, str]
) -> dict:
    from tests.e2e.worker import Worker, log_events, stop
    from tests.runpod_queue import job_queue

    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "worker.log"
    with job_queue() as queue:
        env = {**_base_env(), **queue.env(), "MODEL_DIR": str(model_dir), "TTS_ENGINE": "f5",
               "STORAGE_URL": f"file://{workdir}/data"}  # fmt: skip
        if dtype:
            env["TTS_DTYPE"] = dtype
        env["TTS_DEVICE"] = device
        env.update(extra_env)
        background = env.get("TTS_COMPILE") == "background"
        first = queue.submit({"text": JOBS[0], **JOB_PARAMS})
        if cold and (why := drop_caches()):
            raise SystemExit(f"cannot drop the page cache: {why}")
        with log_path.open("w") as log:
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "entrypoints.runpod_handler"], cwd=workdir, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            try:
                queue.wait_for(lambda events: any(e.kind == "take" for e in events), timeout=900)
                took = time.perf_counter()
                queue.wait_done(first, timeout=900)
                first_done = time.perf_counter()
                second, second_job = _timed_job(queue, JOBS[1])
                _answered(queue, (first, second), log_path)  # a worker that failed to start compiles nothing
                swap = _after_the_swap(queue, Worker("", log_path, proc.pid), started) if background else {}
                _answered(queue, swap.pop("jobs", ()), log_path)
            finally:
                stop(proc, timeout=30)
    log_text = log_path.read_text(errors="replace")
    ready = log_events(log_text, "worker_ready")[0]
    loaded = log_events(log_text, "f5_engine_loaded")[0]
    return {
        "takes_jobs": took - started,
        "ready_seconds": ready["ready_seconds"],
        "ready_cpu": ready["ready_cpu_seconds"],
        "stages": ready["stages"],
        "unaccounted": ready["unaccounted_seconds"],
        "dtype": loaded["dtype"],
        "checkpoint": Path(loaded["checkpoint"]).name,
        "first_job": first_done - took,
        "second_job": second_job,
        **swap,
    }


def _timed_job(queue: Any, text: str) -> tuple[str, float]:
    """Sends one job; its id and the seconds from the worker's take to its answer."""
    job = queue.submit({"text": text, **JOB_PARAMS})
    queue.wait_for(lambda events: any(e.kind == "take" and e.job_id == job for e in events), 900)
    took = time.perf_counter()
    queue.wait_done(job, timeout=900)
    return job, time.perf_counter() - took


def _answered(queue: Any, job_ids: Iterable[str], log_path: Path) -> None:
    for job_id in job_ids:
        body = queue.done_body(job_id)
        if "error" in body:
            raise SystemExit(f"job {job_id} failed: {body['error']}; see {log_path}")


def _after_the_swap(queue: Any, worker: Worker, started: float) -> dict:
    """Under TTS_COMPILE=background: wait until the log says how the compile ended (as the
    serve benchmark does), then time two jobs, each from its take to its answer. `worker`
    reads the log of a worker that takes its jobs from the queue (no local API)."""
    from benchmarks.serve import background_compile_outcome, wait_for_background_compile

    wait_for_background_compile(worker)
    swapped = time.perf_counter() - started
    jobs, seconds = zip(*(_timed_job(queue, text) for text in JOBS), strict=True)
    return {
        "swapped": swapped,
        "compile": background_compile_outcome(worker),
        "after_swap": list(seconds),
        "jobs": list(jobs),
    }


# -- each side's load alone, in its own process ------------------------------------------------


def _emit_ready(dtype: str) -> None:
    sys.__stdout__.write(f"READY {json.dumps({'dtype': dtype})}\n")
    sys.__stdout__.flush()


def load_side(side: str, settings: dict[str, str], ckpt: str, device: str) -> None:
    """Runs in the child: load one side's model and say READY (after CUDA has finished)."""
    if side == "upstream":
        import torch

        from benchmarks.engine import load_upstream

        model = load_upstream({**settings, "F5_CKPT_FILE": ckpt}, device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        _emit_ready(str(next(model.ema_model.parameters()).dtype).replace("torch.", ""))
    else:
        import torch

        from adapters.f5_engine import build_f5_engine

        engine = build_f5_engine(ckpt_file=ckpt, vocab_file=settings["F5_VOCAB_FILE"],
                                 vocoder_path=settings["VOCODER_PATH"], device=device)  # fmt: skip
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        _emit_ready(engine.precision.dtype)


def load_round(side: str, ckpt: Path, checkpoint_dir: Path, cold: bool, device: str) -> tuple[float, str]:
    env = {**_base_env(), "LOG_LEVEL": "WARNING"}
    args = [sys.executable, "-m", "benchmarks.coldstart", "--checkpoint-dir", str(checkpoint_dir),
            "--load-side", side, "--ckpt", str(ckpt), "--device", device]  # fmt: skip
    if cold and (why := drop_caches()):
        raise SystemExit(f"cannot drop the page cache: {why}")
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    ready, dtype = float("nan"), "?"
    for line in proc.stdout:
        if line.startswith("READY "):
            ready, dtype = time.perf_counter() - started, json.loads(line[6:])["dtype"]
    if proc.wait() != 0:
        raise SystemExit(f"load side {side} failed (rerun it: {' '.join(args)})")
    return ready, dtype


# -- the parent ---------------------------------------------------------------------------------


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}" if values else "      -"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/f5-tts-worker-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before every process")
    parser.add_argument("--dtype", default=None, help="TTS_DTYPE for the worker (default: its own choice)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, as the worker)")
    parser.add_argument("--skip-loads", action="store_true", help="only the worker rounds")
    parser.add_argument(
        "--compile",
        nargs="?",
        const="on",
        choices=("on", "background"),
        help="TTS_COMPILE=1 (or =background); compile cache empty, then kept",
    )
    parser.add_argument("--load-side", choices=("upstream", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_side:
        from benchmarks.engine import ensure_files

        with contextlib.redirect_stdout(sys.stderr):
            settings = ensure_files(args.checkpoint_dir)
        load_side(args.load_side, settings, args.ckpt, args.device)
        return

    import torch

    from adapters.precision import has_native_bf16, processor_name, read_cpu_flags
    from benchmarks import host

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

    model_dir, settings = bench_model_dir(args.checkpoint_dir)
    fp32 = Path(settings["F5_CKPT_FILE"])
    bf16 = fp32.with_name(fp32.stem + ".bf16.safetensors")
    cache = "cold (page cache dropped before every process)" if args.cold else "warm (files in the page cache)"
    gpu = f"; GPU: {torch.cuda.get_device_name()}" if device.startswith("cuda") else ""
    print(f"processor: {processor_name()} ({os.cpu_count()} cores), native bf16: "
          f"{'yes' if has_native_bf16(read_cpu_flags()) else 'no'}{gpu}; page cache: {cache}")  # fmt: skip
    print(f"load average at start: {os.getloadavg()[0]:.2f}; rounds: {args.rounds}; medians shown")
    if not device.startswith("cuda"):
        print(host.describe())
    print(f"jobs: {JOBS[0]!r} then {JOBS[1]!r}, {JOB_PARAMS}")
    extra_env, compile_cache = {}, args.checkpoint_dir / "coldstart-work" / "compile-cache"
    if args.compile:
        print(
            f"TTS_COMPILE={args.compile}; compile cache {compile_cache}: empty for round 1, kept for the later rounds"
        )
        extra_env = {"TTS_COMPILE": args.compile, "TORCHINDUCTOR_CACHE_DIR": str(compile_cache)}
    if not args.cold:  # one untimed start so every file the rounds read is in the page cache
        prime = args.checkpoint_dir / "coldstart-work" / "prime"
        prime_env = {**extra_env, "TORCHINDUCTOR_CACHE_DIR": str(prime / "compile-cache")} if args.compile else {}
        shutil.rmtree(prime / "compile-cache", ignore_errors=True)
        worker_round(model_dir, prime, False, args.dtype, device, prime_env)
    shutil.rmtree(compile_cache, ignore_errors=True)

    workers: list[dict] = []
    loads: dict[str, list[float]] = {}
    dtypes: dict[str, str] = {}
    sides = [] if args.skip_loads else [
        ("upstream F5TTS (fp32 file)", "upstream", fp32),
        ("engine (bf16 file)", "engine", bf16),
        ("engine (fp32 file)", "engine", fp32),
    ]  # fmt: skip
    for i in range(args.rounds):
        for name, side, ckpt in sides:
            seconds, dtypes[name] = load_round(side, ckpt, args.checkpoint_dir, args.cold, device)
            loads.setdefault(name, []).append(seconds)
        work = args.checkpoint_dir / "coldstart-work" / str(i)
        workers.append(worker_round(model_dir, work, args.cold, args.dtype, device, extra_env))
        print(f"round {i + 1}: takes jobs {workers[-1]['takes_jobs']:.2f} s, load avg {os.getloadavg()[0]:.2f}",
              flush=True)  # fmt: skip

    w0 = workers[0]
    print(f"\nworker: dtype {w0['dtype']}, checkpoint {w0['checkpoint']}")
    print(f"{'process start -> takes jobs (s)':<44}{_median([w['takes_jobs'] for w in workers])}"
          f"   per round: {', '.join(f'{t:.2f}' for t in (w['takes_jobs'] for w in workers))}")  # fmt: skip
    print(f"{'  worker_ready ready_seconds (s)':<44}{_median([w['ready_seconds'] for w in workers])}")
    print(f"{'  worker_ready ready_cpu_seconds (s)':<44}{_median([w['ready_cpu'] for w in workers])}")
    for stage in w0["stages"]:
        print(f"{'    ' + stage:<44}{_median([w['stages'].get(stage, 0.0) for w in workers])}")
    print(f"{'    (unaccounted)':<44}{_median([w['unaccounted'] for w in workers])}")
    first, second = [w["first_job"] for w in workers], [w["second_job"] for w in workers]
    ratios = [f / s for f, s in zip(first, second, strict=True)]
    print(f"{'first job (take -> answer) (s)':<44}{_median(first)}")
    print(f"{'second job (s)':<44}{_median(second)}")
    print(f"{'first / second':<44}{_median(ratios)}   per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    if "swapped" in w0:
        print(f"{'process start -> compiled runner (s)':<44}{_median([w['swapped'] for w in workers])}"
              f"   ({', '.join(sorted({w['compile'] for w in workers}))})")  # fmt: skip
        print(f"{'first job after the swap (s)':<44}{_median([w['after_swap'][0] for w in workers])}")
        print(f"{'the next one (s)':<44}{_median([w['after_swap'][1] for w in workers])}")
    if sides:
        print("\nload alone: process start -> model loaded (imports included, no warm-up)")
        upstream = statistics.median(loads[sides[0][0]])
        for name, _, _ in sides:
            median = statistics.median(loads[name])
            print(f"  {name:<30} {dtypes[name]:<9} {median:6.2f} s  ({median / upstream:.2f}x upstream)"
                  f"   per round: {', '.join(f'{v:.2f}' for v in loads[name])}")  # fmt: skip
        ratio = statistics.median(loads["engine (bf16 file)"]) / upstream
        print(f"engine_load_vs_upstream: {ratio:.2f}")


if __name__ == "__main__":
    main()
