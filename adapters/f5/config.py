"""What the F5 engine is built from, in one value: settings.py validates each field once,
container.py builds this from the settings, and every builder (the worker, a TTS_MODELS
entry, the tests, the benchmarks) hands it to `build_f5_engine`. No torch here: the container
imports it before it knows which engine it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EngineConfig:
    """`model` is a config name f5-tts ships or a path to such a yaml; files come from the
    explicit paths, then `model_dir`, then the hub unless HF_HUB_OFFLINE is set. `dtype`
    overrides the hardware-based choice; `compile` applies torch.compile to the DiT blocks
    ("background": after the warm-up, beside CUDA graphs, see compile.py); `runner` picks how
    the ODE loop runs (auto: CUDA graphs on CUDA, at most `max_graphs` captured shapes);
    `max_batch_frames` bounds one step's padded frames. `pack_cpu_linears` and
    `onednn_cpu_attention` (see cpu_linear, cpu_attention) are on in the worker; benchmarks
    turn them off to measure what they give."""

    model: str
    ckpt_file: str | None
    vocab_file: str | None
    vocoder_path: str | None
    model_dir: str | None
    dtype: Literal["fp32", "fp16", "bf16", "int8"] | None
    compile: Literal["off", "on", "background"]
    device: str | None
    runner: Literal["auto", "eager", "cuda_graph"]
    max_graphs: int
    max_batch_frames: int
    pack_cpu_linears: bool = True
    onednn_cpu_attention: bool = True
