"""Write a randomly initialised F5-TTS checkpoint in the real file formats.

No machine here reaches the Hugging Face hub, yet the real engine must be tested and
benchmarked through the same loading code that reads the released weights. This writes
what the release holds (an F5 `safetensors` file with `ema_model.` keys, `vocab.txt`, a
Vocos `config.yaml` + `pytorch_model.bin`) with random weights, and prints the KEY=VALUE
settings that make the worker load it.

    python scripts/make_tiny_checkpoint.py OUT_DIR [--size tiny|base] [--arch v1|v0|small]

`tiny` (default) is a 2-layer, 64-wide DiT with its own model config (hence F5_MODEL) that
loads and runs on a CPU in seconds; `base` has the architecture's real sizes (F5TTS_v1_Base:
337 M parameters) and costs what the trained model costs to run, for benchmarks.

`--arch` picks the layout: `v1` (F5TTS_v1_Base, the default model), `v0` (F5TTS_Base, the
layout of every community Base fine-tune: `text_mask_padding: False`, `pe_attn_head: 1`) or
`small` (F5TTS_Small's layout). Tiny v0 and small checkpoints come with their own small
character vocabularies (French, German), as community checkpoints do, so a test can load
several at once and see each speak only its own characters.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.f5.loading import f5_package_dir, import_f5_model, load_model_config, read_vocab

TINY_ARCH = {
    "dim": 64,
    "depth": 2,
    "heads": 2,
    "dim_head": 32,
    "ff_mult": 2,
    "text_dim": 32,
    "text_mask_padding": True,
    "qk_norm": None,
    "conv_layers": 1,
    "pe_attn_head": None,
    "attn_backend": "torch",
    "attn_mask_enabled": False,
    "checkpoint_activations": False,
}
MEL_SPEC = {
    "target_sample_rate": 24000,
    "n_mel_channels": 100,
    "hop_length": 256,
    "win_length": 1024,
    "n_fft": 1024,
    "mel_spec_type": "vocos",
}
ARCHITECTURES = {"v1": "F5TTS_v1_Base", "v0": "F5TTS_Base", "small": "F5TTS_Small"}
# the tiny layouts: v1's, and v0's flags (which F5TTS_Small shares) at tiny and smaller-tiny sizes
TINY_ARCHES = {
    "v1": TINY_ARCH,
    "v0": {**TINY_ARCH, "text_mask_padding": False, "pe_attn_head": 1},
    "small": {**TINY_ARCH, "dim": 48, "depth": 3, "dim_head": 24, "text_mask_padding": False, "pe_attn_head": 1},
}
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TINY_VOCABS = {  # v1 keeps the vocabulary f5-tts ships; None
    "v0": " " + _LETTERS + "àâæçéèêëîïôœùûüÿÀÂÇÉÈÊÎÔÙÛ.,;:!?'-\"«»",
    "small": " " + _LETTERS + "äöüßÄÖÜ.,;:!?'-\"„“",
}
VOCOS_SIZES = {"tiny": (64, 128, 2), "base": (512, 1536, 8)}  # dim, intermediate_dim, layers (the release's)


def vocos_config(size: str) -> dict:
    dim, intermediate, layers = VOCOS_SIZES[size]
    return {
        "feature_extractor": {
            "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
            "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100, "padding": "center"},
        },
        "backbone": {
            "class_path": "vocos.models.VocosBackbone",
            "init_args": {"input_channels": 100, "dim": dim, "intermediate_dim": intermediate, "num_layers": layers},
        },
        "head": {
            "class_path": "vocos.heads.ISTFTHead",
            "init_args": {"dim": dim, "n_fft": 1024, "hop_length": 256, "padding": "center"},
        },
    }


def randomise_zeroed(dit: torch.nn.Module) -> None:
    """DiT zero-initialises its modulation and output layers (a training choice), which
    would make the untrained model output nothing but its input noise; small random values
    there make the whole network shape the output, so tests exercise all of it."""
    gen = torch.Generator().manual_seed(1)
    for p in dit.parameters():
        if not p.any():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)


def write(out: Path, size: str, seed: int, arch_name: str = "v1") -> dict[str, Path]:
    from safetensors.torch import save_file
    from vocos import Vocos

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    vocab_path = out / "vocab.txt"
    if size == "tiny" and arch_name in TINY_VOCABS:
        vocab_path.write_text("".join(f"{char}\n" for char in TINY_VOCABS[arch_name]), encoding="utf-8")
    else:
        shutil.copyfile(f5_package_dir() / "infer" / "examples" / "vocab.txt", vocab_path)
    settings: dict[str, Path] = {}
    if size == "tiny":
        name = "F5TTS_tiny" if arch_name == "v1" else f"F5TTS_tiny_{arch_name}"
        config_path = out / f"{name}.yaml"
        config = {
            "model": {
                "name": name,
                "tokenizer": "custom",
                "backbone": "DiT",
                "arch": TINY_ARCHES[arch_name],
                "mel_spec": MEL_SPEC,
            }
        }
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        settings["F5_MODEL"] = config_path
    else:
        config_path = f5_package_dir() / "configs" / f"{ARCHITECTURES[arch_name]}.yaml"
        if arch_name != "v1":
            settings["F5_MODEL"] = config_path
    cfg = load_model_config(config_path)
    arch = dict(cfg["arch"])
    dit = import_f5_model().DiT(**arch, text_num_embeds=len(read_vocab(vocab_path)), mel_dim=100)
    randomise_zeroed(dit)
    state = {f"ema_model.transformer.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    ckpt_path = out / "model_random.safetensors"
    save_file(state, str(ckpt_path))

    vocoder_dir = out / "vocos"
    vocoder_dir.mkdir(exist_ok=True)
    (vocoder_dir / "config.yaml").write_text(yaml.safe_dump(vocos_config(size), sort_keys=False))
    vocos = Vocos.from_hparams(str(vocoder_dir / "config.yaml"))
    torch.save(vocos.state_dict(), vocoder_dir / "pytorch_model.bin")
    settings.update({"F5_CKPT_FILE": ckpt_path, "F5_VOCAB_FILE": vocab_path, "VOCODER_PATH": vocoder_dir})
    return settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", choices=("tiny", "base"), default="tiny")
    parser.add_argument("--arch", choices=tuple(ARCHITECTURES), default="v1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for key, value in write(args.out_dir.resolve(), args.size, args.seed, args.arch).items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
