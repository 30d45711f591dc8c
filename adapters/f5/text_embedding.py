"""The DiT's text embeddings for a whole batch in one pass, each item as if embedded alone.

Upstream embeds the text once per item and once more without it (guidance), each at the
item's own length: about a hundred small kernels per item. On a GPU those are launches the
device waits on between one batch's ODE and the next (16 items: ~3,000 launches, a few
percent of a compiled call). Here all of a batch's items, with and without text, go through
the text encoder as one (2 x batch, frames) tensor.

Two things would let batch mates leak into an item, and both are closed off:
- the ConvNeXt blocks' depthwise convolutions would read a neighbour's padding past the
  item's end, so every position past an item's length is zeroed before each block (what
  an item alone sees as the convolution's zero padding);
- GRN normalises over the time axis, so its norm counts only the item's own frames.

With those, an item's embeddings are bit for bit the ones it gets alone on the CPU (fp32
and bf16: tests/unit/test_f5_text_embedding.py), except for the shortest items, whose
matrix products alone have so few rows that CPU GEMMs pick another kernel: those (under
MIN_BATCHED_FRAMES, shorter than any real reference) and any text encoder this does not know
(zipvoice-style average upsampling) are embedded alone, as upstream does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from adapters.f5.velocity import lengths_mask

#: items shorter than this are embedded alone (see the module docstring)
MIN_BATCHED_FRAMES = 16


def text_embeddings(
    dit: torch.nn.Module, tokens: Sequence[torch.Tensor], lengths: Sequence[int], frames: int
) -> torch.Tensor:
    """(2, batch, frames, dim): each item's embeddings with its text and without (guidance).
    `tokens` are the items' token ids (1-D, on any device), `lengths` their frames; past its
    length an item's embeddings are zero."""
    embed = dit.text_embed
    weight = embed.text_embed.weight
    together = [i for i, n in enumerate(lengths) if n >= MIN_BATCHED_FRAMES] if _batchable(embed) else []
    if len(together) == len(lengths):
        return _together(embed, tokens, lengths, frames)
    out = torch.zeros(2, len(lengths), frames, weight.shape[1], device=weight.device, dtype=weight.dtype)
    if together:
        out[:, together] = _together(embed, [tokens[i] for i in together], [lengths[i] for i in together], frames)
    for i, length in enumerate(lengths):
        if i not in together:
            out[:, i, :length] = _alone(embed, tokens[i], length)
    return out


def _batchable(embed: torch.nn.Module) -> bool:
    if getattr(embed, "average_upsampling", False):
        return False
    blocks = embed.text_blocks if getattr(embed, "extra_modeling", False) else ()
    return all(hasattr(block, "grn") and hasattr(block, "dwconv") for block in blocks)


def _alone(embed: torch.nn.Module, tokens: torch.Tensor, length: int) -> torch.Tensor:
    """Upstream's own forward on one item at its own length: (2, length, dim)."""
    ids = tokens.to(embed.text_embed.weight.device).unsqueeze(0)
    with_text = embed(ids, seq_len=length, drop_text=False)
    without = embed(ids, seq_len=length, drop_text=True)
    return torch.cat((with_text, without))


def _together(
    embed: torch.nn.Module, tokens: Sequence[torch.Tensor], lengths: Sequence[int], frames: int
) -> torch.Tensor:
    """Upstream's `TextEmbedding.forward` over every item at once, with and without text."""
    device = embed.text_embed.weight.device
    text = torch.zeros(len(tokens), frames, dtype=torch.long)  # 0 is the filler token
    for i, (ids, length) in enumerate(zip(tokens, lengths, strict=True)):
        kept = min(ids.shape[-1], length)  # upstream cuts text longer than the audio
        text[i, :kept] = ids[:kept].cpu() + 1
    text = text.to(device)
    valid = lengths_mask(lengths, frames, device)
    valid = torch.cat((valid, valid))[..., None]
    filler = text == 0
    x = embed.text_embed(torch.cat((text, torch.zeros_like(text))))  # without text: all filler
    if embed.extra_modeling:
        x = x + embed.freqs_cis[:frames]
        # masking the filler masks every position past the item's end too (it is filler)
        masked = torch.cat((filler, filler))[..., None] if embed.mask_padding else ~valid
        x = x.masked_fill(masked, 0.0)
        for block in embed.text_blocks:
            x = _convnext(block, x, valid).masked_fill(masked, 0.0)
    else:
        x = x.masked_fill(~valid, 0.0)
    return x.view(2, len(tokens), frames, x.shape[-1])


def _convnext(block: torch.nn.Module, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Upstream's `ConvNeXtV2Block.forward` with GRN's norm over each item's own frames."""
    residual = x
    x = block.dwconv(x.transpose(1, 2)).transpose(1, 2)
    x = block.act(block.pwconv1(block.norm(x)))
    grn = block.grn
    norm = torch.norm(x.masked_fill(~valid, 0.0), p=2, dim=1, keepdim=True)
    x = grn.gamma * (x * (norm / (norm.mean(dim=-1, keepdim=True) + 1e-6))) + grn.beta + x
    return residual + block.pwconv2(x)
