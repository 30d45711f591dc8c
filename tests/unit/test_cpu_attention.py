"""oneDNN attention on a CPU: the same result as torch's fused kernel, whatever the blocking
or the batch, and a torch build without the op keeps the fused kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from adapters.f5 import cpu_attention
from adapters.f5.cpu_attention import block_rows, onednn_attention, onednn_attention_works, sdpa_attention

needs_onednn = pytest.mark.skipif(not onednn_attention_works(torch.float32), reason="torch built without oneDNN")


def _qkv(batch: int, heads: int, frames: int, head_dim: int, dtype: torch.dtype = torch.float32, strided: bool = False):
    """Contiguous (batch, heads, frames, head_dim) tensors, or (`strided`) the views of
    (batch, frames, heads, head_dim) projections that the attention processor passes."""
    generator = torch.Generator().manual_seed(frames)
    if strided:
        shape = (batch, frames, heads, head_dim)
        return tuple(torch.randn(shape, generator=generator).to(dtype).transpose(1, 2) for _ in range(3))
    return tuple(torch.randn(batch, heads, frames, head_dim, generator=generator).to(dtype) for _ in range(3))


needs_onednn_bf16 = pytest.mark.skipif(
    not onednn_attention_works(torch.bfloat16), reason="no oneDNN bf16 products in this build"
)


def _reference(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    batch, heads, frames, head_dim = query.shape
    out = F.scaled_dot_product_attention(query.float(), key.float(), value.float())
    return out.transpose(1, 2).reshape(batch, frames, heads * head_dim)


@needs_onednn
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("frames", [1, 7, 64, 150])
def test_matches_the_fused_kernel_in_fp32(frames: int, strided: bool) -> None:
    query, key, value = _qkv(2, 3, frames, 16, strided=strided)
    got = onednn_attention(query, key, value)
    assert got.shape == (2, frames, 3 * 16) and got.dtype == torch.float32
    torch.testing.assert_close(got, _reference(query, key, value), rtol=1e-5, atol=1e-5)


@needs_onednn
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-6), (torch.bfloat16, 1e-2)])
def test_blocks_of_query_rows_give_the_unblocked_result(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype, atol: float
) -> None:
    if not onednn_attention_works(dtype):
        pytest.skip("no oneDNN products in this dtype here")
    query, key, value = _qkv(2, 2, 150, 16, dtype, strided=True)
    whole = onednn_attention(query, key, value)
    monkeypatch.setattr(cpu_attention, "SCORE_BLOCK_BYTES", 4 * 150 * 40)  # 40 rows: 4 blocks, the last short
    monkeypatch.setattr(cpu_attention, "MIN_BLOCK_ROWS", 8)
    assert block_rows(150) == 40
    torch.testing.assert_close(onednn_attention(query, key, value), whole, rtol=0, atol=atol)


@needs_onednn_bf16
@pytest.mark.parametrize("strided", [False, True])
def test_bf16_is_as_close_to_fp32_as_the_fused_bf16_kernel(strided: bool) -> None:
    query, key, value = _qkv(1, 4, 200, 64, torch.bfloat16, strided=strided)
    want = _reference(query, key, value)
    got = onednn_attention(query, key, value)
    assert got.dtype == torch.bfloat16
    ours = (got.float() - want).abs().max().item()
    fused = (sdpa_attention(query, key, value).float() - want).abs().max().item()
    assert ours <= 2 * fused + 1e-3


@needs_onednn
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_an_items_result_does_not_depend_on_its_batch_mates(dtype: torch.dtype) -> None:
    if not onednn_attention_works(dtype):
        pytest.skip("no oneDNN products in this dtype here")
    query, key, value = _qkv(3, 2, 90, 16, dtype, strided=True)
    together = onednn_attention(query, key, value)
    for row in range(3):
        alone = onednn_attention(query[row : row + 1], key[row : row + 1], value[row : row + 1])
        assert torch.equal(alone[0], together[row])


def test_block_rows_keep_the_scores_within_the_budget() -> None:
    assert block_rows(100) == 100  # short sequences: one block
    rows = block_rows(2600)
    assert rows < 2600 and rows * 2600 * 4 <= cpu_attention.SCORE_BLOCK_BYTES
    assert block_rows(10**7) == cpu_attention.MIN_BLOCK_ROWS


def test_sdpa_attention_has_the_same_layout() -> None:
    query, key, value = _qkv(2, 3, 11, 8)
    torch.testing.assert_close(sdpa_attention(query, key, value), _reference(query, key, value))


def test_no_onednn_means_the_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not onednn_attention_works(torch.float32)


def test_a_failing_or_wrong_product_means_the_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("no oneDNN inner product for this dtype")

    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    monkeypatch.setattr(cpu_attention, "_times_transposed", missing)
    assert not onednn_attention_works(torch.float32)
    monkeypatch.setattr(cpu_attention, "_times_transposed", lambda a, b: torch.zeros(a.shape[0], b.shape[0]))
    assert not onednn_attention_works(torch.float32)
