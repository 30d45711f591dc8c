"""The F5 engine's DiT loader on a toy network's checkpoint written here (no F5 weights): the
module gets the file's weights in the serving dtype, int8 gets dynamic int8 Linears, and a
checkpoint that does not fit the config is one start-up error line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from adapters.f5.loading import EngineStartupError, ModelFiles, load_dit
from adapters.f5.precision import Precision
from domain.timing import StageTimer

CFG = {"arch": {"dim": 8, "attn_backend": "flash_attn", "attn_mask_enabled": True}, "mel_spec": {"n_mel_channels": 4}}


class ToyDit(torch.nn.Module):
    """The arguments upstream's DiT takes from a config (those the loader must drop excepted)."""

    def __init__(self, dim: int, text_num_embeds: int, mel_dim: int) -> None:
        super().__init__()
        self.text_embed = torch.nn.Embedding(text_num_embeds, dim)
        self.proj_out = torch.nn.Linear(dim, mel_dim)


def toy_checkpoint(tmp_path: Path, vocab: int = 10) -> tuple[ModelFiles, ToyDit]:
    toy = ToyDit(8, vocab, 4)
    path = tmp_path / "model.safetensors"
    save_file({f"ema_model.transformer.{key}": value for key, value in toy.state_dict().items()}, str(path))
    return ModelFiles(
        config=tmp_path / "Toy.yaml", checkpoint=path, vocab=tmp_path / "vocab.txt", vocoder_dir=tmp_path
    ), toy


def test_the_module_holds_the_checkpoints_weights_in_the_serving_dtype(tmp_path: Path) -> None:
    files, toy = toy_checkpoint(tmp_path)
    timer = StageTimer()
    dit = load_dit(ToyDit, files, CFG, 10, Precision("cpu", "bf16", "test"), torch.bfloat16, timer)
    assert not dit.training and {p.dtype for p in dit.parameters()} == {torch.bfloat16}
    for key, value in toy.state_dict().items():
        assert torch.equal(dit.state_dict()[key], value.to(torch.bfloat16))
    assert {"weights_read", "weights_to_device"} <= set(timer.seconds)


def test_int8_serves_dynamic_int8_linears(tmp_path: Path) -> None:
    files, _ = toy_checkpoint(tmp_path)
    dit = load_dit(ToyDit, files, CFG, 10, Precision("cpu", "int8", "test"), torch.float32, StageTimer())
    assert isinstance(dit.proj_out, torch.ao.nn.quantized.dynamic.Linear)


def test_a_checkpoint_that_does_not_fit_the_vocab_is_one_startup_error_line(tmp_path: Path) -> None:
    files, _ = toy_checkpoint(tmp_path, vocab=10)
    with pytest.raises(EngineStartupError, match=r"does not fit Toy\.yaml with vocab") as refused:
        load_dit(ToyDit, files, CFG, 12, Precision("cpu", "fp32", "test"), torch.float32, StageTimer())
    assert "\n" not in str(refused.value) and str(files.checkpoint) in str(refused.value)
