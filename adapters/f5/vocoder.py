"""Vocos over a batch of mels of different lengths, each item as if decoded alone.

Padding a batch naively changes every item's tail: Vocos' backbone is a stack of
depthwise convolutions (kernel 7), so an item's last frames would see its neighbours'
padding turned into non-zero activations, and the ISTFT head's overlap-add would add the
padded frames' windows. So the backbone runs batched with the padded frames zeroed before
every convolution (exactly the zeros an item alone sees as conv padding), and the cheap
head (one Linear + ISTFT) runs per item on its own frames. On a GPU this turns one
vocoder launch sequence per item into one per batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

#: CPU GEMMs pick another kernel for very few rows, so a mel this short decodes alone
#: (an item of under 0.2 s of audio; nothing a listener would notice either way)
MIN_BATCHED_FRAMES = 16


def decode_batch(vocoder: Any, mels: list[torch.Tensor]) -> list[torch.Tensor]:
    """`mels`: (channels, frames_i) each, fp32; returns one waveform (samples_i,) each."""
    backbone = vocoder.backbone
    batched = [i for i, mel in enumerate(mels) if mel.shape[1] >= MIN_BATCHED_FRAMES]
    if len(batched) < 2 or getattr(backbone, "adanorm", False) or not hasattr(backbone, "convnext"):
        return [vocoder.decode(mel.unsqueeze(0))[0] for mel in mels]
    out = [None if i in batched else vocoder.decode(mel.unsqueeze(0))[0] for i, mel in enumerate(mels)]
    for i, wave in zip(batched, _decode_together(vocoder, [mels[i] for i in batched]), strict=True):
        out[i] = wave
    return out  # type: ignore[return-value]


def _decode_together(vocoder: Any, mels: list[torch.Tensor]) -> list[torch.Tensor]:
    backbone = vocoder.backbone
    lengths = [mel.shape[1] for mel in mels]
    frames = max(lengths)
    keep = torch.arange(frames, device=mels[0].device)[None, :] < torch.tensor(lengths, device=mels[0].device)[:, None]
    keep = keep[:, None]
    # the dense input conv picks its kernel by batch size and length on the CPU (a few ulps
    # apart): it runs per item at the item's own length (one layer of many); the
    # depthwise convs, norms and Linears give the same values at any batch shape
    h = torch.cat([F.pad(backbone.embed(mel.unsqueeze(0)), (0, frames - mel.shape[1])) for mel in mels])
    h = backbone.norm(h.transpose(1, 2)).transpose(1, 2).masked_fill(~keep, 0.0)
    for block in backbone.convnext:
        h = block(h).masked_fill(~keep, 0.0)
    h = backbone.final_layer_norm(h.transpose(1, 2))
    return [vocoder.head(h[i : i + 1, :length])[0] for i, length in enumerate(lengths)]
