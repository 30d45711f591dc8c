"""The CLI's commands: synth honours tags, segments and normalize like a job does; voices and
doctor go through the same App and field rules as every way in."""

from __future__ import annotations

import json
import threading

import pytest
import soundfile as sf

from adapters.packaged_voice import packaged_reference_path
from entrypoints.cli import main


def run(monkeypatch, capsys, tmp_path, *argv: str) -> dict:
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["synth", *argv, "--out", str(tmp_path / "out.wav")]) == 0
    return json.loads(capsys.readouterr().out)


def test_tags_are_resolved_and_numbers_read(monkeypatch, capsys, tmp_path):
    output = run(monkeypatch, capsys, tmp_path, "It is 10:30. [pause:500ms] Bye.", "--seed", "3")
    assert output["spoken_text"] == "It is ten thirty. Bye."
    pause = output["segments"][1]
    assert pause["voice"] is None and round(pause["end"] - pause["start"], 3) == 0.5
    assert round(sf.info(str(tmp_path / "out.wav")).duration, 3) == output["segments"][-1]["end"] == output["duration"]


def test_segments_and_no_normalize(monkeypatch, capsys, tmp_path):
    output = run(monkeypatch, capsys, tmp_path, "--segment", "default=Hi.", "--segment", "default=It is $5.",
                 "--no-normalize")  # fmt: skip
    assert output["spoken_text"] == "Hi. It is $5."
    assert [s["text"] for s in output["segments"]] == ["Hi.", "It is $5."]


def test_a_bad_tag_is_reported_and_exits_1(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["synth", "Hi [pause:99s]", "--out", str(tmp_path / "out.wav")]) == 1
    assert "invalid_input: text: bad tag '[pause:99s]' at position 3" in capsys.readouterr().err
    assert not (tmp_path / "out.wav").exists()


def test_the_readme_narrator_comes_from_the_clip_shipped_with_f5_tts(monkeypatch, capsys, tmp_path):
    """`voices upload narrator --example` needs no file of the reader's own, so the README's
    examples that name `narrator` run in order on a fresh install."""
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["voices", "upload", "narrator", "--example"]) == 0
    uploaded = json.loads(capsys.readouterr().out)["voice"]
    assert uploaded["name"] == "narrator" and uploaded["ref_text"].startswith("Some call me nature")
    output = run(monkeypatch, capsys, tmp_path, "Hi. [voice:narrator] Hello.")
    assert [s["voice"] for s in output["segments"] if s["voice"]] == ["default", "narrator"]
    assert main(["voices", "upload", "narrator"]) == 2  # neither a file nor --example


def test_language_reads_numbers_in_it(monkeypatch, capsys, tmp_path):
    output = run(monkeypatch, capsys, tmp_path, "Il a 21 ans.", "--language", "fr")
    assert output["spoken_text"] == "Il a vingt et un ans."


def test_an_unknown_model_is_reported_and_exits_1(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["synth", "Hi", "--model", "tts-9", "--out", str(tmp_path / "out.wav")]) == 1
    assert "invalid_input: unknown model 'tts-9'" in capsys.readouterr().err


def test_voices_are_uploaded_from_a_file_listed_and_deleted(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    clip = packaged_reference_path()
    assert main(["voices", "upload", "anna", str(clip), "--ref-text", "Some call me nature.", "--language", "fr"]) == 0
    uploaded = json.loads(capsys.readouterr().out)
    assert (uploaded["voice"]["name"], uploaded["voice"]["language"], uploaded["status"]) == ("anna", "fr", "completed")
    assert main(["voices", "list"]) == 0
    assert "anna" in [voice["name"] for voice in json.loads(capsys.readouterr().out)["voices"]]
    assert main(["voices", "delete", "anna.wav"]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": "anna", "status": "completed"}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["voices", "upload", "anna", "/no/such/file.wav"], "invalid_input: cannot read /no/such/file.wav"),
        (["voices", "upload", "anna", "http://[::1"], "invalid_input: voice_file_url is not a valid URL"),
        (["voices", "upload", "../anna", "--example"], "invalid_input: voice name must be"),
        (["voices", "delete", "nobody"], "voice_not_found"),
        (["synth", "Hi", "--seed", "-1"], "invalid_input: 'seed': Input should be greater than or equal to 0"),
    ],
)
def test_a_refused_command_says_why_and_exits_1(monkeypatch, capsys, tmp_path, argv, needle):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert needle in capsys.readouterr().err


def test_doctor_checks_the_store_the_engine_the_aligner_and_the_default_voice(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"engine=fake store=file://{tmp_path}/store"
    checks = {" ".join(line.split()[1:3]): line for line in lines[1:]}
    assert all(line.startswith("ok") for line in lines[1:])
    assert {"store configured", "store write", "store read", "engine loaded", "aligner loaded"} <= set(checks)
    assert "fake-engine-v1" in checks["engine loaded"] and "default voice" in checks
    assert main(["doctor", "--skip-engine"]) == 0
    skipped = capsys.readouterr().out
    assert "engine loaded" not in skipped and "aligner weights" in skipped


def test_doctor_fails_on_a_store_it_cannot_write(monkeypatch, capsys, tmp_path):
    (tmp_path / "store").write_bytes(b"a file where the store's folder should be")
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    assert main(["doctor", "--skip-engine"]) == 1
    assert "\nFAIL store " in capsys.readouterr().out
    assert "micro-batcher" not in [thread.name for thread in threading.enumerate()]  # the half-built App's
