"""runpod is imported without py-cpuinfo's subprocess probe, by every way a process of the
app imports it, and the probe is put back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import cpuinfo
import pytest

from adapters.f5.precision import processor_name
from adapters.runpod_import import import_runpod

ROOT = Path(__file__).resolve().parents[2]

WRAP = """
import cpuinfo
probe = cpuinfo.get_cpu_info
calls = []
cpuinfo.get_cpu_info = lambda: calls.append(1) or probe()
wrapped = cpuinfo.get_cpu_info
"""
CHECK = """
from runpod.serverless.utils import rp_debugger
from adapters.f5.precision import processor_name
assert calls == [], "the subprocess probe ran"
assert rp_debugger.PROCESSOR == processor_name(), rp_debugger.PROCESSOR
assert cpuinfo.get_cpu_info is wrapped, "the probe was not put back"
print("ok")
"""
WAYS_IN = {
    # every App's: the voice fetcher imports runpod's SSRF guard at its first download, not at
    # start-up (the CLI, the servers, the tests' apps); a loopback URL is refused before any packet
    "download": (
        "import sys\n"
        "from application.bootstrap import bootstrap\n"
        "app = bootstrap()\n"
        "assert 'runpod' not in sys.modules, 'the App imported runpod before any download'\n"
        "from adapters.http_fetcher import HttpFetcher\n"
        "from domain.errors import DownloadFailed\n"
        "try:\n"
        "    HttpFetcher().fetch('http://127.0.0.1:9/voice.wav')\n"
        "    raise AssertionError('a loopback URL was fetched')\n"
        "except DownloadFailed as refused:\n"
        "    assert 'non-public address' in str(refused), refused\n"
        "app.shutdown()\n"
    ),
    # the RunPod worker's: in a thread, while its start-up builds the App beside it
    "worker": (
        "from container import import_runpod_in_background\n"
        "background = import_runpod_in_background()\n"
        "from application.bootstrap import bootstrap\n"
        "bootstrap().shutdown()\n"
        "background.join()"
    ),
}


@pytest.mark.parametrize("way_in", sorted(WAYS_IN))
def test_runpod_imports_without_the_probe_and_the_probe_is_put_back(way_in: str, tmp_path: Path) -> None:
    # a fresh interpreter: this one may have imported runpod already
    env = {**os.environ, "TTS_ENGINE": "fake", "STORAGE_URL": str(tmp_path / "store")}
    env.pop("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS", None)
    script = WRAP + WAYS_IN[way_in] + CHECK
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_two_imports_at_once_put_the_probe_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's background import and the fetcher's can overlap: the second must not
    save the first's stand-in as the probe it puts back."""
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(0.5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = cpuinfo.get_cpu_info
    first = threading.Thread(target=import_runpod, args=("slow_to_import",))
    first.start()
    while cpuinfo.get_cpu_info is probe and first.is_alive():  # until the first has stood in for it
        pass
    import_runpod("slow_to_import")
    first.join()
    assert cpuinfo.get_cpu_info is probe


def test_processor_name_reads_the_model_name_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert processor_name(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"
    assert processor_name(tmp_path / "missing") == "unknown"
