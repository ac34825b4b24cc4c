"""Multi-query associative recall (MQAR): data, a one-layer memory model, and seed-parallel training.

A sequence holds ``n`` (key, value) pairs in random order followed by the ``n`` keys again in a new random order; at
each query position the model must output the paired value. Keys are tokens ``0..K-1``, values ``K..K+V-1``.

The model: embedding -> causal depthwise short convolution (kernel 2, SiLU, residual, so a value token sees its key)
-> one :class:`~litlib.mom.layer.MoMLayer` (residual) -> linear head. Only the query positions carry a loss and
the model has one memory layer, so training reads the memories at those positions only (``keep_last``): the
function computed there is unchanged and the dense form costs a third.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from litlib.mom.layer import MoMLayer, route

IGNORE = -100

__all__ = [
    "MQARConfig",
    "MQARModel",
    "MQARResult",
    "accuracy",
    "mqar_batch",
    "train_mqar",
    "train_mqar_sweep",
]


def mqar_batch(
    batch: int, n_pairs: int, generator: torch.Generator, n_keys: int = 64, n_values: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch`` MQAR sequences of length ``3 n``.

    Returns:
        ``(tokens, targets)``, both ``(batch, 3 n)`` int64; ``targets`` is the paired value at query positions and
        ``-100`` elsewhere.

    Raises:
        ValueError: if ``n_pairs`` exceeds ``n_keys`` (keys are distinct within a sequence) or sizes are not positive.
    """
    if batch < 1 or n_pairs < 1 or n_values < 1:
        raise ValueError(f"batch, n_pairs and n_values must be positive; got {batch}, {n_pairs}, {n_values}")
    if n_pairs > n_keys:
        raise ValueError(f"n_pairs must be <= n_keys={n_keys} (distinct keys); got {n_pairs}")
    keys = torch.rand(batch, n_keys, generator=generator).argsort(dim=1)[:, :n_pairs]
    values = n_keys + torch.randint(0, n_values, (batch, n_pairs), generator=generator)
    order = torch.rand(batch, n_pairs, generator=generator).argsort(dim=1)
    queries = keys.gather(1, order)
    answers = values.gather(1, order)
    context = torch.stack([keys, values], dim=2).reshape(batch, 2 * n_pairs)
    tokens = torch.cat([context, queries], dim=1)
    targets = torch.cat([torch.full_like(context, IGNORE), answers], dim=1)
    return tokens, targets


@dataclass(frozen=True)
class MQARConfig:
    """One memory configuration of the MQAR model."""

    name: str
    num_memories: int = 4
    topk: int = 2
    d_k: int = 16
    shared_memory: bool = True
    d_model: int = 64
    d_v: int = 64
    rule: str = "linear"
    impl: str = "parallel"

    def layer(self) -> MoMLayer:
        """The memory layer of this configuration."""
        return MoMLayer(
            self.d_model, self.num_memories, self.topk, self.d_k, self.d_v,
            shared_memory=self.shared_memory, rule=self.rule, impl=self.impl,
        )  # fmt: skip


class MQARModel(nn.Module):
    """Embedding -> short conv (kernel 2, SiLU, residual) -> memory layer (residual) -> head."""

    def __init__(self, config: MQARConfig, vocab: int = 128) -> None:
        super().__init__()
        D = config.d_model
        self.embed = nn.Embedding(vocab, D)
        self.conv = nn.Conv1d(D, D, kernel_size=2, groups=D, padding=1)
        self.memory = config.layer()
        self.head = nn.Linear(D, vocab)

    def forward(
        self, tokens: torch.Tensor, keep_last: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, vocab)`` (or of the last ``keep_last`` positions) and the memory layer's balance loss."""
        e = self.embed(tokens)
        T = tokens.shape[1]
        conv = self.conv(e.transpose(1, 2))[..., :T].transpose(1, 2)  # causal: drop the look-ahead tail
        h = e + functional.silu(conv)
        out = self.memory(h, keep_last=keep_last)
        if keep_last is not None:
            h = h[:, T - keep_last :]
        return self.head(h + out.output), out.aux_loss


@dataclass
class MQARResult:
    """Per-seed outcome of one configuration."""

    config: MQARConfig
    seeds: list[int]
    accuracy: list[float]
    losses: list[list[float]] = field(default_factory=list)  # per seed, recorded every ``log_every`` steps
    models: list[MQARModel] = field(default_factory=list)

    @property
    def mean_accuracy(self) -> float:
        """Mean accuracy over seeds."""
        return sum(self.accuracy) / len(self.accuracy)


def train_mqar(
    config: MQARConfig,
    seeds: list[int],
    *,
    n_pairs: int = 16,
    steps: int = 800,
    batch: int = 64,
    lr: float = 3e-3,
    aux_weight: float = 0.01,
    eval_size: int = 512,
    log_every: int = 50,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> MQARResult:
    """Train one model per seed and evaluate each on ``eval_size`` fresh sequences.

    Args:
        config: the memory configuration.
        seeds: one model per seed; the seed fixes its initialisation, training data and evaluation data.
        n_pairs, steps, batch, lr: the MQAR task size and AdamW schedule (constant learning rate).
        aux_weight: weight of the balance loss in the total loss.
        eval_size: fresh evaluation sequences per seed.
        log_every: record the training loss every this many steps.
        progress: show a tqdm bar.
        device: where to train (default CPU); data is drawn on CPU with the seed's generator and moved there.

    Returns:
        :class:`MQARResult` with per-seed accuracies, loss curves and the trained models.

    Raises:
        ValueError: if ``seeds`` is empty or ``steps < 1``.
    """
    from tqdm.auto import tqdm

    if not seeds:
        raise ValueError("seeds must be a non-empty list of ints")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}")
    dev = torch.device("cpu") if device is None else torch.device(device)
    result = MQARResult(config, list(seeds), [])
    bar = tqdm(total=steps * len(seeds), desc=config.name, leave=False, disable=not progress)
    for seed in seeds:
        torch.manual_seed(seed)
        model = MQARModel(config).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(10_000 + seed)
        curve: list[float] = []
        for step in range(steps):
            tokens, targets = (t.to(dev) for t in mqar_batch(batch, n_pairs, gen))
            logits, aux = model(tokens, keep_last=n_pairs)
            ce = functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets[:, -n_pairs:].reshape(-1)
            )
            loss = ce + aux_weight * aux
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{config.name}, seed {seed}: loss became {float(loss)} at step {step}"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % log_every == 0 or step == steps - 1:
                curve.append(float(ce.detach()))
            bar.update(1)
        result.losses.append(curve)
        result.models.append(model)
        result.accuracy.append(
            accuracy(model, n_pairs, eval_size, torch.Generator().manual_seed(20_000 + seed))
        )
    bar.close()
    return result


def accuracy(model: MQARModel, n_pairs: int, size: int, generator: torch.Generator) -> float:
    """Accuracy of one trained model on ``size`` fresh sequences (query positions only)."""
    device = next(model.parameters()).device
    tokens, targets = (t.to(device) for t in mqar_batch(size, n_pairs, generator))
    with torch.no_grad():
        logits, _ = model(tokens, keep_last=n_pairs)
    return float((logits.argmax(-1) == targets[:, -n_pairs:]).double().mean())


def _job_cost(config: MQARConfig, steps: int) -> float:
    """Rough relative cost of a training job: steps x (1 + streams per layer)."""
    return steps * (1 + config.num_memories + int(config.shared_memory))


def _assign(jobs: list[tuple[str, MQARConfig, int]], world: int) -> list[list[tuple[str, MQARConfig, int]]]:
    """Longest job first, each to the least-loaded process."""
    load = [0.0] * world
    shares: list[list[tuple[str, MQARConfig, int]]] = [[] for _ in range(world)]
    for job in sorted(jobs, key=lambda j: -_job_cost(j[1], j[2])):
        owner = min(range(world), key=lambda r: load[r])
        load[owner] += _job_cost(job[1], job[2])
        shares[owner].append(job)
    return shares


def _train_share(
    jobs: list[tuple[str, MQARConfig, int]], seeds: list[int], kwargs: dict[str, Any]
) -> dict[str, tuple[list[float], list[list[float]], list[dict[str, Any]]]]:
    """Train this rank's share of ``jobs``; results travel back as plain numbers and NumPy arrays.

    (Tensors sent through a multiprocessing queue are shared through file descriptors of the sending process, which
    is gone by the time the parent unpickles them.)
    """
    import torch.distributed as dist

    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    out = {}
    for name, config, steps in _assign(jobs, world)[rank]:
        res = train_mqar(config, seeds, steps=steps, **kwargs)
        weights = [{k: t.detach().cpu().numpy() for k, t in m.state_dict().items()} for m in res.models]
        out[name] = (res.accuracy, res.losses, weights)
    return out


def train_mqar_sweep(
    jobs: dict[str, tuple[MQARConfig, int]],
    seeds: list[int],
    *,
    processes: int = 1,
    **kwargs: Any,
) -> dict[str, MQARResult]:
    """Train several configurations (``name -> (config, steps)``), spread over ``processes`` local processes.

    The jobs are independent and each process runs one thread, so on a machine with ``processes`` idle cores the
    sweep takes about ``1 / processes`` of the time; every result is identical to a sequential run (same seeds, one
    thread). Keyword arguments go to :func:`train_mqar`.

    Returns:
        the results in the order of ``jobs``.
    """
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a positive int; got {processes!r}")
    if processes == 1:
        from litlib.runtime import num_threads

        with num_threads(1):
            return {
                name: train_mqar(cfg, seeds, steps=steps, **kwargs) for name, (cfg, steps) in jobs.items()
            }
    from litlib.distributed import run_local

    listed = [(name, cfg, steps) for name, (cfg, steps) in jobs.items()]
    kwargs = {**kwargs, "progress": False}  # bars from several processes would interleave
    merged: dict[str, tuple[list[float], list[list[float]], list[dict[str, Any]]]] = {}
    for part in run_local(_train_share, processes, (listed, seeds, kwargs), timeout=1200.0):
        merged.update(part)
    results = {}
    for name, (cfg, _) in jobs.items():
        acc, losses, weights = merged[name]
        models = []
        for w in weights:
            model = MQARModel(cfg)
            model.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()})
            models.append(model)
        results[name] = MQARResult(cfg, list(seeds), acc, losses, models)
    return results


@torch.no_grad()
def routing_agreement(
    model: MQARModel, n_pairs: int, size: int, generator: torch.Generator
) -> tuple[float, float]:
    """How often a pair's read (at its query token) is routed to the memories of its write (at its value token).

    Returns:
        ``(agreement, chance)``: the mean of ``|S_write & S_read| / k`` over all queries of ``size`` fresh sequences,
        and its value ``k / N_m`` under independent uniformly random routing.
    """
    layer = model.memory
    device = next(model.parameters()).device
    tokens, _ = (t.to(device) for t in mqar_batch(size, n_pairs, generator))
    e = model.embed(tokens)
    T = tokens.shape[1]
    h = e + functional.silu(model.conv(e.transpose(1, 2))[..., :T].transpose(1, 2))
    write = route(layer.router(h), layer.topk).write  # (B, T, N_m)
    keys = tokens[:, 0 : 2 * n_pairs : 2]  # (B, n): key of pair i
    queries = tokens[:, 2 * n_pairs :]  # (B, n): key asked at query j
    pair_of_query = (queries.unsqueeze(-1) == keys.unsqueeze(-2)).float().argmax(-1)  # (B, n)
    value_pos = 2 * pair_of_query + 1
    at_write = write.gather(1, value_pos.unsqueeze(-1).expand(-1, -1, write.shape[-1]))
    at_read = write[:, 2 * n_pairs :]
    agreement = float((at_write * at_read).sum(-1).mean() / layer.topk)
    return agreement, layer.topk / layer.num_memories
