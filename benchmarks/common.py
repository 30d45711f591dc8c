"""What every benchmark shares. The checkpoint has real sizes and random weights: they cost what trained ones
cost. The host line: hosts that all call themselves "AMD EPYC" multiply bf16 at 400 or 1,000 GFLOP/s, and this
worker's side of a CPU ratio moves with that rate far more than upstream's.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT_DIR = Path("/tmp/f5-tts-worker-bench")
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
#: eight independent one-sentence requests (the "batch8" case and serve's load)
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
# one DiT Linear (1024 -> its feed-forward's 2048) over a guided sentence's 2 x 760 frames: most of a CPU forward
ROWS, IN_FEATURES, OUT_FEATURES = 1520, 1024, 2048


class SideFailed(RuntimeError):
    """A side cannot go on (its worker exited, failed a job, or never finished compiling)."""


def stub_absent_modules() -> None:
    """Stand-ins for modules the GPU image lacks and neither measured path calls: librosa (BigVGAN's mel filterbank),
    matplotlib, cached_path (hub downloads); installed ones are kept, but never transformers (upstream's Whisper)."""
    import importlib.machinery
    import types

    def unused(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stubbed for the benchmark: not on the measured path")

    stubbed: set[str] = set()
    for name, attrs in {"librosa": {}, "librosa.filters": {"mel": unused}, "matplotlib": {"use": lambda *a, **k: None},
                        "matplotlib.pylab": {}, "cached_path": {"cached_path": unused},
                        "transformers": {"pipeline": unused}}.items():  # fmt: skip
        top, _, child = name.partition(".")
        if name in sys.modules or (top not in stubbed and top != "transformers" and importlib.util.find_spec(top)):
            continue  # there already, or installed (a child only with its stood-in parent)
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=not child)
        module.__dict__.update(attrs, __path__=[])
        sys.modules[name] = module
        stubbed.add(name)
        if child:
            setattr(sys.modules[top], child, module)


def ensure_files(out: Path = CHECKPOINT_DIR, size: str = "base") -> dict[str, str]:
    """The checkpoint of `size` (base or tiny) and a 4 s voiced reference wav in `out`,
    written on first use and reused; their settings, plus REF_WAV."""
    import numpy as np
    import soundfile as sf

    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / "settings.env"
    if not settings_file.exists():
        stub_absent_modules()  # in this process (not the script's CLI), so the stand-ins apply to it too
        written = runpy.run_path(str(ROOT / "scripts" / "make_tiny_checkpoint.py"))["write"](out, size, 0)
        settings_file.write_text("".join(f"{key}={value}\n" for key, value in written.items()))
    settings = dict(line.split("=", 1) for line in settings_file.read_text().splitlines() if "=" in line)
    ref = out / "ref.wav"
    if not ref.exists():  # speech-like: a gliding pitch, syllable-rate envelope, short pauses
        t = np.arange(4 * 24000) / 24000
        phase = 2 * np.pi * np.cumsum(130 + 20 * np.sin(2 * np.pi * 0.5 * t)) / 24000
        envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
        envelope[(t % 1.3) > 1.1] = 0.0
        voice = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
        sf.write(ref, (0.2 * voice * envelope).astype(np.float32), 24000, subtype="PCM_16")
    return {**settings, "REF_WAV": str(ref)}


def pair_stats(base: list[float], ours: list[float]) -> tuple[float, float, float]:
    """Median of the per-pair ratios base/ours, and their min and max: sides run in
    alternating pairs, so a shared machine's drift (up to 1.5x within the hour) hits both."""
    ratios = [b / o for b, o in zip(base, ours, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def time_call(fn: Callable[[], object], min_seconds: float = 1.0) -> float:
    """Median seconds per call after two warm-up calls (compiles, graph captures): torch's Timer,
    blocks of calls for at least `min_seconds`, each timed to its kernels' end on a GPU."""
    from torch.utils import benchmark

    fn()
    fn()
    return benchmark.Timer("fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_seconds).median


def print_rows(columns: list[tuple[str, str, str]], rows: list[dict]) -> None:
    """`rows` under a header, one column per (heading, key, format spec: `%` for a share): the
    layout every benchmark's table shares. A missing value shows as nan."""
    header = " ".join(f"{name:{spec[0] if spec[0] in '<>' else '>'}{spec.strip('<>').split('.')[0]}}"
                      for name, _, spec in columns)  # fmt: skip
    print(f"{header}\n{'-' * len(header)}")
    for row in rows:
        print(" ".join(format(float("nan") if row.get(key) is None else row[key], spec) for _, key, spec in columns))


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first processor's "family F model M", "" where not stated (a hypervisor often masks
    the model name to "AMD EPYC"; these still tell one generation from the next)."""
    with contextlib.suppress(OSError):
        first = cpuinfo.read_text().split("\n\n")[0]  # the first processor's block
        fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}
        if {"cpu family", "model"} <= fields.keys():
            return f"family {fields['cpu family']} model {fields['model']}"
    return ""


def linear_gflops(dtype, packed: bool) -> float:
    """GFLOP/s of one DiT-sized Linear, oneDNN-packed as the worker runs it or plain as upstream does."""
    import torch

    from adapters.f5.cpu_linear import PackedLinear

    torch.manual_seed(0)
    linear = torch.nn.Linear(IN_FEATURES, OUT_FEATURES, dtype=dtype)
    layer = PackedLinear(linear) if packed else linear
    x = torch.randn(ROWS, IN_FEATURES).to(dtype)
    with torch.inference_mode():
        seconds = time_call(lambda: layer(x), min_seconds=0.3)
    return 2 * ROWS * IN_FEATURES * OUT_FEATURES / seconds / 1e9


def describe(on_cuda: bool | None = None) -> str:
    """The header of a result: the device (CUDA where torch sees one, unless told), and on a CPU its
    family and model, native bf16 or not, and one DiT Linear's rate as each side runs it (about a second)."""
    import torch

    from adapters.f5.cpu_linear import packing_works
    from adapters.f5.precision import has_native_bf16, processor_name, read_cpu_flags

    line = f"torch {torch.__version__}, {os.cpu_count()} cores visible, torch threads {torch.get_num_threads()}"
    if on_cuda or (on_cuda is None and torch.cuda.is_available()):
        return f"device: {torch.cuda.get_device_name()}; {line}"
    model = cpu_model()
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    rates = [f"{name} packed {linear_gflops(t, True):.0f}" for name, t in dtypes.items() if packing_works(t)]
    rates.append(f"fp32 plain {linear_gflops(torch.float32, packed=False):.0f}")
    bf16 = "yes" if has_native_bf16(read_cpu_flags()) else "no"
    return (
        f"host: {processor_name()}{f' ({model})' if model else ''}; native bf16: {bf16}; {line}\n"
        f"host: one DiT Linear ({ROWS}x{IN_FEATURES} -> {OUT_FEATURES}), GFLOP/s: {', '.join(rates)}"
    )
