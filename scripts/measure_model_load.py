"""Load time and memory of one F5 checkpoint on this machine, as the worker loads it.

    python scripts/make_tiny_checkpoint.py OUT --size base --arch v0
    python scripts/measure_model_load.py OUT --model F5TTS_Base [--dtype fp32]

`--model` is what make_tiny_checkpoint printed as F5_MODEL (default: a yaml in OUT, else
F5TTS_v1_Base). Prints one JSON line: parameters, their size in bf16 (what a GPU holds per
model), the seconds `build_f5_engine` took and the resident memory it added. Random weights
cost the same to load as trained ones, so the figures hold for released checkpoints of the
same architecture. Run one fresh process per checkpoint: memory is measured as growth.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint_dir", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--dtype", default="fp32")
    args = parser.parse_args(argv)
    from safetensors import safe_open

    from adapters.f5.engine import build_f5_engine
    from container import engine_config
    from settings import load_settings

    out = args.checkpoint_dir.resolve()
    model = args.model or str(next(out.glob("*.yaml"), "F5TTS_v1_Base"))
    checkpoint = out / "model_random.safetensors"
    with safe_open(str(checkpoint), "pt") as tensors:
        parameters = sum(math.prod(tensors.get_slice(key).get_shape()) for key in tensors.keys())  # noqa: SIM118
    before, started = _rss_mib(), time.perf_counter()
    build_f5_engine(engine_config(load_settings({"F5_MODEL": model, "F5_CKPT_FILE": str(checkpoint),
        "F5_VOCAB_FILE": str(out / "vocab.txt"), "VOCODER_PATH": str(out / "vocos"), "TTS_DTYPE": args.dtype,
        "TTS_DEVICE": "cpu"})))  # fmt: skip
    seconds = time.perf_counter() - started
    print(json.dumps({
        "model": Path(model).stem, "parameters": parameters, "bf16_mib": round(parameters * 2 / 2**20),
        "dtype": args.dtype, "load_seconds": round(seconds, 2), "rss_added_mib": round(_rss_mib() - before),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
