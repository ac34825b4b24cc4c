"""Newton's method on the stacked system ``F(h)_t = h_t - f(h_{t-1}, x_t) = 0``, one parallel scan per step.

Each Newton step solves the lower block-bidiagonal system ``J_F delta = -F``, which by forward substitution is the
linear recurrence ``delta_t = A_t delta_{t-1} + r_t`` with ``r_t = f(h_{t-1}, x_t) - h_t``: exactly what
:func:`litlib.scan.linear_scan` solves in ``O(log L)`` depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from litlib.pararnn.cells import DiagCell
from litlib.scan import linear_scan, shift_time


def previous_states(h: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """``h_{t-1}`` for every ``t`` (``h_0`` = ``h0`` or zero): the trajectory shifted one step along time."""
    return shift_time(h, 1, 1, fill=h0)


def residual(
    cell: DiagCell, u: torch.Tensor, h: torch.Tensor, h0: torch.Tensor | None = None
) -> torch.Tensor:
    """``F(h)_t = h_t - f(h_{t-1}, u_t)`` for all ``t`` at once."""
    return h - cell.step(previous_states(h, h0), u)


@dataclass
class NewtonTrace:
    """Per-iteration diagnostics of :func:`newton_solve` (iteration 0 is the initial guess)."""

    residual_max: list[float] = field(default_factory=list)
    iterates: list[torch.Tensor] = field(default_factory=list)


def newton_solve(
    cell: DiagCell,
    u: torch.Tensor,
    iters: int = 3,
    *,
    omega: float = 1.0,
    h0: torch.Tensor | None = None,
    scan_mode: str = "torch",
    trace: NewtonTrace | None = None,
) -> torch.Tensor:
    """Solve for the whole trajectory by ``iters`` Newton steps, each one parallel scan; no autograd.

    Args:
        cell: the recurrence (its ``step`` and hand-derived ``jacobian``).
        u: input projections ``(B, L, gates, d)`` from ``cell.project``.
        iters: Newton iterations; the official code always runs 3 (tolerances are disabled there too).
        omega: relaxation factor of the update ``h += omega * delta`` (1 = plain Newton).
        h0: initial state (default zero).
        scan_mode: implementation of the scan (see :func:`litlib.scan.linear_scan`).
        trace: if given, receives ``max |F(h^(k))|`` and a copy of each iterate.

    Returns:
        ``h^(iters)``, shape ``(B, L, *cell.state_shape)``.

    Raises:
        ValueError: if ``iters < 0`` or ``omega`` is not in ``(0, 2)``.
        FloatingPointError: if the iteration produced NaN or inf (Newton diverged; try ``omega < 1``).
    """
    if not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters must be an int >= 0; got {iters!r}")
    if not 0.0 < omega < 2.0:
        raise ValueError(f"omega must lie in (0, 2); got {omega}")
    with torch.no_grad():
        first = (
            cell.zero_state(u) if h0 is None else h0.unsqueeze(1).expand(-1, u.shape[1], *cell.state_shape)
        )
        h = cell.step(first, u)  # initial guess f(h0, x_t) everywhere: h_1 is already exact
        for k in range(iters + 1):
            if trace is not None:
                trace.residual_max.append(float(residual(cell, u, h, h0).abs().max()))
                trace.iterates.append(h.clone())
            if k == iters:
                break
            h_prev = previous_states(h, h0)
            r = cell.step(h_prev, u) - h
            A = cell.jacobian(h_prev, u)
            A[:, 0] = 0  # the first equation has no unknown predecessor
            h = h + omega * linear_scan(A, r, mode=scan_mode)
        if not torch.isfinite(h).all():
            raise FloatingPointError(
                "newton_solve: non-finite states; Newton diverged (try omega < 1 or more iters)"
            )
    return h
