"""Attention on a CPU without AMX, as two oneDNN matrix products per head.

PyTorch's CPU flash-attention kernel runs at about 150-180 GFLOP/s on the 2-core AVX-512 EPYC at
16 heads x 64, in bf16 and fp32 alike (bf16 Linears run at about 1,000 there), and once the
Linears were packed it was half of each DiT forward. The same attention as one oneDNN product
for the scores (fp32, the kernel behind the packed Linears), a row softmax in fp32 and one
oneDNN product with the values, head by head over blocks of query rows whose scores stay in
cache, measured 1.25x-1.71x faster on that EPYC at 400-2600 frames
(benchmarks/results/cpu-attention-cpu.txt), and a sentence 1.24x faster end to end in bf16
(engine-cpu.txt). Where the CPU has AMX, the flash kernel uses the tiles and stays (unmeasured
here).

Numerics are the flash kernel's: the scores and the softmax in fp32 from the inputs as they are,
the probabilities rounded to the inputs' dtype for the product with the values (a no-op in fp32),
accumulated in fp32. Each (item, head, block of rows) is computed alone, so an item's result does
not depend on its batch mates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: a block of query rows holds at most this many bytes of fp32 scores (one L2/L3-sized tile:
#: measured best or within noise of it from 400 to 2600 frames; unblocked, 2600 frames ran
#: slower than the flash kernel)
SCORE_BLOCK_BYTES = 4 << 20
#: never fewer rows than this per block (the products' efficiency falls off below it)
MIN_BLOCK_ROWS = 64


def onednn_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Unmasked softmax attention of (batch, heads, frames, head_dim) tensors, returned as
    (batch, frames, heads * head_dim): the layout the output projection takes, so the caller
    skips a transpose-and-copy."""
    batch, heads, frames, head_dim = query.shape
    dtype = query.dtype
    scaled_query = _fp32_by_head(query).mul_(head_dim**-0.5)
    keys = _fp32_by_head(key)
    if dtype == torch.bfloat16:  # torch's bf16 matmul is oneDNN's, and takes the values as they lie
        values, with_values = value, _times_into
    else:  # its fp32 matmul is MKL's, slower here than oneDNN's product with the values transposed
        values, with_values = value.transpose(-1, -2).contiguous(), _times_transposed_into
    out = torch.empty(batch, frames, heads, head_dim, dtype=dtype, device=query.device)
    rows = block_rows(frames)
    for item in range(batch):
        for head in range(heads):
            k, v = keys[item, head], values[item, head]
            for start in range(0, frames, rows):
                scores = _times_transposed(scaled_query[item, head, start : start + rows], k)
                probabilities = torch.softmax(scores, dim=-1).to(dtype)
                with_values(probabilities, v, out[item, start : start + rows, head])
    return out.view(batch, frames, heads * head_dim)


def _fp32_by_head(t: torch.Tensor) -> torch.Tensor:
    """`t` (a transposed view of a projection) in fp32, head by head contiguous, in one copy:
    `t.float().contiguous()` converts first and then transposes the fp32 copy, measured 40x
    slower (12.6 ms against 0.3 ms at 1,800 frames, with the scale)."""
    return torch.empty(t.shape, dtype=torch.float32, device=t.device).copy_(t)


def _times_into(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    torch.matmul(a, b, out=out)


def _times_transposed_into(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(_times_transposed(a, b))


def _times_transposed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b.T by oneDNN (the unpacked form of the packed Linears' op; b is reordered per
    call, which costs O(rows of b) against the product's O(rows of a x rows of b))."""
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


def block_rows(frames: int) -> int:
    """Query rows per block at `frames` keys: as many as keep one block's fp32 scores within
    SCORE_BLOCK_BYTES, and at least MIN_BLOCK_ROWS."""
    return max(MIN_BLOCK_ROWS, min(frames, SCORE_BLOCK_BYTES // (4 * frames)))


def sdpa_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The same contract through torch's fused kernel (upstream's call), for every other case."""
    batch, heads, frames, head_dim = query.shape
    out = F.scaled_dot_product_attention(query, key, value)
    return out.transpose(1, 2).reshape(batch, frames, heads * head_dim)


def onednn_attention_works(dtype: torch.dtype) -> bool:
    """Whether this torch build runs `onednn_attention` on this CPU in `dtype`, and right:
    the op exists only where torch was built with oneDNN, so tiny inputs are compared with
    the fused kernel instead of guessing from the platform. Any failure: keep the fused one."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        query, key, value = (torch.randn(2, 2, 70, 16, generator=generator).to(dtype) for _ in range(3))
        got = onednn_attention(query, key, value).float()
        want = sdpa_attention(query.float(), key.float(), value.float())
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    return bool(torch.allclose(got, want, atol=tolerance, rtol=tolerance))
