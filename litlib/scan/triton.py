"""Triton kernels for the linear recurrence, one program per (row, block of channels).

Each program walks the sequence in tiles of ``BLOCK_L`` steps. Inside a tile ``tl.associative_scan`` composes the
affine maps ``y -> A_t y + b_t`` (depth ``log BLOCK_L``); the state at the end of a tile is carried into the next
in registers, so ``A`` and ``b`` are read once and ``y`` written once: the scan is memory-bound at one pass. The
reverse direction reads the tiles from the end. Computation is in float32 whatever the storage dtype.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from litlib.kernels import next_power_of_2
from litlib.scan.reference import time_dim


@triton.jit
def _combine_diag(a_early, b_early, a_late, b_late):  # type: ignore[no-untyped-def]
    return a_late * a_early, a_late * b_early + b_late


@triton.jit
def _combine_block2(p11, p12, p21, p22, u1, u2, q11, q12, q21, q22, v1, v2):  # type: ignore[no-untyped-def]
    # (q, v) is the later map: result = (Q P, Q u + v).
    return (
        q11 * p11 + q12 * p21,
        q11 * p12 + q12 * p22,
        q21 * p11 + q22 * p21,
        q21 * p12 + q22 * p22,
        q11 * u1 + q12 * u2 + v1,
        q21 * u1 + q22 * u2 + v2,
    )


@triton.jit
def _scan_diag_kernel(  # type: ignore[no-untyped-def]
    A,
    B,
    H0,
    Y,
    L,
    D,
    HAS_H0: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < D
    base = row.to(tl.int64) * L * D
    if HAS_H0:
        carry = tl.load(H0 + row * D + cols, mask=cmask, other=0.0).to(tl.float32)
    else:
        carry = tl.zeros([BLOCK_D], dtype=tl.float32)
    lanes = tl.arange(0, BLOCK_L)
    for start in range(0, L, BLOCK_L):
        steps = start + lanes
        t = (L - 1 - steps) if REVERSE else steps
        mask = (steps < L)[:, None] & cmask[None, :]
        offs = base + t[:, None] * D + cols[None, :]
        a = tl.load(A + offs, mask=mask, other=1.0).to(tl.float32)
        b = tl.load(B + offs, mask=mask, other=0.0).to(tl.float32)
        a_cum, y_loc = tl.associative_scan((a, b), 0, _combine_diag)
        y = y_loc + a_cum * carry[None, :]
        tl.store(Y + offs, y.to(Y.dtype.element_ty), mask=mask)
        last = tl.minimum(L - start, BLOCK_L) - 1
        carry = tl.sum(tl.where((lanes == last)[:, None], y, 0.0), axis=0)


@triton.jit
def _scan_block2_kernel(  # type: ignore[no-untyped-def]
    A,
    B,
    H0,
    Y,
    L,
    D,
    HAS_H0: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    cmask = cols < D
    base = row.to(tl.int64) * L * D
    if HAS_H0:
        c1 = tl.load(H0 + (row * D + cols) * 2, mask=cmask, other=0.0).to(tl.float32)
        c2 = tl.load(H0 + (row * D + cols) * 2 + 1, mask=cmask, other=0.0).to(tl.float32)
    else:
        c1 = tl.zeros([BLOCK_D], dtype=tl.float32)
        c2 = tl.zeros([BLOCK_D], dtype=tl.float32)
    lanes = tl.arange(0, BLOCK_L)
    for start in range(0, L, BLOCK_L):
        steps = start + lanes
        t = (L - 1 - steps) if REVERSE else steps
        mask = (steps < L)[:, None] & cmask[None, :]
        cell = base + t[:, None] * D + cols[None, :]
        a11 = tl.load(A + cell * 4, mask=mask, other=1.0).to(tl.float32)
        a12 = tl.load(A + cell * 4 + 1, mask=mask, other=0.0).to(tl.float32)
        a21 = tl.load(A + cell * 4 + 2, mask=mask, other=0.0).to(tl.float32)
        a22 = tl.load(A + cell * 4 + 3, mask=mask, other=1.0).to(tl.float32)
        b1 = tl.load(B + cell * 2, mask=mask, other=0.0).to(tl.float32)
        b2 = tl.load(B + cell * 2 + 1, mask=mask, other=0.0).to(tl.float32)
        p11, p12, p21, p22, y1, y2 = tl.associative_scan((a11, a12, a21, a22, b1, b2), 0, _combine_block2)
        y1 = y1 + p11 * c1[None, :] + p12 * c2[None, :]
        y2 = y2 + p21 * c1[None, :] + p22 * c2[None, :]
        tl.store(Y + cell * 2, y1.to(Y.dtype.element_ty), mask=mask)
        tl.store(Y + cell * 2 + 1, y2.to(Y.dtype.element_ty), mask=mask)
        last = (lanes == tl.minimum(L - start, BLOCK_L) - 1)[:, None]
        c1 = tl.sum(tl.where(last, y1, 0.0), axis=0)
        c2 = tl.sum(tl.where(last, y2, 0.0), axis=0)


def scan_triton(
    A: torch.Tensor,
    b: torch.Tensor,
    structure: str,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scan with the Triton kernel (forward, or ``reverse`` for ``y_t = A_t y_{t+1} + b_t``); no autograd here.

    ``out`` (contiguous, shaped like ``b``) receives the result when given; tests pass a NaN-filled buffer to catch
    entries the kernel fails to write.
    """
    tdim = time_dim(b, structure)
    L = b.shape[tdim]
    D = b.shape[tdim + 1]
    rows = math.prod(b.shape[:tdim])
    A_c, b_c = A.contiguous(), b.contiguous()
    y = torch.empty_like(b_c) if out is None else out
    if y.shape != b_c.shape or not y.is_contiguous():
        raise ValueError(f"out must be contiguous with shape {tuple(b_c.shape)}")
    h0_c = h0.contiguous() if h0 is not None else b_c  # dummy pointer when absent
    BLOCK_L = min(next_power_of_2(L), 128)
    BLOCK_D = min(next_power_of_2(D), 32 if structure == "diag" else 16)
    kernel = _scan_diag_kernel if structure == "diag" else _scan_block2_kernel
    grid = (max(rows, 1), triton.cdiv(D, BLOCK_D))
    if L > 0 and rows > 0:
        kernel[grid](
            A_c, b_c, h0_c, y, L, D, HAS_H0=h0 is not None, REVERSE=reverse, BLOCK_L=BLOCK_L, BLOCK_D=BLOCK_D
        )
    return y
