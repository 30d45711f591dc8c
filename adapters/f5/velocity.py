"""The DiT's velocity field with its inputs made explicit, so one item's result never
depends on its batch mates and a captured CUDA graph sees every input it reads.

Upstream's `DiT.forward` differs in three ways that matter here:

- it caches the text embedding in hidden per-thread state (`cache=True`, `clear_cache()`)
  and computes it with a host sync (`seq_len.max().item()`): a graph captured around it
  would replay one batch's text forever. Here the embeddings are computed once per batch,
  each item as if alone, by `text_embedding.text_embeddings`, and passed in as tensors;
- it embeds the time step once per row (and twice per row with guidance packed), so the
  small time-MLP and AdaLN matmuls run with M = batch rows, and CPU GEMM kernels pick their
  summation order from M: the same item came out a few ulps different at every batch
  size. Where every row is at the same time step it is embedded on one row and broadcast,
  which costs less and is the same computation at any batch size. Rows at different steps
  (the step scheduler lets a row join a running batch, see step_scheduler) each have their
  own time: on a CPU each distinct time is embedded, and its modulations computed, on one
  row, so a row's arithmetic is the one it gets alone bit for bit; on a GPU the rows' times
  go through the blocks as one (rows, dim) batch, within half precision's tolerance;
- its rotary table is rebuilt on every call; here it is built once per sequence length.

Everything else calls upstream's own modules (input embedding, blocks, final norm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def lengths_mask(lengths: Sequence[int], frames: int, device: torch.device) -> torch.Tensor:
    """The key mask `DitVelocity` takes for rows of these lengths padded to `frames`."""
    return torch.arange(frames, device=device)[None, :] < torch.tensor(list(lengths), device=device)[:, None]


class DitVelocity:
    """`__call__(x, cond, text, t, mask, cfg)`: the guided velocity at time `t` for a batch.

    `text` is (2, batch, frames, dim) from `text_embedding.text_embeddings` (with text, without);
    `t` is a 1-element tensor (every row at that time) or one time per row; `cfg` a 0-dim
    tensor or one strength per row (tensors, so a graph can read them), or None for the
    unguided path (upstream runs cfg < 1e-5 without the packed second half)."""

    def __init__(self, dit: torch.nn.Module, dtype: torch.dtype, blocks: Sequence[Callable] | None = None) -> None:
        self._dit = dit
        self._dtype = dtype
        # the transformer blocks to run: the DiT's own, or compiled wrappers over them (compile.py)
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
        if t.numel() == 1:
            emb = dit.time_embed(t.to(self._dtype).reshape(1))
            for block in self._blocks:
                h = block(h, emb, mask=packed_mask, rope=rope)
            h = self._tail(h, residual, emb)
        elif x.device.type == "cpu":
            h = self._rows_exact(h, residual, t, packed_mask, rope, 1 if cfg is None else 2)
        else:
            emb = dit.time_embed(t.to(self._dtype).reshape(-1))
            emb = emb if cfg is None else torch.cat((emb, emb))
            for block in self._blocks:
                h = block(h, emb, mask=packed_mask, rope=rope)
            h = self._tail(h, residual, emb)
        out = dit.proj_out(h).float()
        if cfg is None:
            return out
        pred, null = torch.chunk(out, 2, dim=0)
        strength = cfg if cfg.dim() == 0 else cfg.reshape(-1, 1, 1)
        return pred + (pred - null) * strength

    def _tail(self, h: torch.Tensor, residual: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        dit = self._dit
        if dit.long_skip_connection is not None:
            h = dit.long_skip_connection(torch.cat((h, residual), dim=-1))
        return dit.norm_out(h, emb)

    def _rows_exact(
        self,
        h: torch.Tensor,
        residual: torch.Tensor,
        t: torch.Tensor,
        mask: torch.Tensor | None,
        rope: tuple[torch.Tensor, torch.Tensor | None],
        halves: int,
    ) -> torch.Tensor:
        """Upstream's blocks and final norm with one time per row, each distinct time's
        embedding and modulations computed on one row (M = 1, as for a batch at one time),
        then gathered per row: bitwise what each row gets alone on a CPU."""
        dit = self._dit
        times = t.tolist()
        distinct = list(dict.fromkeys(times))
        rows = torch.tensor([distinct.index(value) for value in times] * halves, device=h.device)
        embs = [dit.time_embed(t[times.index(value)].to(self._dtype).reshape(1)) for value in distinct]

        def per_row(linear: Callable, silu: Callable) -> torch.Tensor:
            return torch.cat([linear(silu(emb)) for emb in embs]).index_select(0, rows)

        for block in dit.transformer_blocks:
            modulation = per_row(block.attn_norm.linear, block.attn_norm.silu)
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = torch.chunk(modulation, 6, dim=1)
            norm = block.attn_norm.norm(h) * (1 + scale_msa[:, None]) + shift_msa[:, None]
            h = h + gate_msa.unsqueeze(1) * block.attn(x=norm, mask=mask, rope=rope)
            norm = block.ff_norm(h) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
            h = h + gate_mlp.unsqueeze(1) * block.ff(norm)
        if dit.long_skip_connection is not None:
            h = dit.long_skip_connection(torch.cat((h, residual), dim=-1))
        final = dit.norm_out
        scale, shift = torch.chunk(per_row(final.linear, final.silu), 2, dim=1)
        return final.norm(h) * (1 + scale)[:, None, :] + shift[:, None, :]
