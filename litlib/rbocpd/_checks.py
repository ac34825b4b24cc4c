"""Input validation shared by the rbocpd modules (private)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int, raising if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_positive(
    name: str, value: Any, *, upper: float | None = None, inclusive_upper: bool = False
) -> float:
    """Return ``value`` as a finite positive float (optionally below ``upper``), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    if upper is not None and (v > upper or (v == upper and not inclusive_upper)):
        bound = "<=" if inclusive_upper else "<"
        raise ValueError(f"{name} must be {bound} {upper}; got {value}")
    return v


def check_symbols(name: str, x: Any, n_symbols: int) -> np.ndarray:
    """Return ``x`` as an int64 array of symbols in ``[0, n_symbols)``, else raise."""
    arr = np.asarray(x)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer symbols; got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n_symbols):
        raise ValueError(
            f"{name} must hold symbols in [0, {n_symbols}); got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def check_distribution(name: str, p: Any, *, axis: int = -1, atol: float = 1e-9) -> np.ndarray:
    """Return ``p`` as a float array of probability vectors along ``axis``, else raise."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a probability vector (at least 1-D); got a scalar")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    if not np.allclose(arr.sum(axis=axis), 1.0, atol=atol):
        raise ValueError(f"{name} must sum to 1 along axis {axis}")
    return arr
