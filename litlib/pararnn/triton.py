"""Fused ParaGRU forward kernel: all Newton iterations for a tile of time steps in one program.

One program owns a (sequence, block of channels) pair and walks time in tiles of ``BLOCK_L`` steps. For each tile
it loads the projections once, starts from the exact state carried out of the previous tile, runs ``K`` Newton
iterations (cell, hand-derived Jacobian, ``tl.associative_scan`` for the linear solve) with the iterate in registers,
and writes the states once. The shift ``h_{t-1}`` crosses rows of the register tile, so each iteration stages the
iterate through the output buffer (one write and one shifted read, in L1/L2) behind a barrier.

Tile-wise Newton is the official fused CUDA kernel's scheme: every tile starts from the converged end of the previous
one, so after ``K`` iterations each tile is at least as accurate as global Newton after ``K`` iterations, and exact
once ``K >= BLOCK_L - 1`` (finite termination within a tile).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from litlib.kernels import next_power_of_2
from litlib.scan.triton import _combine_diag


@triton.jit
def _gru_cell(hp, uz, ur, uc, az, ar, ac):  # type: ignore[no-untyped-def]
    z = tl.sigmoid(az * hp + uz)
    r = tl.sigmoid(ar * hp + ur)
    c = 2 * tl.sigmoid(2 * (ac * (r * hp) + uc)) - 1  # tanh
    f = (1 - z) * hp + z * c
    jac = (1 - z) + (c - hp) * z * (1 - z) * az + z * (1 - c * c) * ac * (r + hp * r * (1 - r) * ar)
    return f, jac


@triton.jit
def _paragru_newton_kernel(  # type: ignore[no-untyped-def]
    U, AZ, AR, AC, H, L, D, K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_D: tl.constexpr
):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < D
    az = tl.load(AZ + cols, mask=cmask, other=0.0)[None, :]
    ar = tl.load(AR + cols, mask=cmask, other=0.0)[None, :]
    ac = tl.load(AC + cols, mask=cmask, other=0.0)[None, :]
    lanes = tl.arange(0, BLOCK_L)
    u_base = row.to(tl.int64) * L * 3 * D
    h_base = row.to(tl.int64) * L * D
    carry = tl.zeros([BLOCK_D], dtype=tl.float32)
    for start in range(0, L, BLOCK_L):
        t = start + lanes
        mask = (t < L)[:, None] & cmask[None, :]
        u_offs = u_base + t[:, None] * 3 * D + cols[None, :]
        uz = tl.load(U + u_offs, mask=mask, other=0.0).to(tl.float32)
        ur = tl.load(U + u_offs + D, mask=mask, other=0.0).to(tl.float32)
        uc = tl.load(U + u_offs + 2 * D, mask=mask, other=0.0).to(tl.float32)
        h_offs = h_base + t[:, None] * D + cols[None, :]
        first = (lanes == 0)[:, None]
        # initial guess: one cell step from the carried state (first row: exact) or from zero (other rows)
        hp = tl.where(first, carry[None, :], 0.0)
        h, _ = _gru_cell(hp, uz, ur, uc, az, ar, ac)
        for _ in tl.static_range(K):
            tl.store(H + h_offs, h, mask=mask)
            tl.debug_barrier()
            prev = tl.load(H + h_offs - D, mask=mask & ~first, other=0.0)
            tl.debug_barrier()
            hp = tl.where(first, carry[None, :], prev)
            f, jac = _gru_cell(hp, uz, ur, uc, az, ar, ac)
            jac = tl.where(first, 0.0, jac)  # the tile's first state has a known predecessor
            _, delta = tl.associative_scan((jac, f - h), 0, _combine_diag)
            h = h + delta
        tl.store(H + h_offs, h.to(H.dtype.element_ty), mask=mask)
        last = tl.minimum(L - start, BLOCK_L) - 1
        carry = tl.sum(tl.where((lanes == last)[:, None], h, 0.0), axis=0)


def paragru_newton_fused(
    u: torch.Tensor, a: torch.Tensor, iters: int = 3, block_l: int = 64, out: torch.Tensor | None = None
) -> torch.Tensor:
    """ParaGRU trajectory from projections ``u`` ``(B, L, 3, d)`` and recurrent weights ``a`` ``(3, d)``; no autograd.

    ``block_l`` (a power of two) is the tile length; ``out`` (contiguous ``(B, L, d)``) receives the result.
    """
    if u.dim() != 4 or u.shape[2] != 3:
        raise ValueError(f"u must have shape (batch, length, 3, d); got {tuple(u.shape)}")
    if a.shape != (3, u.shape[3]):
        raise ValueError(f"a must have shape (3, {u.shape[3]}); got {tuple(a.shape)}")
    if block_l < 1 or block_l & (block_l - 1):
        raise ValueError(f"block_l must be a power of two; got {block_l}")
    B, L, _, D = u.shape
    u_c = u.contiguous()
    a_c = a.to(torch.float32).contiguous()
    h = torch.empty(B, L, D, dtype=u.dtype, device=u.device) if out is None else out
    if B * L * D == 0:
        return h
    BLOCK_D = min(next_power_of_2(D), 32)
    grid = (B, math.ceil(D / BLOCK_D))
    _paragru_newton_kernel[grid](
        u_c,
        a_c[0],
        a_c[1],
        a_c[2],
        h,
        L,
        D,
        K=iters,
        BLOCK_L=min(block_l, next_power_of_2(L)),
        BLOCK_D=BLOCK_D,
    )
    return h
