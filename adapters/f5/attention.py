"""Attention for padded batches on the torch backend, without upstream's mask blow-up.

Upstream's `AttnProcessor` (with `attn_mask_enabled`) expands the key-padding mask to a
full (batch, heads, n, n) tensor before `scaled_dot_product_attention`; on the CPU that
forces the slow math kernel and, measured at batch 2 x 1800 frames in bf16, makes the
whole DiT forward 1.8x slower than unmasked. Passing the same mask as a broadcastable
(batch, 1, 1, n) tensor keeps the fused kernel and gives the same result. The rotary
embedding is `rotary.rotate` (upstream's, bitwise, in fewer passes) on every path here;
the flash-attn backend is upstream's own code.

With `split_items` on (the eager CPU path), a padded batch instead runs attention item by
item over each item's own frames: the same kernel call, on the same shapes, as the item
alone, so an item's audio is bitwise the same in any batch (padded keys change the fused
kernel's blocking, by a few ulps); it also skips the padded keys' work. It reads the
lengths back to the host, so it is for eager runs only, never inside a captured graph.

`attend` is the kernel for unmasked attention (one item, or a whole unpadded batch): torch's
fused kernel by default (upstream's call, so unmasked results stay upstream's bitwise),
`onednn_attention` where the engine picks it on a CPU (see cpu_attention).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

from adapters.f5.cpu_attention import sdpa_attention
from adapters.f5.rotary import rotate


def make_processor(base: Any) -> Any:
    """An instance of the subclass below, configured like `base` (pe heads, backend)."""
    processor = _processor_class().__new__(_processor_class())
    processor.pe_attn_head = base.pe_attn_head
    processor.attn_backend = base.attn_backend
    processor.attn_mask_enabled = True
    processor.split_items = False
    processor.attend = sdpa_attention
    return processor


@functools.cache
def _processor_class() -> type:
    """Defined once (upstream's module is imported lazily, hence the function): one class
    for all blocks, so torch.compile's type guard holds across them instead of hitting
    its recompile limit after eight blocks."""
    modules = __import__("f5_tts.model.modules", fromlist=["modules"])

    class BroadcastMaskAttnProcessor(modules.AttnProcessor):
        def __call__(
            self, attn: Any, x: torch.Tensor, mask: torch.Tensor | None = None, rope: Any = None
        ) -> torch.Tensor:
            if self.attn_backend != "torch" or not self.attn_mask_enabled:
                return super().__call__(attn, x, mask=mask, rope=rope)
            batch = x.shape[0]
            query, key, value = attn.to_q(x), attn.to_k(x), attn.to_v(x)
            head_dim = key.shape[-1] // attn.heads
            query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
            key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
            value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
            if attn.q_norm is not None:
                query = attn.q_norm(query)
            if attn.k_norm is not None:
                key = attn.k_norm(key)
            if rope is not None:
                freqs, xpos_scale = rope
                q_scale, k_scale = (xpos_scale, xpos_scale**-1.0) if xpos_scale is not None else (1.0, 1.0)
                if self.pe_attn_head is not None:
                    pn = self.pe_attn_head
                    query[:, :pn] = rotate(query[:, :pn], freqs, q_scale)
                    key[:, :pn] = rotate(key[:, :pn], freqs, k_scale)
                else:
                    query = rotate(query, freqs, q_scale)
                    key = rotate(key, freqs, k_scale)
            if mask is None:
                out = self.attend(query, key, value)
            elif self.split_items:
                out = query.new_zeros(batch, query.shape[2], attn.heads * head_dim)
                for row, length in enumerate(mask.sum(dim=1).tolist()):
                    rows = slice(row, row + 1)
                    out[row, :length] = self.attend(
                        query[rows, :, :length], key[rows, :, :length], value[rows, :, :length]
                    )[0]
            else:
                out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask[:, None, None, :])
                out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
            out = attn.to_out[1](attn.to_out[0](out))
            return out if mask is None else out.masked_fill(~mask.unsqueeze(-1), 0.0)

    return BroadcastMaskAttnProcessor
