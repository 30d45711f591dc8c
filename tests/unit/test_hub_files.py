"""Model files named as f5-tts's list of shared checkpoints names them (`hf://owner/repo/file`)
are fetched from the hub where that is allowed, like the default model's; local paths are
read as given. No test reaches the hub: the download function is the seam."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest

from adapters.f5.loading import EngineStartupError, hub_or_local
from adapters.fake_engine import FakeEngine
from adapters.model_registry import LruModelRegistry, ModelSpec


def test_a_local_path_is_read_as_given_and_a_missing_one_names_the_variable(tmp_path: Path) -> None:
    present = tmp_path / "model.pt"
    present.write_bytes(b"weights")
    assert hub_or_local(str(present), "checkpoint", "TTS_MODELS") == present
    with pytest.raises(EngineStartupError, match=r"absent\.pt does not exist \(from TTS_MODELS\)"):
        hub_or_local(str(tmp_path / "absent.pt"), "checkpoint", "TTS_MODELS")


def test_an_hf_path_downloads_that_file_of_that_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    fetched = tmp_path / "model_last_reduced.pt"
    fetched.write_bytes(b"weights")
    asked: list[tuple[str, str]] = []

    def download(repo_id: str, filename: str) -> str:
        asked.append((repo_id, filename))
        return str(fetched)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    path = hub_or_local("hf://RASPIAUDIO/F5-French-MixedSpeakers-reduced/sub/model_last_reduced.pt", "checkpoint", "V")
    assert path == fetched
    assert asked == [("RASPIAUDIO/F5-French-MixedSpeakers-reduced", "sub/model_last_reduced.pt")]


def test_an_hf_path_offline_or_malformed_is_a_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineStartupError, match="HF_HUB_OFFLINE is set: set TTS_MODELS"):
        hub_or_local("hf://owner/repo/model.pt", "checkpoint", "TTS_MODELS")
    with pytest.raises(EngineStartupError, match="is not hf://owner/repo/file"):
        hub_or_local("hf://owner/model.pt", "checkpoint", "TTS_MODELS")


def test_the_vocabulary_check_reads_the_models_file_where_it_was_fetched(tmp_path: Path) -> None:
    local = tmp_path / "vocab.txt"
    local.write_text("".join(f"{c}\n" for c in " abc"), encoding="utf-8")
    remote = "hf://owner/repo/vocab.txt"
    spec = ModelSpec("x", "F5TTS_Base", "hf://owner/repo/model.pt", remote)
    fetched: list[str] = []

    def local_file(path: str) -> str:
        fetched.append(path)
        return str(local)

    registry = LruModelRegistry(ModelSpec("d", "F5TTS_v1_Base"), FakeEngine, [spec], lambda s: None, 1, local_file)  # type: ignore[arg-type,return-value]
    assert registry.unknown_characters("x", "abcz") == {"z"}
    assert fetched == [remote]
