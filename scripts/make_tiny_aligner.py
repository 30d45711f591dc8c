"""Write a randomly initialised forced aligner in the published MMS_FA file format.

No machine here can download the real aligner, yet word timestamps must be tested through
the code that loads it. This writes what the release holds (`model.pt`, a state dict for
`torchaudio.models.wav2vec2_model` whose output layer keeps fairseq's 31 rows, three of
them unused) with random weights, and prints the ALIGNER_PATH setting that loads it.

    python scripts/make_tiny_aligner.py OUT_DIR [--size tiny|mms]

`tiny` (default) is a 2-layer, 32-wide model, described by a `config.json` beside the
weights, that runs on a CPU in milliseconds and keeps MMS_FA's 20 ms frames; `mms` has
MMS_FA's real architecture (315 M parameters, no config.json, exactly like the release),
so it costs what the trained aligner costs to run, for benchmarks. Random weights give
arbitrary (but valid) alignments: tests check their shape, not their accuracy.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.ctc_aligner import CONFIG_FILE, MMS_FA_CONFIG, WEIGHTS_FILE

TINY_MODEL = {
    "extractor_mode": "layer_norm",
    # MMS_FA's kernels and strides (320 samples, 20 ms a frame), narrower
    "extractor_conv_layer_config": [[32, 10, 5]] + [[32, 3, 2]] * 4 + [[32, 2, 2]] * 2,
    "extractor_conv_bias": True,
    "encoder_embed_dim": 32,
    "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 16,
    "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 2,
    "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.0,
    "encoder_ff_interm_features": 64,
    "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.0,
    "encoder_layer_norm_first": True,
    "encoder_layer_drop": 0.0,
    "aux_num_out": 31,
}


def write(out: Path, size: str, seed: int) -> dict[str, Path]:
    from torchaudio.models import wav2vec2_model

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = copy.deepcopy(MMS_FA_CONFIG)
    if size == "tiny":
        config["model"] = TINY_MODEL
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    else:
        (out / CONFIG_FILE).unlink(missing_ok=True)
    params = dict(config["model"])
    params["extractor_conv_layer_config"] = [tuple(layer) for layer in params["extractor_conv_layer_config"]]
    model = wav2vec2_model(**params)
    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    return {"ALIGNER_PATH": out}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", choices=("tiny", "mms"), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for key, value in write(args.out_dir.resolve(), args.size, args.seed).items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
