"""Experiment B of the chapter: sequence parity, which a nonlinear RNN learns and a diagonal linear RNN cannot.

Parity of a bit string flips with every 1 and must be carried exactly over the whole sequence; a recurrence whose
state is linear in the past (with positive decays) cannot represent the flip, a gated nonlinear one can.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from litlib.pararnn.layers import DiagonalLinearRNN, ParaRNN


def parity_batch(
    batch: int, length: int, generator: torch.Generator, curriculum: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random bit strings, one-hot encoded ``(batch, length, 2)``, and their parity labels ``(batch,)``.

    With ``curriculum`` each string has a random number ``n`` in ``1..length`` of random trailing bits and zeros
    before them (leading zeros do not change parity), so short and long problems mix in every batch.
    """
    if batch < 1 or length < 1:
        raise ValueError(f"batch and length must be >= 1; got batch={batch}, length={length}")
    bits = torch.randint(0, 2, (batch, length), generator=generator)
    if curriculum:
        n = torch.randint(1, length + 1, (batch, 1), generator=generator)
        bits = bits * (torch.arange(length) >= length - n)
    x = nn.functional.one_hot(bits, 2).float()
    return x, bits.sum(dim=1) % 2


class ParityClassifier(nn.Module):
    """An RNN over the bits and a readout of its last state.

    Args:
        kind: ``"paragru"`` (ParaGRU, linear readout) or ``"linear"`` (diagonal linear RNN, MLP readout, as in the
            brief's baseline).
        d: state size.
        mode: ParaRNN application mode (ignored for the linear RNN, which is one scan).
    """

    def __init__(self, kind: str = "paragru", d: int = 16, mode: str = "parallel") -> None:
        super().__init__()
        if kind == "paragru":
            self.rnn: nn.Module = ParaRNN(2, d, cell="gru", heads=1, mode=mode)
            self.readout: nn.Module = nn.Linear(d, 2)
        elif kind == "linear":
            self.rnn = DiagonalLinearRNN(2, d)
            self.readout = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, 2))
        else:
            raise ValueError(f"kind must be 'paragru' or 'linear'; got {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, 2)`` from the state after the last bit."""
        out: torch.Tensor = self.readout(self.rnn(x)[:, -1])
        return out


@dataclass
class ParityRun:
    """Losses during training and accuracies on fresh strings of each evaluation length."""

    losses: list[float] = field(default_factory=list)
    accuracy: dict[int, float] = field(default_factory=dict)


@torch.no_grad()
def parity_accuracy(model: nn.Module, length: int, n: int, generator: torch.Generator) -> float:
    """Accuracy on ``n`` fresh uniformly random strings of ``length`` bits (no curriculum zeros)."""
    x, y = parity_batch(n, length, generator, curriculum=False)
    return float((model(x).argmax(-1) == y).float().mean())


def train_parity(
    model: nn.Module,
    steps: int,
    seed: int,
    *,
    length: int = 16,
    batch: int = 128,
    lr: float = 1e-2,
    curriculum: bool = True,
    eval_lengths: tuple[int, ...] = (16, 32),
    eval_size: int = 2000,
    progress: bool = False,
) -> ParityRun:
    """Train with Adam on curriculum parity batches, then evaluate on fresh strings of each ``eval_lengths``."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    run = ParityRun()
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="parity", leave=False)
    for _ in iterator:
        x, y = parity_batch(batch, length, gen, curriculum)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.losses.append(loss.item())
    eval_gen = torch.Generator().manual_seed(seed + 10_000)
    run.accuracy = {n: parity_accuracy(model, n, eval_size, eval_gen) for n in eval_lengths}
    return run
