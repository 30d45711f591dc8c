"""The engine benchmark's sides: an opt-in row whose process fails (the compiled engine on a GPU
it never ran on, say) is left out with the reason, and the default's rows still reach the table;
a side that dies, answers out of turn or is gone raises SideFailed rather than hanging or
asserting."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.engine import Side, SideFailed, extra_rows


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


READY = 'import sys, json, time\ntime.sleep(0.2)\nprint("READY " + json.dumps({"dtype": "bf16"}), flush=True)\n'


def script_side(tmp_path: Path, body: str) -> Side:
    """A Side whose process is a small script (ready at once) in place of the benchmark's worker."""
    script = tmp_path / "side.py"
    script.write_text(READY + body)
    return Side("engine (stand-in)", [sys.executable, str(script)], tmp_path / "side.log")


def test_a_side_whose_process_dies_raises_side_failed(tmp_path: Path) -> None:
    side = script_side(tmp_path, "sys.stdin.readline()\nsys.exit(3)\n")
    assert side.dtype == "bf16" and side.ready >= 0.2  # counted until the side said READY
    with pytest.raises(SideFailed, match="engine \\(stand-in\\) failed"):
        side.run("sentence")
    side.close()


def test_a_side_that_fails_to_start_raises_side_failed(tmp_path: Path) -> None:
    script = tmp_path / "side.py"
    script.write_text("raise SystemExit('no CUDA')\n")
    with pytest.raises(SideFailed, match="failed; see"):
        Side("engine (compile)", [sys.executable, str(script)], tmp_path / "side.log")
    assert "no CUDA" in (tmp_path / "side.log").read_text()


def test_a_side_that_answers_out_of_turn_raises_side_failed(tmp_path: Path) -> None:
    side = script_side(tmp_path, 'sys.stdin.readline()\nprint("READY {}", flush=True)\nsys.stdin.readline()\n')
    with pytest.raises(SideFailed, match="said READY for RESULT"):
        side.run("sentence")
    side.close()


def test_a_side_answering_another_case_raises_side_failed(tmp_path: Path) -> None:
    answer = 'print("RESULT " + json.dumps({"case": "batch8"}), flush=True)\n'
    side = script_side(tmp_path, "sys.stdin.readline()\n" + answer + "sys.stdin.readline()\n")
    with pytest.raises(SideFailed, match="answered batch8 for sentence"):
        side.run("sentence")
    side.close()
