"""M1 sharded by column over a ``torch.distributed`` process group.

Each rank keeps the tree counters of its own slice of columns and computes, at every step, the max and argmax over
its slice; one ``all_gather`` of those ``(value, index)`` pairs per run gives every rank the global release. The
privacy calibration is global: the sensitivity ``sqrt(dH)`` covers all shards, so every rank draws its
noise with the scale of the full table (``calibration_d = d``), from its own independent seed.
Run it with :func:`litlib.distributed.run_local` on one machine or under ``torchrun`` after
:func:`litlib.distributed.init_from_env`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
from numpy.typing import ArrayLike

from litlib.dp_continual.privacy import PrivacyBudget
from litlib.dp_continual.streams import check_stream
from litlib.dp_continual.tree import TreeRelease, binary_tree_max, tree_height, tree_noise_scale


def shard_bounds(d: int, world_size: int, rank: int) -> tuple[int, int]:
    """The half-open column range ``[lo, hi)`` of ``rank`` when ``d`` columns are split as evenly as possible.

    Raises:
        ValueError: if ``rank`` is not in ``[0, world_size)`` or ``world_size < 1``.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"rank must lie in [0, world_size) with world_size >= 1; got rank={rank}, {world_size}"
        )
    base, extra = divmod(d, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def shard_seed(seed: int, rank: int) -> int:
    """An independent noise seed for ``rank`` derived from the run's ``seed`` (no collisions across ranks)."""
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1, dtype=np.uint64)[0] >> 1)


def sharded_binary_tree_max(
    stream: ArrayLike,
    budget: PrivacyBudget,
    seed: int,
    *,
    noise: str = "gaussian",
    chunk: int = 256,
    dtype: torch.dtype = torch.float32,
    node_noise: list[torch.Tensor] | None = None,
) -> TreeRelease:
    """M1 with its columns split over the ranks of the default process group; every rank returns the release.

    Every rank receives the whole stream here (the row stream is broadcast); each processes only its columns.

    Args:
        stream: ``(T, d)`` 0/1 array (the same on every rank).
        budget: privacy target of the whole table.
        seed: noise seed of the run; rank ``r`` uses :func:`shard_seed` ``(seed, r)``.
        noise: ``"gaussian"`` or ``"laplace"``.
        chunk: columns per chunk inside a rank.
        dtype: floating dtype.
        node_noise: optional pre-drawn node noise for *all* ``d`` columns (each rank slices its own), for tests.

    Returns:
        the global :class:`~litlib.dp_continual.TreeRelease` (identical on every rank).

    Raises:
        RuntimeError: if no process group is initialised.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("sharded_binary_tree_max needs an initialised torch.distributed process group")
    data = check_stream(stream)
    T, d = data.shape
    rank, world = dist.get_rank(), dist.get_world_size()
    lo, hi = shard_bounds(d, world, rank)
    if hi > lo:
        local_noise = None if node_noise is None else [lv[:, lo:hi] for lv in node_noise]
        local = binary_tree_max(
            data[:, lo:hi],
            budget,
            shard_seed(seed, rank),
            noise=noise,
            chunk=chunk,
            dtype=dtype,
            node_noise=local_noise,
            calibration_d=d,
        )
        values = torch.from_numpy(local.max_sum.astype(np.float64))
        index = torch.from_numpy(local.select.astype(np.int64) + lo)
    else:  # more ranks than columns: this rank holds nothing
        values = torch.full((T,), -torch.inf, dtype=torch.float64)
        index = torch.zeros(T, dtype=torch.int64)
    all_values = [torch.empty_like(values) for _ in range(world)]
    all_index = [torch.empty_like(index) for _ in range(world)]
    dist.all_gather(all_values, values)
    dist.all_gather(all_index, index)
    stacked = torch.stack(all_values)
    best_rank = stacked.argmax(dim=0)
    steps = torch.arange(T)
    return TreeRelease(
        max_sum=stacked[best_rank, steps].numpy(),
        select=torch.stack(all_index)[best_rank, steps].numpy(),
        scale=tree_noise_scale(T, d, budget, noise),
        height=tree_height(T),
    )
