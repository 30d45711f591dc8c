"""Which device and number format the F5-TTS engine runs in, decided from the hardware.

The machines this worker runs on differ in ways that flip the right answer: on a Xeon with
AMX the DiT runs 2.3x faster in bf16 than in fp32, while on an AVX2-only EPYC bf16 is
emulated and 6x *slower*. So the choice is made from the CPU's flags (`amx_bf16`,
`avx512_bf16` in /proc/cpuinfo), never assumed. The decision is a pure function of those
flags so it can be unit-tested without the hardware.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from domain.errors import EngineError

#: flags that mean the CPU multiplies bf16 matrices natively (not by emulation)
NATIVE_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


@dataclass(frozen=True)
class Precision:
    """`dtype` is the DiT's format; `int8` means fp32 weights with dynamic int8 Linear layers."""

    device: str
    dtype: str
    reason: str


def has_native_bf16(cpu_flags: str) -> bool:
    return bool(NATIVE_BF16_FLAGS & set(cpu_flags.split()))


def has_amx(cpu_flags: str) -> bool:
    """AMX tiles: torch's CPU kernels (flash attention among them) switch to them where present."""
    return "amx_bf16" in cpu_flags.split()


def choose_precision(
    *, device: str, cpu_flags: str, requested: str | None, cuda_bf16_supported: bool = False
) -> Precision:
    """The DiT format for `device`: an explicit request wins (if the device can run it),
    otherwise bf16 on a GPU that has it (else fp16, upstream's GPU default), bf16 on a CPU
    with native bf16 units, fp32 on any other CPU."""
    if requested:
        if device.startswith("cuda") and requested == "int8":
            raise EngineError("TTS_DTYPE=int8 (dynamic int8 Linear layers) runs on the CPU only")
        if device.startswith("cuda") and requested == "bf16" and not cuda_bf16_supported:
            raise EngineError("TTS_DTYPE=bf16 asked for, but this GPU has no bf16 support")
        if device == "cpu" and requested == "fp16":
            raise EngineError("TTS_DTYPE=fp16 is not supported on the CPU; use fp32, bf16 or int8")
        return Precision(device, requested, "requested (TTS_DTYPE)")
    if device.startswith("cuda"):
        if cuda_bf16_supported:
            # measured on an H100 (benchmarks/results/engine-gpu.txt): bf16 ran 1.2-1.4x faster
            # than fp16 through this engine, and cannot overflow where fp16 can
            return Precision(device, "bf16", "CUDA with bf16 support: faster than fp16 here")
        return Precision(device, "fp16", "CUDA without bf16: fp16, upstream's GPU default")
    if has_native_bf16(cpu_flags):
        return Precision(device, "bf16", "CPU with native bf16 (AMX/AVX512-BF16)")
    return Precision(device, "fp32", "CPU without native bf16: bf16 would be emulated and slow")


def _cpuinfo(field: str, cpuinfo: Path) -> str | None:
    """The first processor's `field` (None where /proc/cpuinfo is absent, e.g. macOS)."""
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(field):
                return line.partition(":")[2].strip()
    return None


def read_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    return _cpuinfo("flags", cpuinfo) or ""


def processor_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    import platform

    return _cpuinfo("model name", cpuinfo) or platform.processor() or "unknown"
