"""Fused Triton kernel for M1: tree noise generated on the fly, added to the counts, and reduced by a max.

Each program owns a tile of ``BLOCK_T`` steps by ``BLOCK_D`` columns. For every level ``h`` whose bit is set in
``t`` it draws the node noise of node ``(h, t >> h)`` of column ``j`` from a counter-based generator (Philox) keyed
by ``(h, t >> h, j)``: every prefix that contains a node sees the same value without storing it, so the tree's
noise structure (variance ``sigma^2 popcount(t)``, covariance through shared blocks) holds exactly. The tile is then
reduced to a max and argmax over its columns; only ``T`` values (and indices) per column block are written, instead
of the ``d T H`` floats a materialised implementation moves. The random numbers differ from the PyTorch path's, so
the two agree in distribution, not bitwise.

Import this module only where Triton can run (CUDA, or CPU under ``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _tree_max_kernel(  # type: ignore[no-untyped-def]
    counts_ptr,
    val_ptr,
    idx_ptr,
    all_ptr,
    T,
    W,
    D_TOTAL,
    COL_OFFSET,
    H,
    sigma,
    seed,
    WRITE_ALL: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid_t = tl.program_id(0)
    pid_d = tl.program_id(1)
    t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T) + 1  # 1-based times
    j = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)  # local columns
    tmask = t <= T
    jmask = j < W
    mask = tmask[:, None] & jmask[None, :]
    rows = (t - 1).to(tl.int64)
    vals = tl.load(counts_ptr + rows[:, None] * W + j[None, :], mask=mask, other=0).to(tl.float32)
    column = (COL_OFFSET + j).to(tl.int64)
    for h in range(H):
        node = t >> h
        # unique counter per (level, node, global column): levels are laid out T + 1 nodes apart
        key = ((h * (T + 1) + node).to(tl.int64))[:, None] * D_TOTAL + column[None, :]
        z = tl.randn(seed, key)
        vals += tl.where(((node & 1) == 1)[:, None], z * sigma, 0.0)
    if WRITE_ALL:
        tl.store(all_ptr + rows[:, None] * W + j[None, :], vals, mask=mask)
    vals = tl.where(jmask[None, :], vals, float("-inf"))
    best = tl.max(vals, axis=1)
    arg = tl.argmax(vals, axis=1) + pid_d * BLOCK_D
    out = pid_d.to(tl.int64) * T + rows
    tl.store(val_ptr + out, best, mask=tmask)
    tl.store(idx_ptr + out, arg.to(tl.int64), mask=tmask)


def tree_max_tile(
    counts: torch.Tensor,
    sigma: float,
    seed: int,
    col_offset: int,
    d_total: int,
    height: int,
    *,
    block_t: int = 64,
    block_d: int = 64,
    write_all: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Noisy max over the columns of ``counts`` at every step, with on-the-fly tree noise.

    Args:
        counts: ``(T, W)`` exact running counts (int32 or float32) of ``W`` columns, contiguous.
        sigma: per-node Gaussian noise scale.
        seed: Philox seed (the same seed and global column give the same node noise in any chunking).
        col_offset: global index of the first column of ``counts``.
        d_total: number of columns of the whole table (keys the generator).
        height: number of tree levels ``H``.
        block_t: steps per program (power of two).
        block_d: columns per program (power of two).
        write_all: also return the ``(T, W)`` noisy counts (for tests; costs the memory the kernel saves).

    Returns:
        ``(values, indices, noisy)``: the ``(T,)`` max and global argmax, and the noisy counts or ``None``.
    """
    T, W = counts.shape
    counts = counts.contiguous()
    blocks = triton.cdiv(W, block_d)
    part_val = torch.empty((blocks, T), dtype=torch.float32, device=counts.device)
    part_idx = torch.empty((blocks, T), dtype=torch.int64, device=counts.device)
    noisy = torch.empty((T, W), dtype=torch.float32, device=counts.device) if write_all else part_val
    grid = (triton.cdiv(T, block_t), blocks)
    _tree_max_kernel[grid](
        counts,
        part_val,
        part_idx,
        noisy,
        T,
        W,
        d_total,
        col_offset,
        height,
        float(sigma),
        int(seed),
        WRITE_ALL=write_all,
        BLOCK_T=block_t,
        BLOCK_D=block_d,
    )
    best = part_val.max(dim=0)
    index = part_idx.gather(0, best.indices[None, :]).squeeze(0) + col_offset
    return best.values, index, (noisy if write_all else None)
