"""User-facing modules: a ParaRNN layer with three application modes, a diagonal linear RNN baseline, and a
multi-layer ParaRNN language model."""

from __future__ import annotations

import torch
from torch import nn

from litlib.pararnn.cells import DiagCell, ParaGRUCell, ParaLSTMCell
from litlib.pararnn.function import pararnn_apply
from litlib.pararnn.reference import rnn_sequential
from litlib.scan import linear_scan

MODES = ("sequential", "parallel", "triton", "fused")
CELLS = {"gru": ParaGRUCell, "lstm": ParaLSTMCell}


class ParaRNN(nn.Module):
    """A nonlinear RNN layer applied in parallel over the sequence (Newton + parallel scan).

    Args:
        d_in: input features per step.
        d: state size.
        cell: ``"gru"`` (ParaGRU) or ``"lstm"`` (ParaLSTM).
        heads: diagonal blocks of the input weights.
        mode: ``"sequential"`` (Python loop, autograd through time), ``"parallel"`` (PyTorch scan),
            ``"triton"`` (Triton scan) or ``"fused"`` (ParaGRU only: the whole Newton solve in one Triton kernel);
            the Triton modes fall back to PyTorch with a warning where Triton cannot run.
        newton_iters: Newton iterations (paper and official code: 3).
        omega: relaxation of the Newton update.

    Shape:
        input ``(B, L, d_in)``, output ``(B, L, d)`` (the LSTM outputs its ``h`` half).
    """

    def __init__(
        self,
        d_in: int,
        d: int,
        cell: str = "gru",
        heads: int = 2,
        mode: str = "parallel",
        newton_iters: int = 3,
        omega: float = 1.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {list(CELLS)}; got {cell!r}")
        if not isinstance(newton_iters, int) or newton_iters < 0:
            raise ValueError(f"newton_iters must be an int >= 0; got {newton_iters!r}")
        if not 0.0 < omega < 2.0:
            raise ValueError(f"omega must lie in (0, 2); got {omega}")
        self.cell: DiagCell = CELLS[cell](d_in, d, heads=heads)
        if mode == "fused" and cell != "gru":
            raise ValueError("mode='fused' is implemented for cell='gru' only")
        self.mode = mode
        self.newton_iters, self.omega = newton_iters, omega

    @property
    def mode(self) -> str:
        """The application mode (settable)."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {value!r}")
        self._mode = value

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """All states ``(B, L, *state_shape)`` for inputs ``x`` ``(B, L, d_in)``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor; got {type(x).__name__}")
        u = self.cell.project(x)
        if self.mode == "sequential":
            return rnn_sequential(self.cell, u)
        scan_mode = {"parallel": "torch", "triton": "triton", "fused": "fused"}[self.mode]
        return pararnn_apply(self.cell, u, self.newton_iters, self.omega, scan_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, L, d)``."""
        return self.cell.output(self.states(x))


class DiagonalLinearRNN(nn.Module):
    """Baseline: ``h_t = sigmoid(W_a x_t + b_a) * h_{t-1} + (W_u x_t + b_u)`` (input-dependent positive decay).

    Linear in ``h``, so one scan solves it exactly: a minimal Mamba-like recurrence.
    """

    def __init__(self, d_in: int, d: int) -> None:
        super().__init__()
        self.decay = nn.Linear(d_in, d)
        self.inp = nn.Linear(d_in, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """States ``(B, L, d)`` for inputs ``(B, L, d_in)``."""
        if x.dim() != 3 or x.shape[-1] != self.decay.in_features:
            raise ValueError(
                f"x must have shape (batch, length, {self.decay.in_features}); got {tuple(x.shape)}"
            )
        return linear_scan(torch.sigmoid(self.decay(x)), self.inp(x))


class ParaRNNLM(nn.Module):
    """A small language model of ParaRNN blocks: ``x + RNN(LN(x))`` then ``x + MLP(LN(x))`` per layer.

    Args:
        vocab: vocabulary size.
        d_model: width.
        layers: number of blocks.
        cell, heads, mode, newton_iters: passed to each :class:`ParaRNN`.
    """

    def __init__(
        self,
        vocab: int,
        d_model: int,
        layers: int = 2,
        cell: str = "gru",
        heads: int = 2,
        mode: str = "parallel",
        newton_iters: int = 3,
    ) -> None:
        super().__init__()
        if vocab < 1 or layers < 1:
            raise ValueError(f"vocab and layers must be >= 1; got vocab={vocab}, layers={layers}")
        self.embed = nn.Embedding(vocab, d_model)
        self.rnns = nn.ModuleList(
            ParaRNN(d_model, d_model, cell, heads, mode, newton_iters) for _ in range(layers)
        )
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2 * layers))
        self.head = nn.Linear(d_model, vocab)

    def set_mode(self, mode: str) -> None:
        """Switch every layer's application mode."""
        for rnn in self.rnns:
            if isinstance(rnn, ParaRNN):
                rnn.mode = mode

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, L, vocab)`` for integer tokens ``(B, L)``."""
        if tokens.dim() != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"tokens must be an integer tensor (batch, length); got {tokens.dtype} {tuple(tokens.shape)}"
            )
        x = self.embed(tokens)
        for i, (rnn, mlp) in enumerate(zip(self.rnns, self.mlps)):
            x = x + rnn(self.norms[2 * i](x))
            x = x + mlp(self.norms[2 * i + 1](x))
        out: torch.Tensor = self.head(x)
        return out
