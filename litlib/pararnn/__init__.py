"""ParaRNN (Danieli et al., 2025): nonlinear RNNs evaluated in parallel over the sequence by Newton's method.

Each Newton step on the stacked system ``h_t - f(h_{t-1}, x_t) = 0`` is a linear recurrence, solved by one parallel
scan (:mod:`litlib.scan`); the backward pass is one reverse scan. Cells with diagonal state Jacobians (ParaGRU,
ParaLSTM) keep every scan elementwise.

Public API: :class:`ParaRNN` (layer, modes ``sequential|parallel|triton``), :class:`ParaRNNLM`,
:class:`DiagonalLinearRNN` (baseline), the cells :class:`ParaGRUCell`, :class:`ParaLSTMCell`, and the solver
pieces :func:`newton_solve`, :func:`residual`, :func:`rnn_sequential`, :func:`pararnn_apply`.
"""

from litlib.pararnn.cells import DiagCell, ParaGRUCell, ParaLSTMCell
from litlib.pararnn.function import pararnn_apply
from litlib.pararnn.layers import DiagonalLinearRNN, ParaRNN, ParaRNNLM
from litlib.pararnn.reference import rnn_sequential
from litlib.pararnn.solver import NewtonTrace, newton_solve, previous_states, residual

__all__ = [
    "DiagCell",
    "DiagonalLinearRNN",
    "NewtonTrace",
    "ParaGRUCell",
    "ParaLSTMCell",
    "ParaRNN",
    "ParaRNNLM",
    "newton_solve",
    "pararnn_apply",
    "previous_states",
    "residual",
    "rnn_sequential",
]
