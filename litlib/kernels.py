"""Triton availability and dispatch: kernels where they can run, the reference everywhere else.

Triton kernels run compiled on CUDA tensors, and on CPU tensors under the interpreter (``TRITON_INTERPRET=1`` set
before ``triton`` is imported; this is how the test suite checks kernels on machines without a GPU). Everywhere
else a public function falls back to its PyTorch path, warning once.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings

import torch

MODES = ("auto", "reference", "torch", "triton")


@functools.cache
def triton_installed() -> bool:
    """Whether the ``triton`` package can be imported."""
    return importlib.util.find_spec("triton") is not None


def interpreter_enabled() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is set (Triton then runs kernels on CPU tensors, slowly)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_usable(device: torch.device | str) -> bool:
    """Whether a Triton kernel can run on tensors living on ``device``.

    True on CUDA devices when triton is installed, and on CPU only under the interpreter.
    """
    dev = torch.device(device)
    if not triton_installed():
        return False
    if dev.type == "cuda":
        return True
    return dev.type == "cpu" and interpreter_enabled()


@functools.cache
def _warn_fallback_once(name: str, reason: str) -> None:
    warnings.warn(f"{name}: {reason}; using the PyTorch path instead", RuntimeWarning, stacklevel=3)


def resolve_mode(name: str, mode: str, device: torch.device | str) -> str:
    """Turn a requested ``mode`` into the one that will run on ``device``.

    ``auto`` picks ``triton`` on CUDA (compiled) and ``torch`` otherwise; the interpreter is only used when asked for
    explicitly with ``mode="triton"``, because it is orders of magnitude slower than PyTorch. An explicit
    ``triton`` request that cannot run falls back to ``torch`` with a one-time warning.

    Raises:
        ValueError: if ``mode`` is not one of ``MODES``.
    """
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be one of {MODES}; got {mode!r}")
    dev = torch.device(device)
    if mode == "auto":
        return "triton" if dev.type == "cuda" and triton_usable(dev) else "torch"
    if mode == "triton" and not triton_usable(dev):
        why = (
            "triton is not installed"
            if not triton_installed()
            else f"no Triton backend for {dev.type} tensors"
        )
        _warn_fallback_once(
            name, why + " (set TRITON_INTERPRET=1 before importing triton to interpret on CPU)"
        )
        return "torch"
    return mode


def next_power_of_2(n: int) -> int:
    """Smallest power of two >= ``n`` (and >= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()
