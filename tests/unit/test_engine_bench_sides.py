"""The engine benchmark's sides (serve's `Sides`): an extra side whose worker never serves (the
compiled engine on a GPU it never ran on, say) or dies mid-run is left out with the reason,
and the default's rows still reach the table; the default side failing ends the run."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from benchmarks.engine import boot, run_case
from benchmarks.serve import Sides, interleave
from harness.audio import audio_file


def stand_in(side: str, case: str) -> dict:
    return {"case": case, "wall": 1.0, "audio": 5.7, "audio_per_wall": 5.7}


def test_a_side_whose_worker_exits_before_it_serves_is_left_out_or_ends_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sides = Sides(["int8"])
    with contextlib.ExitStack() as stack:
        start = lambda: boot(stack, {}, tmp_path / "side.log", "benchmarks.no_such_worker", nfe=4)  # noqa: E731
        assert sides.attempt("int8", "to start", start) is None
        assert "variant int8 failed to start, left out" in capsys.readouterr().out
        assert list(sides.rows) == ["upstream", "worker"]
        with pytest.raises(RuntimeError, match=r"(?s)exited with 1.*No module named"):
            sides.attempt("worker", "to start", start)
    assert "No module named" in (tmp_path / "side.log").read_text()


def test_a_side_times_its_cases_and_is_left_out_once_its_worker_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(audio_file(3.0))
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}/store", "REF_WAV": str(ref), "LOG_LEVEL": "WARNING"}
    with contextlib.ExitStack() as stack:
        side = boot(stack, env, tmp_path / "side.log", "entrypoints.runpod_handler", nfe=4)
        assert side["ready"] > 0 and side["dtype"]
        result = run_case(side["worker"], "batch8", nfe=4)  # eight jobs at once, each in the uploaded voice
        assert result["case"] == "batch8" and result["wall"] > 0 and result["audio"] > 0

        def level(name: str, case: str) -> dict:
            if case == "paragraph" and name == "fake":
                os.kill(side["worker"].pid, signal.SIGKILL)
            return run_case(side["worker"], case, nfe=4) if name == "fake" else stand_in(name, case)

        sides = Sides(["fake"])
        interleave(sides, ["sentence", "paragraph"], repeats=2, level=level)
    assert "variant fake failed at paragraph, left out: ConnectionError" in capsys.readouterr().out
    assert list(sides.rows) == ["upstream", "worker"]
    assert [(r["repeat"], r["case"]) for r in sides.rows["worker"]] == [
        (repeat, case) for repeat in (0, 1) for case in ("sentence", "paragraph")
    ]
