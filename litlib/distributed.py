"""Run one function on N local processes with ``torch.distributed``; the same function runs under ``torchrun``.

A distributed algorithm in litlib is written as ``fn(*args)`` that calls collectives on the default process group and
reads its rank with :func:`torch.distributed.get_rank`. :func:`run_local` starts ``world_size`` processes on this
machine (gloo on CPU), initialises the group in each, runs ``fn`` and returns every rank's result. On a cluster the
same ``fn`` runs under ``torchrun`` after :func:`init_from_env` (NCCL when CUDA is available).
"""

from __future__ import annotations

import os
import pickle
import socket
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    """A TCP port on localhost that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_from_env(backend: str | None = None) -> tuple[int, int]:
    """Initialise the default group from ``torchrun``'s environment; returns ``(rank, world_size)``."""
    if not dist.is_initialized():
        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(chosen)
        if chosen == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def _worker(
    rank: int,
    world_size: int,
    port: int,
    backend: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    results: Any,
) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size)
    )
    torch.set_num_threads(1)
    try:
        dist.init_process_group(backend, rank=rank, world_size=world_size)
        # Plain pickle bytes: torch's queue pickler would pass tensors as shared-memory handles that vanish when
        # this process exits before the parent has read them.
        results.put((rank, "ok", pickle.dumps(fn(*args))))
    except BaseException:
        results.put((rank, "error", traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_local(
    fn: Callable[..., Any],
    world_size: int,
    args: tuple[Any, ...] = (),
    *,
    backend: str = "gloo",
    start_method: str = "fork",
    timeout: float = 300.0,
) -> list[Any]:
    """Run ``fn(*args)`` on ``world_size`` local processes and return the results ordered by rank.

    ``fork`` (the default on Linux) lets a notebook run functions it defined itself; use ``spawn`` for functions
    that live in an importable module when the parent holds threads or CUDA state.

    Raises:
        ValueError: if ``world_size < 1``.
        RuntimeError: if a rank raised (its traceback is included) or did not finish within ``timeout`` seconds.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1; got {world_size}")
    ctx: Any = mp.get_context(start_method)
    results = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(target=_worker, args=(r, world_size, port, backend, fn, args, results), daemon=True)
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    outputs: dict[int, Any] = {}
    errors: list[str] = []
    try:
        for _ in range(world_size):
            rank, status, payload = results.get(timeout=timeout)
            if status == "ok":
                outputs[rank] = pickle.loads(payload)
            else:
                errors.append(f"rank {rank}:\n{payload}")
    except Exception as exc:  # queue.Empty on timeout
        raise RuntimeError(f"run_local: ranks did not finish within {timeout} s") from exc
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    if errors:
        raise RuntimeError("run_local: a rank failed\n" + "\n".join(errors))
    return [outputs[r] for r in range(world_size)]
