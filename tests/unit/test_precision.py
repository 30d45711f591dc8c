"""The device/format choice, as a pure function of the CPU's flags (no hardware needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.f5.precision import choose_precision, has_native_bf16, read_cpu_flags
from domain.errors import EngineError

XEON_AMX = "fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"
XEON_AVX512_BF16 = "fpu sse2 avx2 avx512f avx512_bf16"
EPYC_AVX2 = "fpu sse2 avx2 fma bmi2"


@pytest.mark.parametrize(
    ("flags", "expected"), [(XEON_AMX, "bf16"), (XEON_AVX512_BF16, "bf16"), (EPYC_AVX2, "fp32"), ("", "fp32")]
)
def test_cpu_gets_bf16_only_with_native_units(flags: str, expected: str) -> None:
    assert choose_precision(device="cpu", cpu_flags=flags, requested=None).dtype == expected


def test_flag_names_must_match_whole_words() -> None:
    assert not has_native_bf16("avx512_bf16x amx_bf16_fake")


def test_cuda_prefers_bf16_where_the_gpu_has_it_whatever_the_cpu() -> None:
    assert (
        choose_precision(device="cuda", cpu_flags=EPYC_AVX2, requested=None, cuda_bf16_supported=True).dtype == "bf16"
    )
    assert choose_precision(device="cuda:1", cpu_flags=XEON_AMX, requested=None).dtype == "fp16"


@pytest.mark.parametrize("requested", ["fp32", "bf16", "int8"])
def test_request_overrides_the_cpu_choice(requested: str) -> None:
    chosen = choose_precision(device="cpu", cpu_flags=EPYC_AVX2, requested=requested)
    assert chosen.dtype == requested and "requested" in chosen.reason


@pytest.mark.parametrize(
    ("device", "requested", "bf16_ok"),
    [("cpu", "fp16", False), ("cuda", "int8", True), ("cuda", "bf16", False)],
)
def test_impossible_requests_are_refused(device: str, requested: str, bf16_ok: bool) -> None:
    with pytest.raises(EngineError):
        choose_precision(device=device, cpu_flags=XEON_AMX, requested=requested, cuda_bf16_supported=bf16_ok)


def test_reads_the_flags_line(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {XEON_AMX}\n\nprocessor\t: 1\n")
    assert read_cpu_flags(info) == XEON_AMX
    assert read_cpu_flags(tmp_path / "missing") == ""
