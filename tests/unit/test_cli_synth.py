"""The CLI's synth command honours tags, segments and normalize like a job does."""

from __future__ import annotations

import json

import soundfile as sf

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
