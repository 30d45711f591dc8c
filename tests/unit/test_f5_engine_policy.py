"""The F5 engine's choices that need no model: which engines pack their CPU Linears or run
attention as oneDNN products, and the start-up errors raised before any weights are read. Kept
apart from test_f5_engine.py (which loads the tiny checkpoint, marked slow) so that
`make test-fast` runs them."""

from __future__ import annotations

import pytest

from adapters.f5 import engine as f5_engine
from adapters.f5.engine import build_f5_engine
from adapters.f5.loading import EngineStartupError
from adapters.f5.precision import Precision
from container import engine_config
from domain.errors import EngineError
from settings import load_settings


@pytest.mark.parametrize(
    ("device", "dtype", "compile_", "packs"),
    [("cuda", "bf16", False, False), ("cpu", "int8", False, False), ("cpu", "bf16", True, False),
     ("cpu", "fp32", False, True), ("cpu", "bf16", False, True)],
)  # fmt: skip
def test_which_engines_pack_linears(
    monkeypatch: pytest.MonkeyPatch, device: str, dtype: str, compile_: bool, packs: bool
) -> None:
    monkeypatch.setattr(f5_engine, "packing_works", lambda dtype: True)
    assert f5_engine._packs_linears(Precision(device, dtype, "test"), compile_) is packs
    monkeypatch.setattr(f5_engine, "packing_works", lambda dtype: False)
    assert f5_engine._packs_linears(Precision(device, dtype, "test"), compile_) is False


@pytest.mark.parametrize(
    ("device", "dtype", "flags", "compile_", "uses"),
    [("cuda", "bf16", "avx2", False, False), ("cpu", "bf16", "avx512_bf16 amx_bf16", False, False),
     ("cpu", "bf16", "avx512_bf16", True, False), ("cpu", "fp16", "avx2", False, False),
     ("cpu", "fp32", "avx2", False, True), ("cpu", "bf16", "avx512_bf16", False, True),
     ("cpu", "int8", "avx2", False, True)],
)  # fmt: skip
def test_which_engines_use_onednn_attention(
    monkeypatch: pytest.MonkeyPatch, device: str, dtype: str, flags: str, compile_: bool, uses: bool
) -> None:
    monkeypatch.setattr(f5_engine, "onednn_attention_works", lambda dtype: True)
    assert f5_engine._uses_onednn_attention(Precision(device, dtype, "test"), flags, compile_) is uses
    monkeypatch.setattr(f5_engine, "onednn_attention_works", lambda dtype: False)
    assert f5_engine._uses_onednn_attention(Precision(device, dtype, "test"), flags, compile_) is False


def test_offline_and_missing_checkpoint_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineStartupError, match="F5_CKPT_FILE") as err:
        build_f5_engine(engine_config(load_settings({"TTS_DEVICE": "cpu"})))
    assert "HF_HUB_OFFLINE" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, EngineError)


def test_unknown_model_name_is_a_startup_error() -> None:
    with pytest.raises(EngineStartupError, match="F5_MODEL"):
        build_f5_engine(engine_config(load_settings({"F5_MODEL": "F5TTS_v9_Huge", "TTS_DEVICE": "cpu"})))
