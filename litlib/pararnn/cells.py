"""ParaGRU and ParaLSTM cells: nonlinear recurrences whose state Jacobians are diagonal (or 2x2 blocks of diagonals).

A cell is split in two so that the expensive part is parallel over time:

* :meth:`DiagCell.project` computes the input projections ``u_t = B x_t + b`` for all ``t`` at once (dense matmul,
  block-diagonal over heads);
* :meth:`DiagCell.step` evaluates ``f(h_{t-1}, u_t)`` elementwise, and :meth:`DiagCell.jacobian` gives
  ``A_t = df/dh`` at the same point, derived by hand (checked against ``torch.func.jacrev`` in the tests).

Both ``step`` and ``jacobian`` act on whole sequences at once: ``h_prev`` and ``u`` carry a time axis and nothing in
them couples time steps, which is what lets Newton's method evaluate all residuals in parallel.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import nn

SIG = torch.sigmoid


def _dsig(s: torch.Tensor) -> torch.Tensor:
    """sigma'(x) written with s = sigma(x)."""
    return s * (1 - s)


class DiagCell(nn.Module, abc.ABC):
    """Common parts of the cells: block-diagonal input projection and the paper's initialisation.

    Args:
        d_in: input size per step.
        d: state size (channels).
        gates: number of gate rows in the projection (3 for both cells).
        heads: number of diagonal blocks of the input weights; must divide ``d_in`` and ``d``.
    """

    structure: str = "diag"
    a: nn.Parameter  # diagonal recurrent weights, one row per gate (set by each cell)

    def __init__(self, d_in: int, d: int, gates: int, heads: int = 2) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("d", d), ("heads", heads)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if d_in % heads or d % heads:
            raise ValueError(f"heads={heads} must divide d_in={d_in} and d={d}")
        self.d_in, self.d, self.gates, self.heads = d_in, d, gates, heads
        fan_in, fan_out = d_in // heads, d
        bound = math.sqrt(6.0 / (fan_in + fan_out))  # Xavier-uniform as in the official code
        self.weight = nn.Parameter(
            torch.empty(gates, heads, d // heads, d_in // heads).uniform_(-bound, bound)
        )
        bias = torch.zeros(gates, d)
        bias[0] = -torch.linspace(0, 1, d)  # first gate row (update / forget) biased towards keeping state
        self.bias = nn.Parameter(bias)

    def _diag_init(self, rows: int) -> nn.Parameter:
        return nn.Parameter(torch.randn(rows, self.d) * (2.0 / math.sqrt(5 * self.d)))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Input projections ``u = B x + b`` for every step: ``(B, L, d_in) -> (B, L, gates, d)``."""
        if x.dim() != 3 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (batch, length, {self.d_in}); got {tuple(x.shape)}")
        xb = x.reshape(*x.shape[:2], self.heads, self.d_in // self.heads)
        u = torch.einsum("blhi,ghoi->blgho", xb, self.weight.to(x.dtype))
        return u.reshape(*x.shape[:2], self.gates, self.d) + self.bias.to(x.dtype)

    def zero_state(self, u: torch.Tensor) -> torch.Tensor:
        """The all-zero state shaped like one step of the trajectory for projections ``u``."""
        return u.new_zeros(*u.shape[:-2], *self.state_shape)

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one state vector (``(d,)`` for diagonal cells)."""
        return (self.d,)

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """The part of the state the layer outputs (all of it for the GRU)."""
        return h

    @abc.abstractmethod
    def step(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``f(h_{t-1}, u_t)``, elementwise over any leading (batch, time) axes."""

    @abc.abstractmethod
    def jacobian(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``A_t = df/dh (h_{t-1}, u_t)`` in the scan's layout for ``structure``."""


class ParaGRUCell(DiagCell):
    """GRU with diagonal state-to-state weights (the paper's ParaGRU).

    ``z = sig(a_z h + u_z)``, ``r = sig(a_r h + u_r)``, ``c = tanh(a_c (r h) + u_c)``, ``f = (1 - z) h + z c``.
    """

    def __init__(self, d_in: int, d: int, heads: int = 2) -> None:
        super().__init__(d_in, d, gates=3, heads=heads)
        self.a = self._diag_init(3)  # rows: a_z, a_r, a_c

    def _gates(self, h: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.a.to(h.dtype)
        z = SIG(a[0] * h + u[..., 0, :])
        r = SIG(a[1] * h + u[..., 1, :])
        c = torch.tanh(a[2] * (r * h) + u[..., 2, :])
        return z, r, c

    def step(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One GRU update, elementwise."""
        z, _, c = self._gates(h_prev, u)
        return (1 - z) * h_prev + z * c

    def jacobian(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Diagonal of ``df/dh``: ``(1-z) + (c-h) z'(.) a_z + z (1-c^2) a_c (r + h r'(.) a_r)``."""
        a = self.a.to(h_prev.dtype)
        z, r, c = self._gates(h_prev, u)
        return (
            (1 - z) + (c - h_prev) * _dsig(z) * a[0] + z * (1 - c * c) * a[2] * (r + h_prev * _dsig(r) * a[1])
        )


class ParaLSTMCell(DiagCell):
    """LSTM with coupled input-forget gate and diagonal peepholes (the paper's ParaLSTM).

    State ``s = [c, h]`` stored as ``(..., d, 2)``. ``f = sig(a_f h + u_f + p_f c_prev)``,
    ``c_hat = tanh(a_c h + u_c)``, ``c = f c_prev + (1 - f) c_hat``, ``o = sig(a_o h + u_o + p_o c)``,
    ``h' = o tanh(c)``. The Jacobian is a 2x2 block of diagonals per channel.
    """

    structure = "block2"

    def __init__(self, d_in: int, d: int, heads: int = 2) -> None:
        super().__init__(d_in, d, gates=3, heads=heads)  # projection rows: f, o, c_hat
        self.a = self._diag_init(3)  # a_f, a_o, a_c
        self.p = self._diag_init(2)  # peepholes p_f, p_o (initialised like a; the brief does not say)

    @property
    def state_shape(self) -> tuple[int, ...]:
        """``(d, 2)``: cell ``c`` in slot 0, hidden ``h`` in slot 1."""
        return (self.d, 2)

    def output(self, s: torch.Tensor) -> torch.Tensor:
        """The hidden half ``h`` of the state."""
        return s[..., 1]

    def _parts(self, s_prev: torch.Tensor, u: torch.Tensor) -> dict[str, torch.Tensor]:
        a, p = self.a.to(s_prev.dtype), self.p.to(s_prev.dtype)
        c_prev, h_prev = s_prev[..., 0], s_prev[..., 1]
        f = SIG(a[0] * h_prev + u[..., 0, :] + p[0] * c_prev)
        c_hat = torch.tanh(a[2] * h_prev + u[..., 2, :])
        c = f * c_prev + (1 - f) * c_hat
        o = SIG(a[1] * h_prev + u[..., 1, :] + p[1] * c)
        return {"f": f, "c_hat": c_hat, "c": c, "o": o, "c_prev": c_prev, "tc": torch.tanh(c)}

    def step(self, s_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One LSTM update of ``[c, h]``."""
        q = self._parts(s_prev, u)
        return torch.stack([q["c"], q["o"] * q["tc"]], dim=-1)

    def jacobian(self, s_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``[[dc/dc, dc/dh], [dh/dc, dh/dh]]`` per channel, shape ``(..., d, 2, 2)`` (rows: outputs)."""
        a, p = self.a.to(s_prev.dtype), self.p.to(s_prev.dtype)
        q = self._parts(s_prev, u)
        df = _dsig(q["f"])
        gap = q["c_prev"] - q["c_hat"]
        dc_dc = q["f"] + gap * df * p[0]
        dc_dh = gap * df * a[0] + (1 - q["f"]) * (1 - q["c_hat"] ** 2) * a[2]
        do = _dsig(q["o"])
        dtc = 1 - q["tc"] ** 2
        dh_dc = do * p[1] * dc_dc * q["tc"] + q["o"] * dtc * dc_dc
        dh_dh = do * (a[1] + p[1] * dc_dh) * q["tc"] + q["o"] * dtc * dc_dh
        return torch.stack([torch.stack([dc_dc, dc_dh], -1), torch.stack([dh_dc, dh_dh], -1)], -2)
