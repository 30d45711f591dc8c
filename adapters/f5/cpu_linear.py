"""The DiT's Linear layers as oneDNN runs them best on a CPU: weights reordered once.

Eager `nn.Linear` on a CPU sends fp32 to MKL, which on AMD processors runs its AVX2 code
(measured on a 2-core AVX-512 EPYC: 230 GFLOP/s, where oneDNN's packed kernel makes 510), and
sends bf16 to oneDNN, which then reorders the weight into its blocked layout on every call.
Reordering each weight once at load time (`mkldnn._reorder_linear_weight`, the op
torch.compile's CPU freezing uses) and calling oneDNN's `_linear_pointwise` removes both costs,
and where a Linear is directly followed by a GELU (the DiT's feed-forward) the GELU runs inside
the same kernel on the fp32 accumulator. Measured on that EPYC, one guided DiT forward at 760
frames: bf16 1.45 s -> 1.34 s, fp32 3.55 s -> 2.06 s (benchmarks/results/engine-cpu.txt).

Unfused bf16 output is bitwise the same as `nn.Linear`'s; fp32 and the fused GELU differ by
rounding only (the GELU sees the accumulator before it is rounded to bf16, not after).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: GELU variants oneDNN fuses (`nn.GELU.approximate` values)
FUSABLE_GELU = frozenset({"none", "tanh"})


class PackedLinear(nn.Module):
    """`linear` (optionally followed by GELU with `gelu` as its `approximate`), weight
    reordered for oneDNN; inference only (the packed weight is a buffer, not a parameter)."""

    def __init__(self, linear: nn.Linear, gelu: str | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.register_buffer("packed_weight", torch.ops.mkldnn._reorder_linear_weight(weight, None))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach())
        self.gelu = gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attr, algorithm = ("gelu", self.gelu) if self.gelu is not None else ("none", "")
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, attr, [], algorithm)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, gelu={self.gelu}"


def pack_linears(module: nn.Module) -> int:
    """Replaces every `nn.Linear` under `module` by a PackedLinear, in place, fusing a GELU
    that directly follows one inside an `nn.Sequential`; returns how many were packed."""
    packed = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Sequential) and _fusable_pair(child):
            setattr(module, name, PackedLinear(child[0], gelu=child[1].approximate))
            packed += 1
        elif type(child) is nn.Linear:
            setattr(module, name, PackedLinear(child))
            packed += 1
        else:
            packed += pack_linears(child)
    return packed


def _fusable_pair(seq: nn.Sequential) -> bool:
    return (
        len(seq) == 2
        and type(seq[0]) is nn.Linear
        and isinstance(seq[1], nn.GELU)
        and seq[1].approximate in FUSABLE_GELU
    )


def packing_works(dtype: torch.dtype) -> bool:
    """Whether this torch build runs packed Linears on this CPU in `dtype`, and right.

    The ops exist only where torch was built with oneDNN, and some builds (non-x86 ones)
    lack a reorder for some dtypes; a tiny layer is packed and compared with `F.linear`
    instead of guessing from the platform. Any failure means: keep the plain layers."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        generator = torch.Generator().manual_seed(0)
        linear = nn.Linear(32, 16).to(dtype)
        x = torch.randn(3, 32, generator=generator).to(dtype)
        with torch.inference_mode():
            got = PackedLinear(linear)(x)
            want = F.linear(x, linear.weight, linear.bias)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    return got.shape == want.shape and torch.allclose(got.float(), want.float(), rtol=1e-2, atol=1e-2)
