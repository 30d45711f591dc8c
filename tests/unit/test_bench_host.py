"""The benchmarks' host line on a CPU: the processor's family and model (what tells two hosts
that both call themselves "AMD EPYC" apart) and one DiT Linear's rate as each side runs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from adapters.f5.cpu_linear import packing_works
from benchmarks import common as host

TWO_PROCESSORS = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
"""


def test_the_family_and_model_are_the_first_processors(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(TWO_PROCESSORS)
    assert host.cpu_model(cpuinfo) == "family 25 model 17"


@pytest.mark.parametrize(
    "text",
    [
        "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n",  # an arm64 host
        "processor\t: 0\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\ncpu family\t: 25\nmodel\t\t: 17\n",
    ],
)
def test_a_host_that_states_no_family_and_model_for_its_first_processor_gets_none(tmp_path: Path, text: str) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert host.cpu_model(cpuinfo) == ""
    assert host.cpu_model(tmp_path / "missing") == ""


def test_the_line_names_the_processor_and_each_sides_linear_rate() -> None:
    line = host.describe(on_cuda=False)
    rates = dict(re.findall(r"(bf16 packed|fp32 packed|fp32 plain) (\d+)", line))
    expected = {"fp32 plain"} | {
        f"{name} packed" for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)) if packing_works(dtype)
    }
    assert set(rates) == expected, line
    assert all(int(rate) > 0 for rate in rates.values()), line
    assert line.startswith("host: ") and "GFLOP/s" in line
    model = host.cpu_model()
    assert (f"({model})" in line) if model else ("family" not in line), line
