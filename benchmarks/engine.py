"""This engine against upstream `F5TTS.infer`: `python -m benchmarks.engine [--nfe 16]`.

Both sides load the same real-size (F5TTS_v1_Base, 337 M parameters) randomly initialised
checkpoint, written once by `scripts/make_tiny_checkpoint.py --size base` (random weights
cost exactly what trained ones cost to run), and speak the same texts in the voice of the
same reference at the same NFE. Each side runs in its own process, so "ready" is measured
from process start to model loaded, imports included. The engine side does what the
worker does: the domain splits the text into chunks, the engine runs them as one batch,
the domain cross-fades them; upstream chunks and cross-fades inside `infer`.

Upstream's process needs two shims to run at all on a worker image, both of which make
its import faster than a real upstream install, so its ready time is understated:
`f5_tts.model`'s package `__init__` (which imports the trainer: wandb, datasets,
accelerate, not installed) is bypassed as in the engine, and `transformers` (Whisper,
unused here) is stubbed when absent. `torchaudio.load` is swapped for a soundfile reader
because FFmpeg is not installed.

The two sides are interleaved: both processes load once and stay up, then each case
runs upstream, engine, upstream, engine, ... (`--repeats` pairs), so a machine that slows
down or speeds up during the run (shared CPUs drift by up to 1.5x within the hour) affects
both sides of each pair alike. Each row gives the median wall time of its side, and the
speedup is the median of the per-pair ratios with their spread (min-max).

The last line is `speedup_vs_upstream: X.XX`, for the paragraph at the settings the worker
picks on this machine. Extra rows (`--extra int8,compile,unpacked,sdpa`) follow the default rows, each
interleaved with upstream the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF_TEXT = "Some call me nature, others call me mother nature."
TEXTS = {
    "sentence": "The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun.",
    "paragraph": (
        "Text to speech has come a long way. Early systems stitched recorded syllables together, "
        "and every sentence sounded like a ransom note read aloud. Modern models learn the rhythm "
        "of speech from thousands of hours of audio, so a few seconds of a voice are enough to "
        "clone it. The hard part now is not quality but cost: every second of audio must be "
        "produced quickly and cheaply, on whatever hardware is at hand."
    ),
}
#: the "batch8" case: eight independent one-sentence requests, which the engine runs as one
#: padded batch and upstream runs one after another (it has no cross-request batching)
BATCH_TEXTS = [
    "Please leave the package at the front door.",
    "The meeting has been moved to Thursday afternoon.",
    "Your order number is four, seven, two, nine.",
    "Turn left at the next intersection, then keep right.",
    "It will be sunny tomorrow with a light breeze.",
    "Thank you for calling, how can I help you today?",
    "The train to Boston departs from platform six.",
    "Remember to water the plants before you leave.",
]
SEED = 1234


def stub_absent_modules() -> list[str]:
    """Stand-ins for modules the GPU image lacks and neither measured path calls:
    `librosa` (f5-tts imports its mel filterbank for BigVGAN models only), `matplotlib`
    (upstream's spectrogram plots), `cached_path` (upstream's hub download). Installed
    ones are kept, except `transformers` (upstream's Whisper, unused here), which is always
    stood in for: with librosa stubbed its import breaks, and without it upstream's import
    is only faster, so its ready time stays an understatement."""
    import importlib.machinery
    import types

    def unused(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stubbed for the benchmark: not on the measured path")

    stubbed: list[str] = []
    for name, attrs in {
        "librosa": {},
        "librosa.filters": {"mel": unused},
        "matplotlib": {"use": lambda *a, **k: None},
        "matplotlib.pylab": {},
        "cached_path": {"cached_path": unused},
        "transformers": {"pipeline": unused},
    }.items():
        parent, _, child = name.rpartition(".")
        if parent and parent not in stubbed:
            continue
        if name in sys.modules:
            continue
        if not parent and name != "transformers" and importlib.util.find_spec(name) is not None:
            continue
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=not parent)
        module.__dict__.update(attrs)
        if not parent:
            module.__path__ = []
        sys.modules[name] = module
        if parent:
            setattr(sys.modules[parent], child, module)
        stubbed.append(name)
    return stubbed


def _reference_wave(rate: int = 24000, seconds: float = 4.0):
    """A voiced, speech-like 4 s clip (syllable-rate envelope, short pauses)."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    pitch = 130 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    envelope[(t % 1.3) > 1.1] = 0.0
    return (0.2 * voice * envelope).astype(np.float32)


def ensure_files(out: Path, size: str = "base") -> dict[str, str]:
    """The checkpoint of `size` (scripts/make_tiny_checkpoint.py: base or tiny) and the
    reference wav, written on first use and reused."""
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / "settings.env"
    if not settings_file.exists():
        # in-process (not the script's CLI) so the stand-ins above apply to it too
        stub_absent_modules()
        spec = importlib.util.spec_from_file_location(
            "make_tiny_checkpoint", ROOT / "scripts" / "make_tiny_checkpoint.py"
        )
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        written = script.write(out, size, 0)
        settings_file.write_text("".join(f"{key}={value}\n" for key, value in written.items()))
    settings = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if "=" in line)
    ref = out / "ref.wav"
    if not ref.exists():
        import soundfile as sf

        sf.write(ref, _reference_wave(), 24000, subtype="PCM_16")
    settings["REF_WAV"] = str(ref)
    return settings


# -- the two sides, each in its own process ---------------------------------------------------


def _emit(kind: str, payload: object) -> None:
    sys.__stdout__.write(f"{kind} {json.dumps(payload)}\n")
    sys.__stdout__.flush()


def load_upstream(settings: dict[str, str], device: str):
    """Upstream's `F5TTS` on the benchmark checkpoint, with the shims the docstring names."""
    import soundfile as sf
    import torch
    import torchaudio

    from adapters.f5_loading import import_f5_model

    stub_absent_modules()
    pkg = import_f5_model()
    pkg.CFM = __import__("f5_tts.model.cfm", fromlist=["cfm"]).CFM

    def soundfile_load(path: str, *args: object, **kwargs: object):
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate

    torchaudio.load = soundfile_load
    with contextlib.redirect_stdout(sys.stderr):
        from f5_tts.api import F5TTS

        return F5TTS(
            model="F5TTS_v1_Base",
            ckpt_file=settings["F5_CKPT_FILE"],
            vocab_file=settings["F5_VOCAB_FILE"],
            vocoder_local_path=settings["VOCODER_PATH"],
            device=device,
        )


def run_upstream(settings: dict[str, str], nfe: int, device: str) -> None:
    model = load_upstream(settings, device)
    _emit("READY", {"dtype": str(next(model.ema_model.parameters()).dtype).replace("torch.", "")})

    def infer(text: str) -> tuple[float, float]:
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            wav, rate, _ = model.infer(
                settings["REF_WAV"], REF_TEXT, text, nfe_step=nfe, seed=SEED, show_info=lambda *a: None, progress=None
            )
        return time.perf_counter() - started, len(wav) / rate

    infer("Warm up.")

    def run_case(case: str) -> tuple[float, float]:
        if case != "batch8":
            return infer(TEXTS[case])
        started = time.perf_counter()
        audio = sum(infer(text)[1] for text in BATCH_TEXTS)
        return time.perf_counter() - started, audio

    serve_cases(run_case)


def serve_cases(run_case) -> None:
    """Answer the parent: one case name per stdin line, one RESULT line each, until EOF."""
    _emit("WARM", {})
    for line in sys.stdin:
        case = line.strip()
        if case:
            wall, audio = run_case(case)
            _emit("RESULT", {"case": case, "wall": wall, "audio": audio})


def run_engine(
    settings: dict[str, str],
    nfe: int,
    device: str | None,
    dtype: str | None,
    compile_: bool,
    unpacked: bool,
    sdpa: bool,
) -> None:
    import soundfile as sf

    stub_absent_modules()
    from adapters.audio_arrays import from_numpy
    from adapters.f5_engine import build_f5_engine
    from domain.audio import cross_fade
    from domain.chunking import chunk_budget, split_text
    from domain.synthesis import Reference, SynthesisItem, SynthesisParams

    engine = build_f5_engine(
        ckpt_file=settings["F5_CKPT_FILE"],
        vocab_file=settings["F5_VOCAB_FILE"],
        vocoder_path=settings["VOCODER_PATH"],
        model_dir=None,
        dtype=dtype,
        compile=compile_,
        device=device,
        pack_cpu_linears=not unpacked,
        onednn_cpu_attention=not sdpa,
    )
    label = engine.precision.dtype + "".join(
        f"+{name}" for name, on in (("compile", compile_), ("unpacked", unpacked), ("sdpa", sdpa)) if on
    )
    _emit("READY", {"dtype": label})
    samples, rate = sf.read(settings["REF_WAV"], dtype="float32")
    reference = Reference(key="bench", audio=from_numpy(samples, rate), text=REF_TEXT)
    params = SynthesisParams(nfe_step=nfe)

    def speak(text: str) -> tuple[float, float]:
        started = time.perf_counter()
        budget = chunk_budget(REF_TEXT, len(samples) / rate, params.speed)
        items = [SynthesisItem(reference, chunk, params, SEED + i) for i, chunk in enumerate(split_text(text, budget))]
        audio = cross_fade(engine.synthesize(items), params.cross_fade_duration)
        return time.perf_counter() - started, audio.duration

    def speak_many(texts: list[str]) -> tuple[float, float]:
        started = time.perf_counter()
        items = [SynthesisItem(reference, text, params, SEED + i) for i, text in enumerate(texts)]
        audio = sum(a.duration for a in engine.synthesize(items))
        return time.perf_counter() - started, audio

    engine.warm_up()
    speak("Warm up.")
    if engine.runner.name == "cuda_graph":
        # a graph is captured on its bucket's first use, once per worker: each case runs once
        # unmeasured, so the timed pairs show the steady state (the capture costs are in the
        # worker's log, and the cold-start benchmark's first job pays its own)
        speak_many(BATCH_TEXTS)
        for text in TEXTS.values():
            speak(text)
    serve_cases(lambda case: speak_many(BATCH_TEXTS) if case == "batch8" else speak(TEXTS[case]))


# -- the parent: runs each side, prints the table ----------------------------------------------


class SideFailed(RuntimeError):
    """One side of a benchmark cannot go on: its process ended, answered out of turn, or its
    compile never finished (the serve benchmark raises it too)."""


def worker_command(*args: str) -> list[str]:
    """This script in its worker mode (`--worker ...`): one side's process."""
    return [sys.executable, "-m", "benchmarks.engine", *args]


class Side:
    """One side's process (`command`), loaded once; `run(case)` asks it for one timed case."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name = name
        started = time.perf_counter()
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING"}
        self._errors = log.open("a")
        self._proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self._log = log
        self.dtype = self._expect("READY")["dtype"]
        self.ready = time.perf_counter() - started
        self._expect("WARM")

    def _expect(self, kind: str) -> dict:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            said, _, payload = line.partition(" ")
            if said in ("READY", "WARM", "RESULT"):
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
        if self._proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        self._proc.wait()
        self._errors.close()


def pair_stats(base: list[float], ours: list[float]) -> tuple[float, float, float]:
    """Median of the per-pair ratios base/ours, and their min and max."""
    ratios = [b / o for b, o in zip(base, ours, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def interleave(upstream: Side, other: Side, cases: list[str], repeats: int) -> dict[str, tuple[list, list]]:
    """Per case: upstream's and the other side's results, taken in alternating pairs."""
    out: dict[str, tuple[list, list]] = {case: ([], []) for case in cases}
    for _ in range(repeats):
        for case in cases:
            out[case][0].append(upstream.run(case))
            out[case][1].append(other.run(case))
    return out


Rows = list[tuple[str, Side, dict[str, tuple[list, list]]]]


def extra_rows(upstream: Side, extras: list[str], start: Callable[[str], Side], cases: list[str], repeats: int) -> Rows:
    """The opt-in rows, each side started by `start(extra)` and interleaved with upstream. An
    extra side that fails is left out with the reason: a GPU is lent for minutes, and an
    untried setting must not cost the default's figures, which the table prints at the end."""
    rows: Rows = []
    for extra in extras:
        try:
            side = start(extra)
        except SideFailed as exc:
            print(f"{exc}: left out")
            continue
        try:
            rows.append((side.name, side, interleave(upstream, side, cases, repeats)))
        except SideFailed as exc:
            print(f"{exc}: left out")
        finally:
            side.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/f5-tts-worker-bench"))
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument(
        "--extra",
        default="",
        help="extra rows: int8, compile, fp16, bf16, fp32, unpacked (plain nn.Linear on a CPU), "
        "sdpa (torch's fused attention on a CPU); "
        "comma list, '+' combines (fp32+unpacked)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="upstream/engine pairs per case")
    parser.add_argument("--extra-cases", default="sentence", help="cases for the extra rows (time budget)")
    parser.add_argument("--worker", choices=("upstream", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--cases", default="sentence,paragraph", help="sentence, paragraph, batch8 (8 requests)")
    parser.add_argument("--dtype", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--unpacked", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sdpa", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if args.worker:
        settings = ensure_files(args.checkpoint_dir)
        if args.worker == "upstream":
            import torch

            run_upstream(settings, args.nfe, args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        else:
            run_engine(settings, args.nfe, args.device, args.dtype, args.compile, args.unpacked, args.sdpa)
        return

    import torch

    from adapters.precision import DTYPES, has_native_bf16, processor_name, read_cpu_flags
    from benchmarks import host

    settings = ensure_files(args.checkpoint_dir)
    on_cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    processor = torch.cuda.get_device_name() if on_cuda else processor_name()
    flags = read_cpu_flags()
    print(f"processor: {processor} ({os.cpu_count()} cores visible, torch threads {torch.get_num_threads()})")
    print(f"cpu native bf16 (amx_bf16/avx512_bf16): {'yes' if has_native_bf16(flags) else 'no'}")
    if not on_cuda:
        print(host.describe())
    print(
        f"checkpoint: F5TTS_v1_Base sizes, random weights; nfe_step={args.nfe}; cases: "
        + ", ".join(f"{c} ({len(TEXTS[c])} chars)" if c in TEXTS else f"{c} (8 sentences)" for c in cases)
    )
    log = args.checkpoint_dir / "bench-stderr.log"
    common = ["--checkpoint-dir", str(args.checkpoint_dir), "--nfe", str(args.nfe)]
    if args.device:
        common += ["--device", args.device]
    print(f"interleaved: {args.repeats} upstream/engine pairs per case; ratio = median of per-pair ratios [min-max]")

    upstream = Side("upstream F5TTS.infer", worker_command(*common, "--worker", "upstream"), log)
    engine = Side("engine (default)", worker_command(*common, "--worker", "engine"), log)
    rows: Rows = [("engine (default)", engine, interleave(upstream, engine, cases, args.repeats))]
    engine.close()

    def start(extra: str) -> Side:
        flags_ = [
            flag for part in extra.split("+") for flag in (["--dtype", part] if part in DTYPES else [f"--{part}"])
        ]
        return Side(f"engine ({extra})", worker_command(*common, "--worker", "engine", *flags_), log)

    extras = [e for e in args.extra.split(",") if e]
    rows += extra_rows(upstream, extras, start, [c for c in args.extra_cases.split(",") if c], args.repeats)
    upstream.close()

    header = (
        f"{'case':<10} {'side':<26} {'dtype':<14} {'wall s':>8} {'audio s':>8} {'RTF':>7} "
        f"{'speedup':>8} {'[min-max]':>13}"
    )
    print(header)
    print("-" * len(header))
    speedups: dict[str, float] = {}
    for name, side, results in rows:
        for case, (base, ours) in results.items():
            base_wall, our_wall = [r["wall"] for r in base], [r["wall"] for r in ours]
            ratio, low, high = pair_stats(base_wall, our_wall)
            audio = ours[0]["audio"]
            for label, dtype, walls, shown in (
                ("upstream F5TTS.infer", upstream.dtype, base_wall, None),
                (name, side.dtype, our_wall, (ratio, low, high)),
            ):
                wall = statistics.median(walls)
                spread = f"{shown[0]:>7.2f}x {shown[1]:>5.2f}-{shown[2]:<5.2f}" if shown else f"{'1.00x':>8}"
                print(f"{case:<10} {label:<26} {dtype:<14} {wall:>8.2f} {audio:>8.2f} {wall / audio:>7.3f} {spread}")
            if side is engine:
                speedups[case] = ratio
    print()
    print(f"ready (process start -> model loaded)  {upstream.name:<26} {upstream.dtype:<14} {upstream.ready:>6.2f} s")
    for name, side, _ in rows:
        print(f"ready (process start -> model loaded)  {name:<26} {side.dtype:<14} {side.ready:>6.2f} s")
    key = "paragraph" if "paragraph" in speedups else cases[-1]
    print(f"speedup_vs_upstream: {speedups[key]:.2f}")


if __name__ == "__main__":
    main()
