"""runpod is imported without py-cpuinfo's subprocess probe, and the probe is put back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from entrypoints.runpod_import import processor_name

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import cpuinfo
probe = cpuinfo.get_cpu_info
calls = []
cpuinfo.get_cpu_info = lambda: calls.append(1) or probe()
wrapped = cpuinfo.get_cpu_info
from entrypoints.runpod_import import import_runpod, processor_name
import_runpod()
from runpod.serverless.utils import rp_debugger
assert calls == [], "the subprocess probe ran"
assert rp_debugger.PROCESSOR == processor_name(), rp_debugger.PROCESSOR
assert cpuinfo.get_cpu_info is wrapped, "the probe was not put back"
print("ok")
"""


def test_runpod_imports_without_the_probe_and_the_probe_is_put_back() -> None:
    # a fresh interpreter: this one may have imported runpod already
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_processor_name_reads_the_model_name_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert processor_name(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"
    assert processor_name(tmp_path / "missing") == "unknown"
