"""A small training helper: AdamW, gradient clipping, a progress bar, NaN detection."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm


def train(
    model: nn.Module,
    loss_fn: Callable[[int], torch.Tensor],
    steps: int,
    *,
    lr: float = 3e-3,
    weight_decay: float = 0.01,
    grad_clip: float | None = 1.0,
    warmup: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Train ``model`` for ``steps`` AdamW steps on ``loss_fn(step)``; returns the loss of every step.

    The learning rate warms up linearly over ``warmup`` steps and then decays with a cosine to 10% of ``lr``.

    Args:
        model: the module whose parameters are trained.
        loss_fn: called with the step index, returns a scalar loss (it draws its own batch).
        steps: number of optimisation steps.
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: max global gradient norm (``None`` disables clipping).
        warmup: linear warm-up steps.
        progress: show a tqdm bar (``leave=False``).
        desc: the bar's label.

    Raises:
        ValueError: on non-positive ``steps`` or ``lr``.
        FloatingPointError: if the loss becomes NaN or infinite.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        frac = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    losses: list[float] = []
    model.train()
    bar = tqdm(range(steps), desc=desc, leave=False, disable=not progress)
    for step in bar:
        loss = loss_fn(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if step % 20 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses
