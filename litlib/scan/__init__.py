"""Parallel scans for the linear recurrence ``y_t = A_t y_{t-1} + b_t`` (diagonal or 2x2-block ``A_t``).

The recurrence is the workhorse of parallel sequence models: a linear RNN is one scan, and a Newton step for a
nonlinear RNN is one scan (ParaRNN). :func:`linear_scan` is the public entry point; it is differentiable, and its
backward pass is itself one reverse scan (the adjoint recurrence ``lambda_t = g_t + A_{t+1}^T lambda_{t+1}``).

Implementations, selected by ``mode``:

``reference``
    a Python loop over time (:func:`scan_reference`), differentiated by ordinary autograd: the ground truth;
``torch``
    a chunked Hillis–Steele scan in PyTorch (``litlib.scan.torch_scan``), log depth;
``triton``
    the Triton kernel (``litlib.scan.triton``): compiled on CUDA, interpreted on CPU under ``TRITON_INTERPRET=1``;
``auto``
    ``triton`` on CUDA, else ``torch``.
"""

from __future__ import annotations

from typing import Any

import torch

from litlib.kernels import resolve_mode
from litlib.scan.reference import apply, scan_reference, structure_of, time_dim, transpose
from litlib.scan.torch_scan import chunked, hillis_steele, scan_torch

__all__ = [
    "chunked",
    "hillis_steele",
    "linear_scan",
    "scan_reference",
    "shift_time",
    "structure_of",
    "time_dim",
]


def _forward(
    A: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, structure: str, mode: str, reverse: bool
) -> torch.Tensor:
    """One scan without autograd, in the chosen implementation and direction."""
    if mode == "triton":
        from litlib.scan.triton import scan_triton

        return scan_triton(A, b, structure, h0, reverse=reverse)
    if reverse:
        tdim = time_dim(b, structure)
        return scan_torch(A.flip(tdim), b.flip(tdim), structure, h0).flip(tdim)
    return scan_torch(A, b, structure, h0)


def shift_time(x: torch.Tensor, tdim: int, by: int, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Shift along time: ``by=+1`` gives ``x_{t-1}`` (first entry ``fill`` or 0), ``by=-1`` gives ``x_{t+1}`` (last ``fill`` or 0).

    Raises:
        ValueError: if ``by`` is not +1 or -1.
    """
    if by not in (1, -1):
        raise ValueError(f"by must be +1 or -1; got {by}")
    L = x.shape[tdim]
    edge = torch.zeros_like(x.narrow(tdim, 0, 1)) if fill is None else fill.unsqueeze(tdim)
    if by == 1:
        return torch.cat([edge, x.narrow(tdim, 0, L - 1)], dim=tdim)
    return torch.cat([x.narrow(tdim, 1, L - 1), edge], dim=tdim)


class _LinearScan(torch.autograd.Function):
    """Forward: one scan. Backward: the adjoint recurrence, one scan in the opposite direction."""

    @staticmethod
    def forward(
        ctx: Any,
        A: torch.Tensor,
        b: torch.Tensor,
        h0: torch.Tensor | None,
        structure: str,
        mode: str,
        reverse: bool,
    ) -> torch.Tensor:
        y = _forward(A, b, h0, structure, mode, reverse)
        ctx.save_for_backward(A, y, h0)
        ctx.cfg = (structure, mode, reverse)
        return y

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        A, y, h0 = ctx.saved_tensors
        structure, mode, reverse = ctx.cfg
        tdim = time_dim(y, structure)
        step = -1 if reverse else 1  # +1: y_t depends on y_{t-1}
        # lambda_t = g_t + A_{t+1}^T lambda_{t+1}: scan in the opposite direction with the neighbour's A^T.
        A_next = shift_time(transpose(A, structure), tdim, -step)
        lam = _forward(A_next, gy.contiguous(), None, structure, mode, not reverse)
        y_prev = shift_time(y, tdim, step, fill=h0)
        gA = lam * y_prev if structure == "diag" else lam.unsqueeze(-1) * y_prev.unsqueeze(-2)
        gh0 = None
        if h0 is not None and ctx.needs_input_grad[2]:
            first = 0 if not reverse else y.shape[tdim] - 1
            gh0 = apply(transpose(A.select(tdim, first), structure), lam.select(tdim, first), structure)
        return gA, lam, gh0, None, None, None


def linear_scan(
    A: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    reverse: bool = False,
    mode: str = "auto",
) -> torch.Tensor:
    """Solve ``y_t = A_t y_{t-1} + b_t`` (``y_0 = h0``, default 0) for all ``t`` at once; differentiable.

    Args:
        A: ``(..., L, d)`` diagonal coefficients, or ``(..., L, d, 2, 2)`` 2x2 blocks per channel.
        b: ``(..., L, d)`` or ``(..., L, d, 2)`` inputs.
        h0: initial state, shaped like one time step of ``b`` (``(..., d)`` or ``(..., d, 2)``).
        reverse: run backwards in time: ``y_t = A_t y_{t+1} + b_t``, ``y_{L+1} = h0``.
        mode: ``"auto"``, ``"reference"``, ``"torch"`` or ``"triton"`` (see the module docstring).

    Returns:
        ``y`` with the shape and dtype of ``b``.

    Raises:
        TypeError: if ``A``, ``b`` or ``h0`` is not a floating-point tensor.
        ValueError: on shape, dtype or device mismatch, or an unknown ``mode``.
    """
    structure = structure_of(A, b)
    if A.dtype != b.dtype or A.device != b.device:
        raise ValueError(
            f"A and b must share dtype and device; got {A.dtype}/{A.device} and {b.dtype}/{b.device}"
        )
    tdim = time_dim(b, structure)
    if h0 is not None:
        expected = b.select(tdim, 0).shape
        if not isinstance(h0, torch.Tensor) or h0.shape != expected:
            got = tuple(h0.shape) if isinstance(h0, torch.Tensor) else type(h0).__name__
            raise ValueError(f"h0 must have shape {tuple(expected)} (one time step of b); got {got}")
        if h0.dtype != b.dtype or h0.device != b.device:
            raise ValueError(f"h0 must match b's dtype and device ({b.dtype}, {b.device})")
    if b.shape[tdim] == 0:
        return b.clone()
    chosen = resolve_mode("linear_scan", mode, b.device)
    if chosen == "reference":
        if reverse:
            return scan_reference(A, b, h0, reverse=True)
        return scan_reference(A, b, h0)
    out: torch.Tensor = _LinearScan.apply(A, b, h0, structure, chosen, reverse)
    return out
