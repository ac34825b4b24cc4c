"""Input validation shared by the modules of :mod:`litlib.gp_few_unique` (private)."""

from __future__ import annotations

import math

import numpy as np


def as_matrix(x: object, name: str) -> np.ndarray:
    """A finite float64 ``(n, d)`` array with ``n, d >= 1``, or a ``ValueError`` naming ``name``."""
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a 2-D array; got {type(x).__name__}")
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def as_positive_float(x: object, name: str) -> float:
    """A finite float ``> 0``."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(x).__name__}")
    val = float(x)
    if not math.isfinite(val) or val <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {x!r}")
    return val


def as_nonnegative_float(x: object, name: str) -> float:
    """A finite float ``>= 0``."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(x).__name__}")
    val = float(x)
    if not math.isfinite(val) or val < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {x!r}")
    return val


def as_positive_int(x: object, name: str) -> int:
    """An int ``>= 1``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(x).__name__}")
    if x < 1:
        raise ValueError(f"{name} must be >= 1; got {x}")
    return int(x)


def as_index(x: object, size: int, name: str) -> int:
    """An int in ``[0, size)``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(x).__name__}")
    if not 0 <= x < size:
        raise ValueError(f"{name} must be in [0, {size}); got {x}")
    return int(x)


def as_finite_float(x: object, name: str) -> float:
    """A finite float."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {type(x).__name__}")
    val = float(x)
    if not math.isfinite(val):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return val
