"""The folder store's retention sweep: old outputs go, voices and everything else stay."""

from __future__ import annotations

import os

import pytest

from adapters.output_sweeper import FolderOutputSweeper
from entrypoints.service import WorkerService
from settings import SettingsError, parse_duration

DAY = 86400.0
NOW = 1_800_000_000.0


def _file(path, age: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (NOW - age, NOW - age))


def test_only_outputs_older_than_the_retention_are_removed(tmp_path):
    _file(tmp_path / "outputs/old.wav", 2 * DAY)
    _file(tmp_path / "outputs/new.mp3", 60)
    _file(tmp_path / "voices/anna.wav", 30 * DAY)
    _file(tmp_path / "voices/anna.json", 30 * DAY)
    _file(tmp_path / "outputs/nested/deep.wav", 2 * DAY)
    (tmp_path / "outputs/link.wav").symlink_to(tmp_path / "voices/anna.wav")
    sweeper = FolderOutputSweeper(str(tmp_path), retention=DAY, clock=lambda: NOW)
    assert sweeper.sweep() == 1
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_dir())
    assert left == ["outputs/link.wav", "outputs/nested/deep.wav", "outputs/new.mp3", "voices/anna.json",
                    "voices/anna.wav"]  # fmt: skip


def test_sweeps_start_in_the_background_at_most_once_per_interval(tmp_path):
    now = [NOW]
    sweeper = FolderOutputSweeper(str(tmp_path), retention=DAY, every=600, clock=lambda: now[0])
    _file(tmp_path / "outputs/a.wav", 2 * DAY)
    assert sweeper() is None  # not in the first interval after start
    now[0] += 601
    first = sweeper()
    assert first is not None
    first.join()
    assert not (tmp_path / "outputs/a.wav").exists()
    _file(tmp_path / "outputs/b.wav", 2 * DAY)
    assert sweeper() is None  # within the interval: nothing started
    now[0] += 601
    later = sweeper()
    assert later is not None
    later.join()
    assert not (tmp_path / "outputs/b.wav").exists()


def test_a_store_without_outputs_is_fine(tmp_path):
    assert FolderOutputSweeper(str(tmp_path), retention=DAY).sweep() == 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("3600", 3600), ("90s", 90), ("30m", 1800), ("24h", DAY), ("7d", 7 * DAY)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", "24 hours", "1w"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_a_url_job_on_a_folder_store_starts_the_sweep_and_base64_jobs_do_not(tmp_path):
    from tests.helpers import make_test_container

    started: list[str] = []
    container = make_test_container(f"file://{tmp_path}/store", output_sweeper=lambda: started.append("sweep"))
    service = WorkerService(container.app())
    assert "error" not in service.handle({"text": "Keep this.", "return": "base64"})
    assert started == []
    assert "error" not in service.handle({"text": "Store this."})
    assert started == ["sweep"]


def test_only_a_folder_store_gets_a_sweeper(tmp_path):
    from container import build_container

    folder = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}", "OUTPUT_RETENTION": "2h"})
    assert isinstance(folder.output_sweeper(), FolderOutputSweeper)
    assert build_container({"TTS_ENGINE": "fake", "STORAGE_URL": "memory://x"}).output_sweeper() is None
    off = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}", "OUTPUT_RETENTION": "0"})
    assert off.output_sweeper() is None
    with pytest.raises(SettingsError, match="OUTPUT_RETENTION"):
        build_container({"TTS_ENGINE": "fake", "OUTPUT_RETENTION": "soon"})
