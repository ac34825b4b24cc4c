"""Timing that can be trusted: warm-up, device synchronisation, medians, and ratios measured in one run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Median and spread of repeated timings of one function, in seconds."""

    median: float
    low: float
    high: float
    repeats: int


def time_fn(
    fn: Callable[[], object],
    *,
    warmup: int = 1,
    repeats: int = 5,
    device: torch.device | str | None = None,
    max_seconds: float | None = None,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then the median of up to ``repeats`` timed calls.

    On CUDA the device is synchronised around each call so that asynchronous launches are not mistaken for
    compute; on GPU prefer :func:`triton.testing.do_bench` for microsecond kernels. ``max_seconds`` stops repeating
    early once that much time has been spent (at least one timed call always runs).

    Raises:
        ValueError: if ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0; got {warmup}")
    dev = torch.device(device) if device is not None else None
    for _ in range(warmup):
        fn()
    _sync(dev)
    samples: list[float] = []
    spent = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(dev)
        samples.append(time.perf_counter() - start)
        spent += samples[-1]
        if max_seconds is not None and spent >= max_seconds:
            break
    return Timing(statistics.median(samples), min(samples), max(samples), len(samples))


def compare(
    fns: dict[str, Callable[[], object]],
    baseline: str,
    **kwargs: object,
) -> dict[str, dict[str, float]]:
    """Time several functions in one run, interleaved round by round, and report speed-ups over ``baseline``.

    Interleaving spreads machine noise evenly over the contenders. Returns ``{name: {"seconds", "speedup"}}``.
    Keyword arguments go to :func:`time_fn` (``repeats`` is the number of rounds).
    """
    if baseline not in fns:
        raise ValueError(f"baseline must be one of {list(fns)}; got {baseline!r}")
    repeats = int(kwargs.pop("repeats", 3))  # type: ignore[call-overload]
    per_round = {name: [] for name in fns}  # type: dict[str, list[float]]
    for _ in range(repeats):
        for name, fn in fns.items():
            per_round[name].append(time_fn(fn, repeats=1, **kwargs).median)  # type: ignore[arg-type]
    medians = {name: statistics.median(v) for name, v in per_round.items()}
    return {n: {"seconds": s, "speedup": medians[baseline] / s} for n, s in medians.items()}


def gbps(n_bytes: float, seconds: float) -> float:
    """Achieved bandwidth in GB/s (1e9 bytes per second)."""
    return n_bytes / seconds / 1e9


def tflops(n_flops: float, seconds: float) -> float:
    """Achieved throughput in TFLOP/s (1e12 floating-point operations per second)."""
    return n_flops / seconds / 1e12
