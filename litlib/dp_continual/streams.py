r"""Streams of binary rows, their column sums and running maximum, and the lower-bound reduction's stream.

A stream is a ``(T, d)`` array of 0/1 entries: row ``t`` (0-based here, time ``t + 1`` in the text) is the
record :math:`x_{t+1} \in \{0,1\}^d`. All streams are synthetic and generated from an explicit seed, kept
separate from the mechanisms' noise seeds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def check_stream(stream: ArrayLike, name: str = "stream") -> NDArray[np.int8]:
    """Validate a stream: a 2-D array of 0/1 values with at least one row and one column.

    Returns:
        the stream as a C-contiguous ``int8`` array.

    Raises:
        TypeError: if ``stream`` is not array-like of numbers or booleans.
        ValueError: if it is not 2-D, is empty, or holds values other than 0 and 1.
    """
    if isinstance(stream, (str, bytes)) or stream is None:
        raise TypeError(f"{name} must be a 2-D array of 0/1 values; got {type(stream).__name__}")
    arr = np.asarray(stream)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers or booleans; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (T, d); got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have T >= 1 rows and d >= 1 columns; got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0 and 1 (one binary record per row)")
    return np.ascontiguousarray(arr, dtype=np.int8)


def _check_size(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def column_sums(stream: ArrayLike) -> NDArray[np.int64]:
    r"""Running column sums :math:`s_t[j] = \sum_{i \le t} x_i[j]` as a ``(T, d)`` int64 array."""
    return np.cumsum(check_stream(stream), axis=0, dtype=np.int64)


def max_sums(stream: ArrayLike) -> NDArray[np.int64]:
    r"""The MaxSum target :math:`M_t = \max_j s_t[j]` for ``t = 1..T`` as a ``(T,)`` int64 array."""
    data = check_stream(stream)
    # int32 running sums halve the memory of the (T, d) intermediate; they cannot overflow for T < 2**31.
    dtype = np.int32 if data.shape[0] < 2**31 else np.int64
    return np.cumsum(data, axis=0, dtype=dtype).max(axis=1).astype(np.int64)


def all_ones_stream(T: int, d: int) -> NDArray[np.int8]:
    """Every entry 1: all columns tie at every step (the worst case for a max over noisy counts)."""
    return np.ones((_check_size(T, "T"), _check_size(d, "d")), dtype=np.int8)


def planted_max_stream(T: int, d: int, seed: int, p: float = 0.5) -> NDArray[np.int8]:
    """Column 0 is always 1 and the other columns are Bernoulli(``p``), so :math:`M_t = t` for every ``d``.

    This is the stream on which MaxSum has to move the most (one unit per step), the hardest case for the
    sparse-vector mechanism.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: on bad sizes, a negative seed, or ``p`` outside [0, 1].
    """
    T, d = _check_size(T, "T"), _check_size(d, "d")
    seed = _check_size(seed, "seed", minimum=0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1]; got {p!r}")
    rng = np.random.default_rng(seed)
    stream = (rng.random((T, d)) < p).astype(np.int8)
    stream[:, 0] = 1
    return stream


def reduction_stream(Y: ArrayLike) -> NDArray[np.int8]:
    r"""Embed a batch dataset in a stream whose running max reveals every column count (our construction).

    Given :math:`Y \in \{0,1\}^{n \times d}` the stream is the ``n`` rows of ``Y``, then for ``j = 1..d``:
    ``n`` copies of the row with ones in columns ``j..d`` followed by ``n`` copies of :math:`e_j`. Its length
    is :math:`T = n(2d+1)` and the padding does not depend on ``Y``.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if ``Y`` is not a non-empty 2-D 0/1 array.
    """
    data = check_stream(Y, "Y")
    n, d = data.shape
    rows = [data]
    for j in range(d):
        suffix = np.zeros((n, d), dtype=np.int8)
        suffix[:, j:] = 1
        unit = np.zeros((n, d), dtype=np.int8)
        unit[:, j] = 1
        rows += [suffix, unit]
    return np.concatenate(rows, axis=0)


def reduction_read_times(n: int, d: int) -> NDArray[np.int64]:
    """The 1-based times at which block ``j`` of :func:`reduction_stream` ends: :math:`t_j = n(2j+1)`."""
    n, d = _check_size(n, "n"), _check_size(d, "d")
    return n * (2 * np.arange(1, d + 1, dtype=np.int64) + 1)


def decode_reduction(max_sum_estimates: ArrayLike, n: int, d: int) -> NDArray[np.float64]:
    r"""Read the column counts back from (estimates of) :math:`M_t` on :func:`reduction_stream`.

    At the end of block ``j`` column ``j`` carries the offset :math:`n(j+1)` and every other column at most
    :math:`nj`, so :math:`M_{t_j} = c_j + n(j+1)`; subtracting the public offset gives :math:`c_j`. An error
    of :math:`\alpha` in the estimates becomes an error of at most :math:`\alpha` in every count.

    Args:
        max_sum_estimates: a length-``n(2d+1)`` sequence, the released :math:`\hat y_t` for ``t = 1..T``.
        n: number of records of the batch dataset.
        d: number of columns.

    Returns:
        the ``(d,)`` estimated column counts.

    Raises:
        ValueError: if the sequence does not have length ``n(2d+1)``.
    """
    times = reduction_read_times(n, d)
    est = np.asarray(max_sum_estimates, dtype=np.float64)
    if est.shape != (n * (2 * d + 1),):
        raise ValueError(
            f"max_sum_estimates must have shape ({n * (2 * d + 1)},) = (n(2d+1),); got {est.shape}"
        )
    offsets = n * (np.arange(1, d + 1) + 1)
    return est[times - 1] - offsets
