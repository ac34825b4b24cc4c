"""The sequential loop: ``h_t = f(h_{t-1}, x_t)`` one step at a time. Ground truth and speed baseline."""

from __future__ import annotations

import torch

from litlib.pararnn.cells import DiagCell


def rnn_sequential(cell: DiagCell, u: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Apply ``cell`` over time to projections ``u`` of shape ``(B, L, gates, d)``; returns all states.

    Differentiable by ordinary autograd (through ``L`` steps), which the tests use to check the adjoint pass.
    """
    state = cell.zero_state(u[:, 0]) if h0 is None else h0
    states = []
    for t in range(u.shape[1]):
        state = cell.step(state, u[:, t])
        states.append(state)
    return torch.stack(states, dim=1)
