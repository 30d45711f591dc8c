"""`rotate` against x-transformers' `apply_rotary_pos_emb`: bitwise, in every dtype the engine
serves, for whole and partial rotation, any frame count and memory layout; and the attention
processor that uses it against upstream's AttnProcessor."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.f5.rotary import rotate

DTYPES = [torch.float32, torch.bfloat16, torch.float16]


@pytest.fixture(scope="module")
def upstream() -> ModuleType:
    """x-transformers' rotary module, imported by the tests that compare with it rather than
    at collection: 2.3 s (einx, torch._dynamo) in every xdist worker, most of which never run them."""
    from x_transformers import x_transformers

    return x_transformers


def heads_view(batch: int, frames: int, heads: int, head_dim: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """(batch, heads, frames, head_dim) as the processor makes it: a transposed view of a
    projection's (batch, frames, heads * head_dim) output."""
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(batch, frames, heads * head_dim, generator=generator) * 3
    return projection.to(dtype).view(batch, frames, heads, head_dim).transpose(1, 2)


@settings(max_examples=40, deadline=None)
@given(
    frames=st.integers(1, 300),
    extra_positions=st.integers(0, 40),
    head_dim=st.sampled_from([8, 16, 64]),
    rotated_share=st.sampled_from([1, 2]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**16),
)
def test_rotate_is_upstreams_rotary_embedding_bitwise(
    upstream: ModuleType,
    frames: int,
    extra_positions: int,
    head_dim: int,
    rotated_share: int,
    dtype: torch.dtype,
    seed: int,
) -> None:
    # upstream's table may be longer than the sequence (it takes the last `frames` positions)
    freqs, scale = (
        upstream.RotaryEmbedding(head_dim // rotated_share).to(dtype).forward_from_seq_len(frames + extra_positions)
    )
    t = heads_view(2, frames, 3, head_dim, dtype, seed)
    want = upstream.apply_rotary_pos_emb(t, freqs, scale)
    got = rotate(t, freqs, scale)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want)


def test_mixed_dtypes_promote_and_come_back_like_upstreams(upstream: ModuleType) -> None:
    freqs, _ = upstream.RotaryEmbedding(16).forward_from_seq_len(50)  # fp32 table
    t = heads_view(1, 50, 2, 16, torch.bfloat16, 3)
    got = rotate(t, freqs, 1.0)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, upstream.apply_rotary_pos_emb(t, freqs, 1.0))


def test_an_xpos_scale_goes_to_upstreams_function(upstream: ModuleType) -> None:
    rotary = upstream.RotaryEmbedding(16, use_xpos=True)
    freqs, scale = rotary.forward_from_seq_len(40)
    t = heads_view(1, 40, 2, 16, torch.float32, 5)
    assert torch.equal(rotate(t, freqs, scale), upstream.apply_rotary_pos_emb(t, freqs, scale))
    assert not torch.equal(rotate(t, freqs, scale), rotate(t, freqs, 1.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("pe_attn_head", [None, 1])
def test_unmasked_attention_is_upstreams_processor_bitwise(
    upstream: ModuleType, dtype: torch.dtype, pe_attn_head: int | None
) -> None:
    from adapters.f5.attention import make_processor
    from adapters.f5.loading import import_f5_model

    import_f5_model()
    modules = __import__("f5_tts.model.modules", fromlist=["modules"])
    torch.manual_seed(0)
    attn = modules.Attention(
        processor=modules.AttnProcessor(pe_attn_head=pe_attn_head, attn_mask_enabled=False),
        dim=64,
        heads=4,
        dim_head=16,
    ).to(dtype)
    x = torch.randn(2, 90, 64).to(dtype)
    freqs, scale = upstream.RotaryEmbedding(16).to(dtype).forward_from_seq_len(90)
    with torch.inference_mode():
        want = attn(x, rope=(freqs, scale))
        attn.processor = make_processor(attn.processor)
        got = attn(x, rope=(freqs, scale))
    assert torch.equal(got, want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", DTYPES)
def test_rotate_is_upstreams_rotary_embedding_bitwise_on_cuda(upstream: ModuleType, dtype: torch.dtype) -> None:
    freqs, scale = upstream.RotaryEmbedding(64).to("cuda", dtype).forward_from_seq_len(760)
    t = heads_view(2, 760, 16, 64, dtype, 11).cuda()
    assert torch.equal(rotate(t, freqs, scale), upstream.apply_rotary_pos_emb(t, freqs, scale))
