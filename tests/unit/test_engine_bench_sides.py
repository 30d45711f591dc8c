"""The engine benchmark's sides: an opt-in row whose worker fails (the compiled engine on a GPU
it never ran on, say) is left out with the reason, and the default's rows still reach the table;
a side whose worker never serves, or dies, raises SideFailed rather than hanging or asserting."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from benchmarks.engine import Side, SideFailed, extra_rows
from harness.audio import audio_file


class StandIn:
    """Duck-types Side: `run(case)` answers a timed result, or fails at `fail_at`."""

    def __init__(self, name: str, fail_at: str | None = None) -> None:
        self.name = name
        self.dtype = "bf16"
        self.ready = 1.0
        self.closed = False
        self._fail_at = fail_at

    def run(self, case: str) -> dict:
        if case == self._fail_at:
            raise SideFailed(f"benchmark side {self.name} failed; see bench-stderr.log")
        return {"case": case, "wall": 1.0, "audio": 5.7}

    def close(self) -> None:
        self.closed = True


def test_an_extra_side_that_fails_is_left_out_and_the_others_stay(capsys: pytest.CaptureFixture) -> None:
    started: dict[str, StandIn] = {}

    def start(extra: str) -> Side:
        if extra == "int8":
            raise SideFailed("benchmark side engine (int8) failed; see bench-stderr.log")
        started[extra] = StandIn(f"engine ({extra})", fail_at="batch8" if extra == "compile" else None)
        return started[extra]  # type: ignore[return-value]

    upstream = StandIn("upstream F5TTS.infer")
    rows = extra_rows(upstream, ["int8", "compile", "fp32"], start, ["sentence", "batch8"], repeats=2)  # type: ignore[arg-type]
    assert [side.name for side, _ in rows] == ["engine (fp32)"]
    _, results = rows[0]
    assert {case: (len(base), len(ours)) for case, (base, ours, _) in results.items()} == {
        "sentence": (2, 2),
        "batch8": (2, 2),
    }
    out = capsys.readouterr().out
    assert "engine (int8) failed; see bench-stderr.log: left out" in out
    assert "engine (compile) failed; see bench-stderr.log: left out" in out
    assert started["compile"].closed and started["fp32"].closed  # each started process is ended


def test_a_side_whose_worker_exits_before_it_serves_raises_side_failed(tmp_path: Path) -> None:
    with pytest.raises(SideFailed, match=r"(?s)side worker \(compile\) failed: .*No module named.*; see .*side.log"):
        Side("worker (compile)", {}, tmp_path / "side.log", "benchmarks.no_such_worker", nfe=4)
    assert "No module named" in (tmp_path / "side.log").read_text()


def test_a_side_times_its_cases_and_raises_side_failed_once_its_worker_is_gone(tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(audio_file(3.0))
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}/store", "REF_WAV": str(ref), "LOG_LEVEL": "WARNING"}
    side = Side("worker (fake)", env, tmp_path / "side.log", "entrypoints.runpod_handler", nfe=4)
    try:
        assert side.ready > 0 and side.dtype
        result = side.run("batch8")  # eight jobs at once, each in the uploaded voice
        assert result["case"] == "batch8" and result["wall"] > 0 and result["audio"] > 0
        os.kill(side.worker.pid, signal.SIGKILL)
        with pytest.raises(SideFailed, match=r"worker \(fake\) failed at sentence"):
            side.run("sentence")
    finally:
        side.close()
