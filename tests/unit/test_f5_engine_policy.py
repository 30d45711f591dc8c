"""The F5 engine's choices that need no model: which engines pack their CPU Linears or run
attention as oneDNN products, the ODE runner and background compile built for the settings (on
a toy DiT), and the start-up errors raised before any weights are read. Kept
apart from test_f5_engine.py (which loads the tiny checkpoint, marked slow) so that
`make test-fast` runs them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from adapters.f5 import engine as f5_engine
from adapters.f5.buckets import ShapeBuckets
from adapters.f5.config import EngineConfig
from adapters.f5.engine import build_f5_engine
from adapters.f5.loading import EngineStartupError
from adapters.f5.precision import Precision
from adapters.f5.runner import CudaGraphRunner, make_runner
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


class ToyDit(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.transformer_blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2)])


def config(**fields: object) -> EngineConfig:
    settings = load_settings({"TTS_DEVICE": "cpu", "TTS_MAX_GRAPHS": "5"})
    return dataclasses.replace(engine_config(settings), **fields)  # type: ignore[arg-type]


def graph_runner(kind, velocity, device, buckets=None, max_graphs=24, capture_gate=None) -> CudaGraphRunner:
    return CudaGraphRunner(velocity, ShapeBuckets(), object(), max_graphs, capture_gate=capture_gate)  # type: ignore[arg-type]


def test_the_runner_is_the_factorys_for_the_settings_and_nothing_compiles_beside_it() -> None:
    asked: list[tuple[object, ...]] = []

    def factory(kind, velocity, device, buckets=None, max_graphs=24, capture_gate=None):
        asked.append((kind, device, max_graphs, capture_gate))
        return graph_runner(kind, velocity, device, buckets, max_graphs, capture_gate)

    runner, background = f5_engine._ode_runner(config(runner="eager"), ToyDit(), Precision("cpu", "fp32", "t"), factory)
    assert isinstance(runner, CudaGraphRunner) and background is None
    assert asked == [("eager", "cpu", 5, None)]


def test_a_background_compile_gets_the_gate_its_graph_runner_captures_under() -> None:
    runner, background = f5_engine._ode_runner(
        config(compile="background"), ToyDit(), Precision("cpu", "fp32", "t"), graph_runner
    )
    assert background is not None and background.state == "waiting"
    assert runner._gate is background._gate and runner._gate is not None  # the one lock both hold


def test_a_background_compile_without_graphs_or_a_runner_that_cannot_run_is_a_startup_error() -> None:
    precision = Precision("cpu", "fp32", "t")
    with pytest.raises(EngineStartupError, match="TTS_COMPILE=background compiles beside CUDA graphs"):
        f5_engine._ode_runner(config(compile="background"), ToyDit(), precision, make_runner)
    with pytest.raises(EngineStartupError, match="needs a CUDA device"):
        f5_engine._ode_runner(config(runner="cuda_graph"), ToyDit(), precision, make_runner)
