"""Which CPU host a benchmark ran on, and what its matrix units gave that hour.

The CPU bars are ratios against upstream, and upstream serves in fp32 while this worker
serves in bf16 on a CPU with native bf16. Hosts that report the same processor name
("AMD EPYC", 2 cores) differ in how fast they multiply bf16 (result files of 2026-11 record
about 1,000 GFLOP/s for the packed bf16 Linears; on 2026-12-07 they ran at 410, upstream's
plain fp32 ones at 160), and the worker's side of every ratio moves with that rate far more
than upstream's. A result that states the host's CPU family and model and both rates can be
read against one taken on another host; one without them cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from adapters.cpu_linear import PackedLinear, packing_works
from adapters.precision import processor_name
from benchmarks.ceiling import time_call

# one Linear of the DiT (dim 1024 -> its feed-forward's 2048) over a guided sentence's
# 2 x 760 frames: the multiply that most of a CPU forward's time goes to
ROWS, IN_FEATURES, OUT_FEATURES = 1520, 1024, 2048


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first processor's "family F model M" from /proc/cpuinfo, "" where not stated: a
    hypervisor often masks the model name to "AMD EPYC", and these still tell one
    generation from the next."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text().splitlines():
            if not line.strip():  # the first processor's block ends here
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return ""
    if "cpu family" not in fields or "model" not in fields:
        return ""
    return f"family {fields['cpu family']} model {fields['model']}"


def linear_gflops(dtype: torch.dtype, packed: bool, rows: int = ROWS, repeats: int = 10) -> float:
    """GFLOP/s of one DiT-sized Linear in `dtype`, oneDNN-packed as the worker runs it on a
    CPU or plain as upstream does (the median of `repeats` calls, see `time_call`)."""
    torch.manual_seed(0)
    linear = nn.Linear(IN_FEATURES, OUT_FEATURES, dtype=dtype)
    layer: Callable[[torch.Tensor], torch.Tensor] = PackedLinear(linear) if packed else linear
    x = torch.randn(rows, IN_FEATURES).to(dtype)
    with torch.inference_mode():
        seconds = time_call(lambda: layer(x), torch.device("cpu"), repeats)
    return 2 * rows * IN_FEATURES * OUT_FEATURES / seconds / 1e9


def describe() -> str:
    """One line for a CPU benchmark's header: the processor, its family and model, and one
    DiT Linear's rate as each side runs it, measured now (about a second): the worker's
    packed bf16 and fp32 (where this torch packs them) and upstream's plain fp32."""
    model = cpu_model()
    rates = [
        f"{name} packed {linear_gflops(dtype, packed=True):.0f}"
        for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32))
        if packing_works(dtype)
    ]
    rates.append(f"fp32 plain {linear_gflops(torch.float32, packed=False):.0f}")
    return (
        f"host: {processor_name()}{f' ({model})' if model else ''}; one DiT Linear "
        f"({ROWS}x{IN_FEATURES} -> {OUT_FEATURES}), GFLOP/s: {', '.join(rates)}"
    )
