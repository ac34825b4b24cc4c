"""Sequential reference for the linear recurrence ``y_t = A_t y_{t-1} + b_t`` (the ground truth for every scan).

Two structures of ``A_t`` are supported, both per channel:

* ``diag``: ``A`` has the shape of ``b``, ``(..., L, d)``: ``y_t = a_t * y_{t-1} + b_t`` entrywise.
* ``block2``: ``A`` is ``(..., L, d, 2, 2)`` and ``b`` is ``(..., L, d, 2)``: a 2x2 matrix per channel, as in
  ParaLSTM whose state ``[c; h]`` couples two diagonals.

Time is always the dimension just before the channel dimension(s).
"""

from __future__ import annotations

import torch


def structure_of(A: torch.Tensor, b: torch.Tensor) -> str:
    """Return ``"diag"`` or ``"block2"`` for a pair ``(A, b)``, validating their shapes.

    Raises:
        TypeError: if ``A`` or ``b`` is not a floating-point tensor.
        ValueError: if the shapes match neither structure.
    """
    for name, t in (("A", A), ("b", b)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor; got {type(t).__name__}")
    if A.shape == b.shape and b.dim() >= 2:
        return "diag"
    if b.dim() >= 3 and b.shape[-1] == 2 and A.shape == (*b.shape, 2):
        return "block2"
    raise ValueError(
        "A and b must be (..., L, d) and (..., L, d) [diagonal], or (..., L, d, 2, 2) and (..., L, d, 2) [2x2 blocks];"
        f" got A {tuple(A.shape)} and b {tuple(b.shape)}"
    )


def apply(A: torch.Tensor, y: torch.Tensor, structure: str) -> torch.Tensor:
    """``A y`` for one structure (entrywise product, or a 2x2 matrix-vector product per channel)."""
    if structure == "diag":
        return A * y
    return (A @ y.unsqueeze(-1)).squeeze(-1)


def compose(A_later: torch.Tensor, A_earlier: torch.Tensor, structure: str) -> torch.Tensor:
    """The matrix of two steps applied in order: ``A_later @ A_earlier``."""
    return A_later * A_earlier if structure == "diag" else A_later @ A_earlier


def transpose(A: torch.Tensor, structure: str) -> torch.Tensor:
    """``A^T`` (the identity for diagonals)."""
    return A if structure == "diag" else A.transpose(-1, -2)


def time_dim(b: torch.Tensor, structure: str) -> int:
    """Index of the time dimension of ``b``."""
    return b.dim() - (2 if structure == "diag" else 3)


def scan_reference(
    A: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, reverse: bool = False
) -> torch.Tensor:
    """Run the recurrence one step at a time (``reverse``: ``y_t = A_t y_{t+1} + b_t`` from the end).

    Differentiable by ordinary autograd; slow for long sequences (one Python step per time index).
    """
    structure = structure_of(A, b)
    tdim = time_dim(b, structure)
    L = b.shape[tdim]
    steps = range(L - 1, -1, -1) if reverse else range(L)
    state = torch.zeros_like(b.select(tdim, 0)) if h0 is None else h0
    out: list[torch.Tensor] = [torch.empty(0)] * L
    for t in steps:
        state = apply(A.select(tdim, t), state, structure) + b.select(tdim, t)
        out[t] = state
    return torch.stack(out, dim=tdim)
