"""Triton kernel: chunked causal linear attention over variable-length segments (``cu_seqlens``), one launch.

MoM's varlen trick regroups every (batch, memory) stream's routed tokens into one contiguous segment of a packed
array; segment ``g`` occupies rows ``cu_seqlens[g]:cu_seqlens[g+1]``. One program handles one segment and one block
of value columns: it walks the segment in chunks of ``BLOCK_C`` rows, computes the intra-chunk part
``mask(Q K^T) V`` and the inter-chunk read ``Q S`` with ``tl.dot``, writes the outputs, and updates its running state
``S += K^T V`` kept in registers (float32). ``REVERSE`` walks each segment from its end (anti-causal attention),
which is what the backward pass needs:

``dQ = causal(dO V^T) K``,  ``dK = anticausal(V dO^T) Q``,  ``dV = anticausal(K Q^T) dO``

i.e. the same kernel three times with the roles of ``q, k, v`` permuted. Empty segments cost one idle program.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from litlib.kernels import next_power_of_2


@triton.jit
def _varlen_linear_attention_kernel(  # type: ignore[no-untyped-def]
    Q,
    K,
    V,
    O,
    CU,
    DK,
    DV,
    REVERSE: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_V: tl.constexpr,
):
    seg = tl.program_id(0)
    cols_v = tl.program_id(1) * BLOCK_V + tl.arange(0, BLOCK_V)
    cols_k = tl.arange(0, BLOCK_K)
    vmask = cols_v < DV
    kmask = cols_k < DK
    start = tl.load(CU + seg).to(tl.int64)
    n = (tl.load(CU + seg + 1) - tl.load(CU + seg)).to(tl.int32)
    lanes = tl.arange(0, BLOCK_C)
    # causal[i, j]: row i (later in walking order) may read row j
    causal = lanes[:, None] >= lanes[None, :]
    state = tl.zeros([BLOCK_K, BLOCK_V], dtype=tl.float32)
    for c0 in range(0, n, BLOCK_C):
        steps = c0 + lanes
        valid = steps < n
        rows = start + ((n - 1 - steps) if REVERSE else steps)
        rows = tl.where(valid, rows, start)
        q = tl.load(Q + rows[:, None] * DK + cols_k[None, :], mask=valid[:, None] & kmask[None, :], other=0.0)
        k = tl.load(K + rows[:, None] * DK + cols_k[None, :], mask=valid[:, None] & kmask[None, :], other=0.0)
        v = tl.load(V + rows[:, None] * DV + cols_v[None, :], mask=valid[:, None] & vmask[None, :], other=0.0)
        q = q.to(tl.float32)
        k = k.to(tl.float32)
        v = v.to(tl.float32)
        scores = tl.dot(q, tl.trans(k), input_precision="ieee")
        scores = tl.where(causal, scores, 0.0)
        out = tl.dot(scores, v, input_precision="ieee") + tl.dot(q, state, input_precision="ieee")
        tl.store(
            O + rows[:, None] * DV + cols_v[None, :],
            out.to(O.dtype.element_ty),
            mask=valid[:, None] & vmask[None, :],
        )
        state += tl.dot(tl.trans(k), v, input_precision="ieee")


def varlen_linear_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    *,
    reverse: bool = False,
    chunk: int = 32,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Launch the kernel on packed ``q, k (N, d_k)``, ``v (N, d_v)``; no autograd here.

    ``out`` (contiguous, shaped like ``v``) receives the result when given; tests pass a NaN-filled buffer to catch
    rows the kernel fails to write.
    """
    q_c, k_c, v_c = q.contiguous(), k.contiguous(), v.contiguous()
    o = torch.empty_like(v_c) if out is None else out
    if o.shape != v_c.shape or not o.is_contiguous():
        raise ValueError(f"out must be contiguous with shape {tuple(v_c.shape)}")
    dk, dv = q_c.shape[1], v_c.shape[1]
    segments = cu_seqlens.numel() - 1
    if segments <= 0 or q_c.shape[0] == 0:
        return o
    block_k = max(next_power_of_2(dk), 16)  # tl.dot needs every dimension >= 16
    block_v = min(max(next_power_of_2(dv), 16), 64)
    block_c = max(min(next_power_of_2(chunk), 64), 16)
    cu = cu_seqlens.to(device=q.device, dtype=torch.int32).contiguous()
    grid = (segments, triton.cdiv(dv, block_v))
    _varlen_linear_attention_kernel[grid](
        q_c, k_c, v_c, o, cu, dk, dv, REVERSE=reverse, BLOCK_C=block_c, BLOCK_K=block_k, BLOCK_V=block_v
    )
    return o
