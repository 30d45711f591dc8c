"""Cold start of the worker as the image starts it: `python -m benchmarks.coldstart [--rounds 3] [--cold]`.

The image's settings (MODEL_DIR as baked, the bf16 DiT, HF_HUB_OFFLINE=1) against a stand-in of RunPod's
queue that already holds a job, timed from the spawn, then two jobs alike (the target: first <= 1.3x
second). Without `--cold` the files are cached, as for a restarted or FlashBoot-resumed worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import CHECKPOINT_DIR, ROOT, describe, ensure_files
from benchmarks.serve import background_compile_outcome, wait_for_background_compile
from harness.processes import Worker, log_events
from harness.runpod_queue import JobQueue, job_queue, queue_worker

JOBS = ("The morning train was late again, so I walked.", "She painted the old fence a bright shade of blue.")
JOB_PARAMS = {"nfe_step": 4, "seed": 7}


def bench_model_dir(checkpoint_dir: Path) -> Path:
    """The image's MODEL_DIR layout over the benchmark's files (links), only the bf16 DiT as in the image."""
    settings = ensure_files(checkpoint_dir)
    fp32 = Path(settings["F5_CKPT_FILE"])
    bf16 = fp32.with_name(fp32.stem + ".bf16.safetensors")
    if not bf16.exists():
        sys.path.insert(0, str(ROOT / "scripts"))  # the script imports its sibling scripts
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
    return model_dir


def worker_round(model_dir: Path, workdir: Path, cold: bool, env: dict[str, str]) -> dict:
    log_path = workdir / "worker.log"
    env = {"MODEL_DIR": str(model_dir), "TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1",
           "STORAGE_URL": f"file://{workdir}/data", **env}  # fmt: skip
    with job_queue() as queue:
        first = queue.submit({"text": JOBS[0], **JOB_PARAMS})
        if cold:  # every file the worker reads comes from the disk again
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        started = time.perf_counter()
        with queue_worker(queue, workdir, log_path, env) as process:
            took, first_job = _timed_job(queue, log_path, JOBS[0], first)  # a failed start compiles nothing: stop
            second_job = _timed_job(queue, log_path, JOBS[1])[1]
            swap = {}
            if env.get("TTS_COMPILE") == "background":
                swap = _after_the_swap(queue, Worker("", log_path, process.pid), started)
    log_text = log_path.read_text(errors="replace")
    ready, loaded = log_events(log_text, "worker_ready")[0], log_events(log_text, "f5_engine_loaded")[0]
    stages = {f"    {stage}": seconds for stage, seconds in ready["stages"].items()}
    figures = {"process start -> takes jobs (s)": took - started, "  worker_ready ready_seconds (s)":
               ready["ready_seconds"], "  worker_ready ready_cpu_seconds (s)": ready["ready_cpu_seconds"],
               **stages, "    (unaccounted)": ready["unaccounted_seconds"],
               "first job (take -> answer) (s)": first_job, "second job (s)": second_job,
               "first / second": first_job / second_job}  # fmt: skip
    worker = f"dtype {loaded['dtype']}, checkpoint {Path(loaded['checkpoint']).name}"
    if swap:  # under TTS_COMPILE=background
        worker += f"; {swap.pop('compile')}"
    return {"worker": worker, **figures, **swap}


def _timed_job(queue: JobQueue, log_path: Path, text: str, job: str = "") -> tuple[float, float]:
    """When the worker took a job of `text` (sent now, unless it is `job`, sent before the worker started),
    by perf_counter, and the seconds from that take to its answer."""
    job = job or queue.submit({"text": text, **JOB_PARAMS})
    queue.wait_for(lambda events: any(e.kind == "take" and e.job_id == job for e in events), 900)
    took = time.perf_counter()
    if "error" in (body := queue.wait_done(job, timeout=900)[job]):
        raise SystemExit(f"job {job} failed: {body['error']}; see {log_path}")
    return took, time.perf_counter() - took


def _after_the_swap(queue: JobQueue, worker: Worker, started: float) -> dict:
    """Under TTS_COMPILE=background: once the log says how the compile ended, two jobs timed."""
    wait_for_background_compile(worker)
    swapped = time.perf_counter() - started
    first, second = (_timed_job(queue, worker.log_path, text)[1] for text in JOBS)
    return {"compile": background_compile_outcome(worker), "process start -> compiled runner (s)": swapped,
            "first job after the swap (s)": first, "the next one (s)": second}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before every process")
    parser.add_argument("--dtype", default=None, help="TTS_DTYPE for the worker (default: its own choice)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, as the worker)")
    parser.add_argument("--compile", nargs="?", const="on", choices=("on", "background"),
                        help="TTS_COMPILE=1 (or =background); compile cache empty, then kept")  # fmt: skip
    args = parser.parse_args()
    if args.cold and not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        raise SystemExit("--cold drops the page cache: it needs root (/proc/sys/vm/drop_caches)")
    model_dir = bench_model_dir(args.checkpoint_dir)
    print(describe(args.device.startswith("cuda") if args.device else None))
    cache = "cold (dropped before every process)" if args.cold else "warm (files in the page cache)"
    print(f"page cache: {cache}; load average at start {os.getloadavg()[0]:.2f}; {args.rounds} rounds, medians")
    print(f"jobs: {JOBS[0]!r} then {JOBS[1]!r}, {JOB_PARAMS}")
    work = args.checkpoint_dir / "coldstart-work"
    env = {key: value for key, value in {"TTS_DEVICE": args.device, "TTS_DTYPE": args.dtype}.items() if value}
    if args.compile:
        print(f"TTS_COMPILE={args.compile}; compile cache empty for round 1, kept for the later rounds")
        env |= {"TTS_COMPILE": args.compile, "TORCHINDUCTOR_CACHE_DIR": str(work / "compile-cache")}
    if not args.cold:  # one untimed start, so every file the rounds read is in the page cache
        shutil.rmtree(work / "prime", ignore_errors=True)
        worker_round(model_dir, work / "prime", False, {**env, "TORCHINDUCTOR_CACHE_DIR": str(work / "prime" / "cc")})
    shutil.rmtree(work / "compile-cache", ignore_errors=True)
    rounds: list[dict] = []
    for i in range(args.rounds):
        rounds.append(worker_round(model_dir, work / str(i), args.cold, env))
        took = rounds[-1]["process start -> takes jobs (s)"]
        print(f"round {i + 1}: takes jobs {took:.2f} s, load avg {os.getloadavg()[0]:.2f}")
    print("\n" + "\n".join(sorted({f"worker: {r['worker']}" for r in rounds})))
    for label in [label for label in rounds[0] if label != "worker"]:
        values = [r.get(label, float("nan")) for r in rounds]
        print(f"{label:<44}{statistics.median(values):7.2f}   per round: {', '.join(f'{v:.2f}' for v in values)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
