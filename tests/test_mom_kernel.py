"""The varlen chunked linear-attention Triton kernel against the per-segment recurrence, forward and backward."""

from __future__ import annotations

import pytest
import torch

from litlib.mom import MoMLayer, linear_attention_varlen
from litlib.testing import assert_close, nan_like

# Awkward segment lengths: empty, length 1, one short of two chunks, longer than a chunk with a ragged tail.
CASES = [[1], [0, 1, 63, 5], [17, 0, 33], [64, 2]]


def _packed(lengths: list[int], dk: int, dv: int, seed: int, device: torch.device):
    g = torch.Generator().manual_seed(seed)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int64)
    N = int(cu[-1])
    q = torch.randn(N, dk, generator=g) / dk**0.5
    k = torch.randn(N, dk, generator=g) / dk**0.5
    v = torch.randn(N, dv, generator=g)
    return (t.to(device) for t in (q, k, v, cu))


@pytest.mark.kernel
@pytest.mark.parametrize("lengths", CASES, ids=str)
def test_varlen_kernel_forward_backward(lengths: list[int], device: torch.device) -> None:
    q, k, v, cu = _packed(lengths, dk=5, dv=7, seed=len(lengths), device=device)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out = linear_attention_varlen(*leaves, cu, mode="triton", chunk=16)
    leaves64 = [t.double().cpu().clone().requires_grad_() for t in (q, k, v)]
    ref = linear_attention_varlen(*leaves64, cu.cpu(), mode="reference")
    assert_close(f"forward {lengths}", out.double().cpu(), ref, rtol=1e-5)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * w.to(device)).sum().backward()
    (ref * w.double()).sum().backward()
    for name, a, b in zip("qkv", leaves, leaves64):
        assert a.grad is not None and b.grad is not None
        assert_close(f"grad {name} {lengths}", a.grad.double().cpu(), b.grad, rtol=1e-5)


@pytest.mark.kernel
def test_varlen_kernel_writes_every_row_and_reverse(device: torch.device) -> None:
    from litlib.mom.triton import varlen_linear_attention_triton

    q, k, v, cu = _packed([3, 40, 0, 19], dk=20, dv=70, seed=7, device=device)  # two value blocks, ragged
    out = varlen_linear_attention_triton(q, k, v, cu, chunk=16, out=nan_like(v))
    ref = linear_attention_varlen(
        q.double().cpu(), k.double().cpu(), v.double().cpu(), cu.cpu(), mode="reference"
    )
    assert_close("poisoned forward", out.double().cpu(), ref, rtol=1e-5)
    # reverse = causal attention on each segment read backwards
    rev = varlen_linear_attention_triton(q, k, v, cu, reverse=True, chunk=16, out=nan_like(v))
    flip = torch.cat([torch.arange(int(cu[i + 1]) - 1, int(cu[i]) - 1, -1) for i in range(4)])
    ref_rev = linear_attention_varlen(q.double().cpu()[flip], k.double().cpu()[flip], v.double().cpu()[flip],
                                      cu.cpu(), mode="reference")  # fmt: skip
    assert_close("poisoned reverse", rev.double().cpu()[flip], ref_rev, rtol=1e-5)


@pytest.mark.kernel
def test_varlen_kernel_half_precision(device: torch.device) -> None:
    q, k, v, cu = _packed([31, 9], dk=16, dv=16, seed=3, device=device)
    out = linear_attention_varlen(q.half(), k.half(), v.half(), cu, mode="triton")
    assert out.dtype == torch.float16
    ref = linear_attention_varlen(
        q.double().cpu(), k.double().cpu(), v.double().cpu(), cu.cpu(), mode="reference"
    )
    assert_close("fp16", out.double().cpu(), ref, rtol=5e-3)


@pytest.mark.kernel
def test_layer_varlen_through_the_kernel(device: torch.device) -> None:
    """The whole MoM layer with the regrouped kernel path equals its recurrent form (values and gradients)."""
    torch.manual_seed(0)
    layer = MoMLayer(12, num_memories=3, topk=2, d_k=4, d_v=6, chunk_size=16).to(device)
    x = torch.randn(2, 21, 12, device=device)
    ref = layer(x, impl="recurrent").output
    from litlib.mom import varlen as varlen_mod

    out = layer(x, impl="varlen").output  # on CPU "auto" picks torch; check the kernel explicitly below
    assert_close("layer varlen (auto)", out.double(), ref.double(), rtol=1e-5)
    rg_mode = varlen_mod.linear_attention_varlen
    try:
        varlen_mod.linear_attention_varlen = lambda *a, **kw: rg_mode(*a, **{**kw, "mode": "triton"})  # type: ignore[assignment]
        out_k = layer(x, impl="varlen").output
    finally:
        varlen_mod.linear_attention_varlen = rg_mode  # type: ignore[assignment]
    assert_close("layer varlen (triton)", out_k.double(), ref.double(), rtol=1e-5)
