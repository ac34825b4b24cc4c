r"""Baselines and error measures: the batch yardstick, naive per-step continual release, and the trivial t/2.

Errors are judged in the worst case over time, as in the problem statement: :func:`max_sum_error` is
:math:`\max_t |\hat y_t - M_t|` and :func:`select_sum_error` is :math:`\max_t (M_t - s_t[\hat j_t])`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.dp_continual.privacy import PrivacyBudget, gaussian_sigma_zcdp
from litlib.dp_continual.streams import check_stream, column_sums


def _check_budget(budget: PrivacyBudget) -> PrivacyBudget:
    if not isinstance(budget, PrivacyBudget):
        raise TypeError(f"budget must be a PrivacyBudget; got {type(budget).__name__}")
    return budget


def _rng(seed: int) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    return np.random.default_rng(int(seed))


def max_sum_error(released: ArrayLike, max_sum: ArrayLike) -> float:
    r"""Worst-case MaxSum error :math:`\max_t |\hat y_t - M_t|`.

    Raises:
        ValueError: if the two sequences differ in shape or are empty.
    """
    y, M = np.asarray(released, dtype=np.float64), np.asarray(max_sum, dtype=np.float64)
    if y.shape != M.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(
            f"released and max_sum must be equal-length 1-D sequences; got {y.shape} and {M.shape}"
        )
    return float(np.max(np.abs(y - M)))


def select_sum_error(selected: ArrayLike, sums: ArrayLike) -> float:
    r"""Worst-case SelectSum error :math:`\max_t (M_t - s_t[\hat j_t])` given the ``(T, d)`` column sums.

    Raises:
        ValueError: if the indices are not ``T`` integers in ``[0, d)``.
    """
    S = np.asarray(sums)
    j = np.asarray(selected)
    if S.ndim != 2 or j.shape != (S.shape[0],):
        raise ValueError(f"selected must have shape ({S.shape[0] if S.ndim == 2 else 'T'},); got {j.shape}")
    if not np.issubdtype(j.dtype, np.integer) or j.min() < 0 or j.max() >= S.shape[1]:
        raise ValueError(f"selected must hold integer column indices in [0, {S.shape[1]})")
    chosen = S[np.arange(S.shape[0]), j]
    return float(np.max(S.max(axis=1) - chosen))


def batch_max_sum(stream: ArrayLike, budget: PrivacyBudget, seed: int) -> float:
    r"""M0 for MaxSum: one release of :math:`M_T + \mathrm{Lap}(1/\epsilon)` (sensitivity 1), pure DP."""
    data = check_stream(stream)
    return float(column_sums(data)[-1].max() + _rng(seed).laplace(scale=1.0 / _check_budget(budget).epsilon))


def batch_select_sum(stream: ArrayLike, budget: PrivacyBudget, seed: int) -> int:
    r"""M0 for SelectSum: report-noisy-max :math:`\arg\max_j (s_T[j] + \mathrm{Lap}(2/\epsilon))`.

    The scale is :math:`2/\epsilon` because under row replacement one count can rise while another falls.
    """
    s_T = column_sums(check_stream(stream))[-1]
    noise = _rng(seed).laplace(scale=2.0 / _check_budget(budget).epsilon, size=s_T.shape)
    return int(np.argmax(s_T + noise))


def naive_continual_max_sum(stream: ArrayLike, budget: PrivacyBudget, seed: int) -> NDArray[np.float64]:
    r"""Release :math:`M_t` plus fresh noise at every step, composing ``T`` sensitivity-1 releases.

    Pure-DP budget: Laplace of scale :math:`T/\epsilon` (basic composition). Approximate-DP budget: Gaussian
    noise calibrated by zCDP, :math:`\sigma = \sqrt{T/(2\rho)}`, error :math:`\tilde O(\sqrt T)`.
    """
    M = column_sums(check_stream(stream)).max(axis=1).astype(np.float64)
    b, rng = _check_budget(budget), _rng(seed)
    T = len(M)
    if b.delta is None:
        return M + rng.laplace(scale=T / b.epsilon, size=T)
    return M + rng.normal(scale=gaussian_sigma_zcdp(math.sqrt(T), b.epsilon, b.delta), size=T)


def trivial_max_sum(T: int) -> NDArray[np.float64]:
    r"""The data-independent release :math:`\hat y_t = t/2`, error at most :math:`T/2` (trivial branch)."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an int >= 1; got {T!r}")
    return np.arange(1, T + 1, dtype=np.float64) / 2.0
