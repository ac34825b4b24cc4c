"""Sequence parallelism for the linear recurrence: each rank owns a contiguous slice of time.

Two-level scan: every rank scans its shard locally (cumulative matrices ``P`` and states ``y`` from a zero start),
all-gathers the per-shard summaries ``(P_end, y_end)`` (size ``O(B d)``, independent of ``L``), composes the
summaries of the ranks before it into its incoming state, and fixes up its shard with one broadcast multiply:
``y_t = y_t^{local} + P_t h_in``. ParaRNN's Newton steps distribute the same way.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from litlib.scan.reference import apply, structure_of, time_dim
from litlib.scan.torch_scan import chunked


def sequence_parallel_scan(A_local: torch.Tensor, b_local: torch.Tensor) -> torch.Tensor:
    """Scan a time-sharded sequence across the ranks of the default process group (zero initial state).

    Rank ``r`` passes the ``r``-th contiguous time slice of ``A`` and ``b``; every rank must use the same batch and
    channel shapes (shard lengths may differ). Returns this rank's slice of ``y``.

    Raises:
        RuntimeError: if no process group is initialised.
    """
    if not dist.is_initialized():
        raise RuntimeError(
            "sequence_parallel_scan needs an initialised process group (see litlib.distributed)"
        )
    structure = structure_of(A_local, b_local)
    tdim = time_dim(b_local, structure)
    P, y = chunked(A_local, b_local, structure)
    P_end, y_end = P.select(tdim, -1).contiguous(), y.select(tdim, -1).contiguous()
    world, rank = dist.get_world_size(), dist.get_rank()
    all_P = [torch.empty_like(P_end) for _ in range(world)]
    all_y = [torch.empty_like(y_end) for _ in range(world)]
    dist.all_gather(all_P, P_end)
    dist.all_gather(all_y, y_end)
    h_in = torch.zeros_like(y_end)
    for r in range(rank):  # state entering this shard: compose the earlier shards' summaries in order
        h_in = apply(all_P[r], h_in, structure) + all_y[r]
    return y + apply(P, h_in.unsqueeze(tdim), structure)
