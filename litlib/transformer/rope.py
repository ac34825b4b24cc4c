"""Rotary position embeddings (RoPE) with *explicit* position ids.

Positions are an input of shape ``(B, T)``, never implied by the token index: parallel encoding reuses the same
positions for several contexts, and a cached key keeps the position it was encoded at.

With pairs ``(x_{2i}, x_{2i+1})`` stored as the two halves of the head dimension, position ``m`` rotates pair ``i``
by the angle ``m * theta_i`` with ``theta_i = base^{-2i/d}``. Because rotations compose,
``rope(q, m) . rope(k, n) = q . R((n - m) theta) k``: the score depends on positions only through ``m - n``.
"""

from __future__ import annotations

import torch


def rope_angles(
    positions: torch.Tensor, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of the rotation angles, each ``(B, 1, T, head_dim // 2)`` (broadcast over heads).

    Args:
        positions: ``(B, T)`` integer or float position ids.
        head_dim: the (even) head dimension.
        base: the RoPE base.

    Raises:
        ValueError: if ``head_dim`` is odd or ``positions`` is not two-dimensional.
    """
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE; got {head_dim}")
    if positions.dim() != 2:
        raise ValueError(f"positions must have shape (B, T); got {tuple(positions.shape)}")
    dtype = torch.float64 if positions.dtype == torch.float64 else torch.float32
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=dtype) / head_dim)
    angles = positions.to(dtype)[:, None, :, None] * inv_freq
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate ``x`` of shape ``(B, H, T, head_dim)`` by the RoPE angles of ``positions`` ``(B, T)``.

    Raises:
        ValueError: if the shapes of ``x`` and ``positions`` disagree.
    """
    if x.dim() != 4:
        raise ValueError(f"x must have shape (B, H, T, head_dim); got {tuple(x.shape)}")
    if positions.shape != (x.shape[0], x.shape[2]):
        raise ValueError(
            f"positions must have shape {(x.shape[0], x.shape[2])}; got {tuple(positions.shape)}"
        )
    cos, sin = rope_angles(positions, x.shape[-1], base)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
