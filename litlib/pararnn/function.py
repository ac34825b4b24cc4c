"""ParaRNN as a ``torch.autograd.Function``: Newton forward, adjoint-scan backward.

Backward derivation (chapter, "Adjoint = reverse scan"): with upstream gradients ``g_t``, the total adjoints
``lambda_t = dl/dh_t`` solve ``lambda_t = g_t + A_{t+1}^T lambda_{t+1}`` (one reverse scan, no Newton), then one
vector-Jacobian product of the cell at the converged states gives the gradients of ``u`` and the cell parameters.
Only ``u``, the parameters and the converged ``h`` are saved.
"""

from __future__ import annotations

from typing import Any

import torch

from litlib.kernels import resolve_mode
from litlib.pararnn.cells import DiagCell, ParaGRUCell
from litlib.pararnn.solver import newton_solve, previous_states
from litlib.scan import linear_scan, shift_time, structure_of
from litlib.scan.reference import transpose


class _ParaRNNFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        u: torch.Tensor,
        cell: DiagCell,
        iters: int,
        omega: float,
        scan_mode: str,
        *params: torch.Tensor,
    ) -> torch.Tensor:
        if scan_mode == "fused":
            from litlib.pararnn.triton import paragru_newton_fused

            h = paragru_newton_fused(u.detach(), cell.a.detach(), iters)
            scan_mode = "triton"  # the backward pass is the adjoint scan, whichever forward ran
        else:
            h = newton_solve(cell, u, iters, omega=omega, scan_mode=scan_mode)
        ctx.save_for_backward(u, h, *params)
        ctx.cell, ctx.scan_mode = cell, scan_mode
        return h

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        u, h, *params = ctx.saved_tensors
        cell: DiagCell = ctx.cell
        h_prev = previous_states(h)
        with torch.no_grad():
            A = cell.jacobian(h_prev, u)
            structure = structure_of(A, h)
            # lambda_t = g_t + A_{t+1}^T lambda_{t+1}: a reverse scan with the next step's transposed Jacobian.
            A_next = shift_time(transpose(A, structure), 1, -1)
            lam = linear_scan(A_next, g.contiguous(), reverse=True, mode=ctx.scan_mode)
        with torch.enable_grad():
            u_ = u.detach().requires_grad_(ctx.needs_input_grad[0])
            out = cell.step(h_prev.detach(), u_)
            wrt = [u_, *params]
            need = [t.requires_grad for t in wrt]
            grads = torch.autograd.grad(out, [t for t, n in zip(wrt, need) if n], lam, allow_unused=True)
        it = iter(grads)
        full = [next(it) if n else None for n in need]
        return (full[0], None, None, None, None, *full[1:])


def pararnn_apply(
    cell: DiagCell, u: torch.Tensor, iters: int = 3, omega: float = 1.0, scan_mode: str = "torch"
) -> torch.Tensor:
    """Differentiable parallel application of ``cell`` to projections ``u`` (``(B, L, gates, d)``).

    ``scan_mode`` is ``"torch"`` or ``"triton"`` (the scan inside each Newton step), or ``"fused"``: the whole
    Newton solve in one Triton kernel (ParaGRU only, ``omega = 1``; falls back to ``"torch"`` where Triton cannot
    run). Gradients flow to ``u`` and to the cell's recurrent parameters (``a``, and ``p`` for the LSTM) through the
    adjoint scan; the input projection's own parameters get theirs through ``u``.

    Raises:
        ValueError: if ``scan_mode="fused"`` is asked of a cell other than ParaGRU or with ``omega != 1``.
    """
    if scan_mode == "fused":
        if not isinstance(cell, ParaGRUCell) or omega != 1.0:
            raise ValueError("scan_mode='fused' supports ParaGRUCell with omega=1 only")
        if resolve_mode("pararnn fused", "triton", u.device) != "triton":
            scan_mode = "torch"
    params = [p for name, p in cell.named_parameters() if name not in ("weight", "bias")]
    out: torch.Tensor = _ParaRNNFunction.apply(u, cell, iters, omega, scan_mode, *params)
    return out
