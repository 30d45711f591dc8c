"""oneDNN-packed Linears: which layers are replaced, that they compute the same thing, and
that a torch build without the ops keeps the plain layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adapters.f5 import cpu_linear
from adapters.f5.cpu_linear import PackedLinear, pack_linears, packing_works


class Block(nn.Module):
    """The shapes the DiT has (bare Linears, Linear + GELU in a Sequential, a Linear followed
    by something else) and a subclass of Linear, which is not ours to replace."""

    def __init__(self) -> None:
        super().__init__()
        self.to_q = nn.Linear(16, 16)
        self.ff = nn.Sequential(nn.Sequential(nn.Linear(16, 32), nn.GELU(approximate="tanh")), nn.Linear(32, 16))
        self.other = nn.Sequential(nn.Linear(16, 16), nn.SiLU())
        self.no_bias = nn.Linear(16, 16, bias=False)
        self.special = nn.modules.linear.NonDynamicallyQuantizableLinear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.special(self.no_bias(self.other(self.ff(self.to_q(x)))))


needs_packing = pytest.mark.skipif(not packing_works(torch.float32), reason="torch built without oneDNN linears")


def _model(dtype: torch.dtype) -> Block:
    torch.manual_seed(0)
    return Block().to(dtype).eval()


@needs_packing
def test_replaces_linears_and_fuses_gelu_only_inside_its_sequential() -> None:
    model = _model(torch.float32)
    assert pack_linears(model) == 5
    assert isinstance(model.to_q, PackedLinear) and model.to_q.gelu is None
    fused = model.ff[0]
    assert isinstance(fused, PackedLinear) and fused.gelu == "tanh"
    assert (fused.in_features, fused.out_features) == (16, 32)
    assert isinstance(model.ff[1], PackedLinear)
    assert isinstance(model.other[0], PackedLinear) and isinstance(model.other[1], nn.SiLU)
    assert model.no_bias.bias is None
    # a subclass may be read by weight elsewhere (MultiheadAttention reads its out_proj's)
    assert type(model.special) is nn.modules.linear.NonDynamicallyQuantizableLinear
    assert not any(type(m) is nn.Linear for m in model.modules())


@needs_packing
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_packed_model_computes_what_the_plain_one_does(dtype: torch.dtype, tolerance: float) -> None:
    if not packing_works(dtype):
        pytest.skip(f"no packed {dtype} linears in this build")
    plain, packed = _model(dtype), _model(dtype)
    pack_linears(packed)
    x = torch.randn(2, 7, 16).to(dtype)  # a batch of sequences, as the DiT passes them
    with torch.inference_mode():
        want, got = plain(x).float(), packed(x).float()
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=tolerance, atol=tolerance)


@needs_packing
def test_fused_gelu_is_applied() -> None:
    linear = nn.Linear(8, 8).eval()
    x = torch.randn(4, 8) * 3
    with torch.inference_mode():
        fused = PackedLinear(linear, gelu="none")(x)
        torch.testing.assert_close(fused, F.gelu(linear(x)), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(fused, linear(x), atol=1e-3)


def test_gelu_variant_onednn_cannot_fuse_stays_a_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    seq = nn.Sequential(nn.Linear(8, 8), nn.GELU(approximate="tanh"))
    monkeypatch.setattr(cpu_linear, "FUSABLE_GELU", frozenset({"none"}))
    assert not cpu_linear._fusable_pair(seq)
    monkeypatch.setattr(cpu_linear, "FUSABLE_GELU", frozenset({"none", "tanh"}))
    assert cpu_linear._fusable_pair(seq)


def test_no_onednn_means_no_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not packing_works(torch.float32)


def test_a_failing_or_wrong_packed_op_means_no_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    class Missing(PackedLinear):
        def __init__(self, linear: nn.Linear, gelu: str | None = None) -> None:
            raise RuntimeError("no reorder for this dtype on this platform")

    class Wrong(nn.Module):
        def __init__(self, linear: nn.Linear, gelu: str | None = None) -> None:
            super().__init__()
            self.out = linear.out_features

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(*x.shape[:-1], self.out, dtype=x.dtype)

    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    monkeypatch.setattr(cpu_linear, "PackedLinear", Missing)
    assert not packing_works(torch.float32)
    monkeypatch.setattr(cpu_linear, "PackedLinear", Wrong)
    assert not packing_works(torch.float32)
