"""Device, dtype, scale and seeding: the run-time choices every chapter makes the same way.

The scale switch ``LITLIB_SCALE`` selects how big a chapter's experiments are:

``smoke``
    the smallest sizes at which the claims are still meaningful (what the test suite executes, <= 20 s);
``cpu``
    what the rendered book executes on two CPU cores (<= 90 s per chapter);
``gpu``
    the larger sizes a chapter runs on a GPU (Colab).

The default is ``gpu`` when CUDA is available and ``cpu`` otherwise.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Literal, TypeVar, cast

import numpy as np
import torch

Scale = Literal["smoke", "cpu", "gpu"]
SCALES: tuple[Scale, ...] = ("smoke", "cpu", "gpu")
SCALE_ENV = "LITLIB_SCALE"

T = TypeVar("T")


def get_scale() -> Scale:
    """Return the experiment scale chosen by ``LITLIB_SCALE`` (default ``gpu`` with CUDA, else ``cpu``).

    Raises:
        ValueError: if ``LITLIB_SCALE`` is set to something other than ``smoke``, ``cpu`` or ``gpu``.
    """
    raw = os.environ.get(SCALE_ENV, "").strip().lower()
    if not raw:
        return "gpu" if torch.cuda.is_available() else "cpu"
    if raw not in SCALES:
        raise ValueError(f"{SCALE_ENV} must be one of {', '.join(SCALES)}; got {raw!r}")
    return cast(Scale, raw)


def by_scale(*, smoke: T, cpu: T, gpu: T, scale: Scale | None = None) -> T:
    """Pick the value for the current scale: a chapter's size presets in one line.

    Example:
        >>> cfg = by_scale(smoke=dict(L=64), cpu=dict(L=512), gpu=dict(L=65536), scale="cpu")
        >>> cfg["L"]
        512
    """
    chosen = get_scale() if scale is None else scale
    if chosen not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {chosen!r}")
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[chosen]


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA when available, else CPU."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def supports_bf16(device: torch.device | str | None = None) -> bool:
    """Whether bfloat16 arithmetic is native on ``device`` (CUDA needs compute capability >= 8.0; T4 is 7.5)."""
    dev = get_device(device)
    if dev.type != "cuda":
        return True  # CPU bf16 is emulated but correct
    major, _ = torch.cuda.get_device_capability(dev)
    return major >= 8


def low_precision_dtype(device: torch.device | str | None = None) -> torch.dtype:
    """The 16-bit dtype to use on ``device``: bfloat16 where native (sm_80+ or CPU), float16 otherwise."""
    return torch.bfloat16 if supports_bf16(device) else torch.float16


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a fresh CPU ``torch.Generator`` seeded alike.

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: if ``seed`` is negative.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)``, restoring the previous value after.

    Small-tensor workloads (short sequences, tiny models) are dominated by per-op overhead, where intra-op threads
    cost more in synchronisation than they save; one thread is then faster.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def describe() -> dict[str, str]:
    """Versions, device and scale of this run, for a chapter's setup cell and the Status page."""
    import litlib

    info = {
        "litlib": litlib.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scale": get_scale(),
        "device": str(get_device()),
        "threads": str(torch.get_num_threads()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = "not installed"
    return info
