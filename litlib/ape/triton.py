"""Triton kernel for APE's query-phase attention: one pass over the keys, two online-softmax accumulators.

One program handles ``BLOCK_M`` queries of one (batch, head). It walks the keys in tiles of ``BLOCK_N``; each tile's
logits ``s = q k^T / sqrt(d)`` feed two running softmaxes — the context block at logit scale ``1/T`` and the other
block at scale 1 with the bottom-right causal mask — each a triple (running max ``m``, running sum ``l``,
unnormalised output ``acc``). At the end the blocks' log-sum-exps ``m + log l`` are merged with weights
``softmax([S T lse_C, lse_O])`` (derivation 1). Everything is accumulated in float32 whatever the storage dtype.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from litlib.kernels import next_power_of_2

_NEG = (
    -1.0e30
)  # a finite "minus infinity" for running maxima, so that exp(m_old - m_new) never sees inf - inf


@triton.jit
def _online_update(m, l, acc, z, v):  # type: ignore[no-untyped-def]
    """Fold a tile of logits ``z`` (masked entries -inf) and values ``v`` into ``(m, l, acc)``."""
    m_new = tl.maximum(m, tl.max(z, axis=1))
    alpha = tl.exp(m - m_new)
    p = tl.exp(z - m_new[:, None])
    l = l * alpha + tl.sum(p, axis=1)
    acc = acc * alpha[:, None] + tl.dot(p, v, input_precision="ieee")
    return m_new, l, acc


@triton.jit
def _ape_kernel(  # type: ignore[no-untyped-def]
    Q,
    K,
    V,
    CTX,
    VALID,
    O,
    H,
    Tq,
    Tk,
    D,
    sm_scale,
    inv_temperature,
    merge_exponent,
    CAUSAL: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    b = bh // H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, BLOCK_D)
    rmask, dmask = rows < Tq, dims < D
    q = tl.load(
        Q + bh * Tq * D + rows[:, None] * D + dims[None, :], mask=rmask[:, None] & dmask[None, :], other=0.0
    )
    q = q.to(tl.float32)
    m_c = tl.full([BLOCK_M], _NEG, tl.float32)
    m_o = tl.full([BLOCK_M], _NEG, tl.float32)
    l_c = tl.zeros([BLOCK_M], tl.float32)
    l_o = tl.zeros([BLOCK_M], tl.float32)
    acc_c = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    acc_o = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for start in range(0, Tk, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        cmask = cols < Tk
        kv_offs = bh * Tk * D + cols[:, None] * D + dims[None, :]
        kv_mask = cmask[:, None] & dmask[None, :]
        k = tl.load(K + kv_offs, mask=kv_mask, other=0.0).to(tl.float32)
        v = tl.load(V + kv_offs, mask=kv_mask, other=0.0).to(tl.float32)
        is_ctx = tl.load(CTX + b * Tk + cols, mask=cmask, other=0) != 0
        valid = (tl.load(VALID + b * Tk + cols, mask=cmask, other=0) != 0) & cmask
        s = tl.dot(q, tl.trans(k), input_precision="ieee") * sm_scale
        allowed = valid[None, :] & rmask[:, None]
        if CAUSAL:
            allowed = allowed & (cols[None, :] <= rows[:, None] + (Tk - Tq))
        z_c = tl.where(allowed & is_ctx[None, :], s * inv_temperature, float("-inf"))
        z_o = tl.where(allowed & (~is_ctx[None, :]), s, float("-inf"))
        m_c, l_c, acc_c = _online_update(m_c, l_c, acc_c, z_c, v)
        m_o, l_o, acc_o = _online_update(m_o, l_o, acc_o, z_o, v)
    # merge: an empty block gets lse = _NEG (weight 0) and output 0; a row that sees no key at all returns 0
    lse_c = tl.where(l_c > 0, m_c + tl.log(tl.where(l_c > 0, l_c, 1.0)), _NEG)
    lse_o = tl.where(l_o > 0, m_o + tl.log(tl.where(l_o > 0, l_o, 1.0)), _NEG)
    a = merge_exponent * lse_c
    top = tl.maximum(a, lse_o)
    w_c = tl.exp(a - top)
    w_o = tl.exp(lse_o - top)
    o_c = acc_c / tl.where(l_c > 0, l_c, 1.0)[:, None]
    o_o = acc_o / tl.where(l_o > 0, l_o, 1.0)[:, None]
    out = (w_c[:, None] * o_c + w_o[:, None] * o_o) / (w_c + w_o)[:, None]
    tl.store(
        O + bh * Tq * D + rows[:, None] * D + dims[None, :],
        out.to(O.dtype.element_ty),
        mask=rmask[:, None] & dmask[None, :],
    )


def ape_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    key_valid: torch.Tensor,
    temperature: float,
    scaling: float,
    causal: bool = True,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the kernel (no autograd here); ``out`` (contiguous, shaped like ``q``) receives the result if given.

    Tests pass a NaN-filled ``out`` to catch entries the kernel forgets to write.
    """
    b, h, tq, d = q.shape
    tk = k.shape[2]
    qc, kc, vc = q.contiguous(), k.contiguous(), v.contiguous()
    o = torch.empty_like(qc) if out is None else out
    if o.shape != qc.shape or not o.is_contiguous():
        raise ValueError(f"out must be contiguous with shape {tuple(qc.shape)}")
    ctx8 = context_keys.to(torch.int8).contiguous()
    valid8 = key_valid.to(torch.int8).contiguous()
    block_d = max(16, next_power_of_2(d))
    block_m = 16 if tq <= 16 else 32
    block_n = 32
    grid = (triton.cdiv(tq, block_m), b * h)
    if b * h > 0 and tq > 0:
        _ape_kernel[grid](
            qc,
            kc,
            vc,
            ctx8,
            valid8,
            o,
            h,
            tq,
            tk,
            d,
            1.0 / math.sqrt(d),
            1.0 / temperature,
            scaling * temperature,
            CAUSAL=causal,
            BLOCK_M=block_m,
            BLOCK_N=block_n,
            BLOCK_D=block_d,
        )
    return o
