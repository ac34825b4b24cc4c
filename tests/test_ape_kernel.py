"""APE's Triton query-phase kernel against the dense shifted-logits formula, forward and backward.

On CPU the kernel runs under the Triton interpreter (tests/conftest.py sets TRITON_INTERPRET=1), so sizes are small;
with LITLIB_KERNELS_COMPILED=1 on a GPU the same tests run compiled.
"""

from __future__ import annotations

import pytest
import torch

from litlib.ape import ApeAttention, ape_attention, query_mask
from litlib.ape.reference import shifted_logits_attention
from litlib.kernels import triton_usable
from litlib.testing import assert_close, nan_like

pytestmark = pytest.mark.kernel


def _skip_without_triton(device: torch.device) -> None:
    if not triton_usable(device):
        pytest.skip("Triton cannot run here (not installed, or no interpreter on CPU)")


def _inputs(b, h, tq, tk, d, dtype, device, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, h, t, d, generator=g).to(device=device, dtype=dtype) for t in (tq, tk, tk))
    ctx = torch.zeros(b, tk, dtype=torch.bool)
    n_ctx = max(0, tk - tq - 2)
    ctx[:, 2 : 2 + n_ctx] = True  # [prefix | contexts | query], as APE's cache is laid out
    valid = torch.rand(b, tk, generator=g) < 0.85
    valid[:, tk - tq :] = True
    return q, k, v, ctx.to(device), valid.to(device)


# (Tq, Tk, head_dim): a single decode step, a prefill longer than one key tile, odd sizes, an empty context block
CASES = [(1, 1, 8), (1, 63, 16), (3, 37, 12), (17, 70, 16), (5, 7, 6)]


@pytest.mark.parametrize("tq,tk,d", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_kernel_forward_matches_dense_formula(device: torch.device, tq: int, tk: int, d: int, dtype) -> None:
    _skip_without_triton(device)
    from litlib.ape.triton import ape_attention_triton

    q, k, v, ctx, valid = _inputs(2, 3, tq, tk, d, dtype, device, seed=tq * 100 + tk)
    for temperature, scaling in [(1.0, 1.0), (0.6, 0.9), (0.9, 1.3)]:
        out = ape_attention_triton(q, k, v, ctx, valid, temperature, scaling, out=nan_like(q))
        ref = shifted_logits_attention(
            q.double(), k.double(), v.double(), ctx, query_mask(valid, tq), temperature, scaling
        )
        tol = 1e-5 if dtype == torch.float32 else 3e-3
        assert_close(
            f"kernel T={temperature} S={scaling} ({tq},{tk},{d}) {dtype}", out.double(), ref, rtol=tol
        )


def test_kernel_non_causal_and_all_context(device: torch.device) -> None:
    _skip_without_triton(device)
    q, k, v, _, valid = _inputs(1, 2, 4, 20, 16, torch.float32, device, seed=5)
    ctx = torch.ones(1, 20, dtype=torch.bool, device=device)
    out = ape_attention(q, k, v, ctx, valid, temperature=0.7, scaling=0.8, causal=False, mode="triton")
    ref = shifted_logits_attention(
        q.double(), k.double(), v.double(), ctx, query_mask(valid, 4, False), 0.7, 0.8
    )
    assert_close("non-causal, all context", out.double(), ref, rtol=1e-5)


def test_kernel_backward_matches_torch_path(device: torch.device) -> None:
    _skip_without_triton(device)
    q, k, v, ctx, valid = _inputs(2, 2, 3, 41, 16, torch.float32, device, seed=7)
    w = torch.randn_like(q)
    grads = {}
    for mode in ("torch", "triton"):
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        out = ape_attention(*leaves, ctx, valid, temperature=0.8, scaling=0.9, mode=mode)
        grads[mode] = torch.autograd.grad((out * w).sum(), leaves)
    for name, g_ref, g in zip("qkv", grads["torch"], grads["triton"]):
        assert_close(f"grad {name}", g, g_ref, rtol=1e-5)


def test_ape_attention_plugin_uses_kernel_inside_the_model(device: torch.device) -> None:
    _skip_without_triton(device)
    from litlib.ape import build_cache, query_over_cache
    from litlib.transformer import DecoderLM

    torch.manual_seed(0)
    lm = DecoderLM(31, d_model=32, n_heads=2, n_layers=2).to(device).eval()
    g = torch.Generator().manual_seed(1)
    prefix = torch.randint(0, 31, (2, 2), generator=g).to(device)
    contexts = torch.randint(0, 31, (2, 3, 5), generator=g).to(device)
    query = torch.randint(0, 31, (2, 3), generator=g).to(device)
    with torch.no_grad():
        cache, seg = build_cache(lm, prefix, contexts, "ape")
        a = query_over_cache(lm, cache, seg, query, temperature=0.7, scaling=0.9, mode="torch").logits
        b = query_over_cache(lm, cache, seg, query, temperature=0.7, scaling=0.9, mode="triton").logits
    assert_close("model logits, triton vs torch", b, a, rtol=1e-5)
    with pytest.raises(ValueError, match="context_keys"):
        ApeAttention(seg == 1, mode="triton")(
            torch.zeros(1, 1, 1, 4),
            torch.zeros(1, 1, 1, 4),
            torch.zeros(1, 1, 1, 4),
            torch.ones(1, 1, 1, 1),
            0,
        )
