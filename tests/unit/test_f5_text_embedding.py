"""A batch's text embeddings in one pass are each item's embeddings alone, bit for bit.

The reference is upstream's `TextEmbedding.forward` on the item alone at its own length
(what the engine ran per item before), zero-padded to the batch's frames.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.f5.loading import import_f5_model
from adapters.f5.text_embedding import MIN_BATCHED_FRAMES, text_embeddings

VOCAB = 300
DIM = 48

#: (mask_padding, conv_layers, average_upsampling): v1's encoder, the original F5TTS_Base's
#: (no padding mask), no ConvNeXt blocks at all, and zipvoice-style upsampling (embedded alone)
ENCODERS = [(True, 2, False), (False, 2, False), (True, 0, False), (True, 2, True)]


def encoder(mask_padding: bool, conv_layers: int, average_upsampling: bool, dtype: torch.dtype):
    """Upstream's text encoder with random weights, GRN's zero-initialised gain and bias
    included (zeros would hide a wrong norm), as the engine's `dit.text_embed`."""
    text_embedding = import_f5_model().backbones.dit.TextEmbedding
    torch.manual_seed(0)
    embed = text_embedding(
        VOCAB, DIM, mask_padding=mask_padding, average_upsampling=average_upsampling, conv_layers=conv_layers
    )
    with torch.no_grad():
        for parameter in embed.parameters():
            parameter.normal_(0, 0.5)
    return SimpleNamespace(text_embed=embed.to(dtype).eval())


def alone(dit, tokens: torch.Tensor, length: int, frames: int) -> torch.Tensor:
    seq_len = torch.tensor([length])
    rows = [dit.text_embed(tokens[None], seq_len=seq_len, drop_text=drop) for drop in (False, True)]
    return torch.nn.functional.pad(torch.cat(rows), (0, 0, 0, frames - length))


items = st.lists(
    st.tuples(st.integers(MIN_BATCHED_FRAMES, 300), st.integers(1, 320)),  # (frames, tokens)
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("config", ENCODERS, ids=["v1", "no_padding_mask", "no_blocks", "upsampling"])
@settings(max_examples=25, deadline=None)
@given(batch=items, extra=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_each_item_is_embedded_as_if_alone(config, dtype, batch, extra, seed) -> None:
    dit = encoder(*config, dtype)
    gen = torch.Generator().manual_seed(seed)
    tokens = [torch.randint(0, VOCAB, (count,), generator=gen) for _, count in batch]
    lengths = [length for length, _ in batch]
    frames = max(lengths) + extra
    with torch.inference_mode():
        got = text_embeddings(dit, tokens, lengths, frames)
        assert got.shape == (2, len(batch), frames, DIM) and got.dtype == dtype
        for i, length in enumerate(lengths):
            assert torch.equal(got[:, i], alone(dit, tokens[i], length, frames)), (i, length)


def test_the_shortest_items_are_embedded_alone_beside_batched_ones() -> None:
    """Under MIN_BATCHED_FRAMES an item's products have too few rows for the batched
    kernels' rounding; it is embedded on its own, and its mates stay batched."""
    dit = encoder(True, 2, False, torch.float32)
    tokens = [torch.arange(1, 6), torch.arange(3, 90), torch.arange(2), torch.arange(7, 40)]
    lengths = [2, 200, 1, MIN_BATCHED_FRAMES]
    with torch.inference_mode():
        got = text_embeddings(dit, tokens, lengths, 210)
        for i, length in enumerate(lengths):
            assert torch.equal(got[:, i], alone(dit, tokens[i], length, 210)), length


def test_without_text_the_item_keeps_its_own_padding_mask() -> None:
    """Guidance's second half embeds no text but still masks the item's filler: two items
    of one length with different token counts differ there, and past each length it is 0."""
    dit = encoder(True, 2, False, torch.float32)
    with torch.inference_mode():
        got = text_embeddings(dit, [torch.arange(10), torch.arange(60)], [100, 100], 120)
    assert not torch.equal(got[1, 0], got[1, 1])
    assert not got[:, :, 100:].any()
