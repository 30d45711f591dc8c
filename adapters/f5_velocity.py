"""The DiT's velocity field with its inputs made explicit, so one item's result never
depends on its batch mates and a captured CUDA graph sees every input it reads.

Upstream's `DiT.forward` differs in three ways that matter here:

- it caches the text embedding in hidden per-thread state (`cache=True`, `clear_cache()`)
  and computes it with a host sync (`seq_len.max().item()`): a graph captured around it
  would replay one batch's text forever. Here the embeddings are computed once per batch,
  each item as if alone, by `f5_text_embedding.text_embeddings`, and passed in as tensors;
- it embeds the time step once per row (and twice per row with guidance packed), so the
  small time-MLP and AdaLN matmuls run with M = batch rows, and CPU GEMM kernels pick their
  summation order from M: the same item came out a few ulps different at every batch
  size. The time step is the same for every row, so it is embedded on one row and
  broadcast, which costs less and is the same computation at any batch size;
- its rotary table is rebuilt on every call; here it is built once per sequence length.

Everything else calls upstream's own modules (input embedding, blocks, final norm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class DitVelocity:
    """`__call__(x, cond, text, t, mask, cfg)`: the guided velocity at time `t` for a batch.

    `text` is (2, batch, frames, dim) from `f5_text_embedding.text_embeddings` (with text, without);
    `t` is a 1-element tensor; `cfg` a 0-dim tensor (so a graph can read it) or None for
    the unguided path (upstream runs cfg < 1e-5 without the packed second half)."""

    def __init__(self, dit: torch.nn.Module, dtype: torch.dtype, blocks: Sequence[Callable] | None = None) -> None:
        self._dit = dit
        self._dtype = dtype
        # the transformer blocks to run: the DiT's own, or compiled wrappers over them (f5_compile)
        self._blocks = dit.transformer_blocks if blocks is None else blocks
        self._ropes: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor | None]] = {}

    def rope(self, frames: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = (frames, str(device))
        if key not in self._ropes:
            self._ropes[key] = self._dit.rotary_embed.forward_from_seq_len(frames)
        return self._ropes[key]

    def __call__(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        t: torch.Tensor,
        mask: torch.Tensor | None,
        cfg: torch.Tensor | None,
    ) -> torch.Tensor:
        dit = self._dit
        x = x.to(self._dtype)
        emb = dit.time_embed(t.to(self._dtype).reshape(1))
        rope = self.rope(x.shape[1], x.device)
        if cfg is None:
            h = dit.input_embed(x, cond, text[0], drop_audio_cond=False, audio_mask=mask)
            packed_mask = mask
        else:
            with_text = dit.input_embed(x, cond, text[0], drop_audio_cond=False, audio_mask=mask)
            without = dit.input_embed(x, cond, text[1], drop_audio_cond=True, audio_mask=mask)
            h = torch.cat((with_text, without))
            packed_mask = torch.cat((mask, mask)) if mask is not None else None
        residual = h
        for block in self._blocks:
            h = block(h, emb, mask=packed_mask, rope=rope)
        if dit.long_skip_connection is not None:
            h = dit.long_skip_connection(torch.cat((h, residual), dim=-1))
        out = dit.proj_out(dit.norm_out(h, emb)).float()
        if cfg is None:
            return out
        pred, null = torch.chunk(out, 2, dim=0)
        return pred + (pred - null) * cfg
