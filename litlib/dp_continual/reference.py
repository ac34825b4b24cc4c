"""Plain references: the chapter's definitions written as loops, slow and obvious, for tests and the text.

Nothing here is vectorised. Each function mirrors one definition of the chapter: running sums by a loop over
rows, the tree by explicit node *values* (block sum plus noise) summed over the dyadic decomposition, and the
sparse-vector mechanisms as one AboveThreshold test per step.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.dp_continual.svt import SVTNoise, SVTParameters


def column_sums_reference(stream: ArrayLike) -> NDArray[np.int64]:
    """:math:`s_t[j]` by adding one row at a time."""
    x = np.asarray(stream, dtype=np.int64)
    T, d = x.shape
    out = np.zeros((T, d), dtype=np.int64)
    running = np.zeros(d, dtype=np.int64)
    for t in range(T):
        running = running + x[t]
        out[t] = running
    return out


def max_sums_reference(stream: ArrayLike) -> NDArray[np.int64]:
    r""":math:`M_t = \max_j s_t[j]`, one step at a time."""
    return np.array([max(row) for row in column_sums_reference(stream)], dtype=np.int64)


def dyadic_blocks(t: int) -> list[tuple[int, int]]:
    r"""The blocks ``(h, m)`` that tile :math:`[1, t]`, listed from the highest level down.

    One block per set bit ``h`` of ``t``: node :math:`m = \lfloor t/2^h \rfloor` of level ``h``, i.e. the
    interval :math:`((m-1)2^h, m 2^h]`.
    """
    if t < 1:
        raise ValueError(f"t must be >= 1; got {t}")
    return [(h, t >> h) for h in reversed(range(t.bit_length())) if (t >> h) & 1]


def block_interval(h: int, m: int) -> tuple[int, int]:
    """The 1-based inclusive interval ``(lo, hi)`` of node ``m`` of level ``h``."""
    return (m - 1) * 2**h + 1, m * 2**h


def tree_prefix_reference(stream: ArrayLike, node_noise: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    r"""Noisy prefix counts :math:`\tilde s_t[j]` as the sum of node values over the dyadic blocks of ``t``.

    Each node value is its block's column sum (computed directly from the rows) plus ``node_noise[h][m]``.
    """
    x = np.asarray(stream, dtype=np.float64)
    T, d = x.shape
    out = np.zeros((T, d))
    for t in range(1, T + 1):
        for h, m in dyadic_blocks(t):
            lo, hi = block_interval(h, m)
            out[t - 1] += x[lo - 1 : hi].sum(axis=0) + np.asarray(node_noise[h][m])
    return out


def shared_blocks(s: int, t: int) -> int:
    """Number of dyadic blocks that the decompositions of ``s`` and ``t`` have in common."""
    return len(set(dyadic_blocks(s)) & set(dyadic_blocks(t)))


def tree_noise_covariance(T: int, sigma: float) -> NDArray[np.float64]:
    r"""Closed-form covariance of the prefix noises, :math:`\sigma^2` times the number of shared blocks.

    The diagonal is :math:`\sigma^2 \mathrm{popcount}(t)`.
    """
    return sigma**2 * np.array(
        [[shared_blocks(s, t) for t in range(1, T + 1)] for s in range(1, T + 1)], float
    )


def svt_max_sum_reference(M: ArrayLike, params: SVTParameters, noise: SVTNoise) -> NDArray[np.float64]:
    r"""M2 step by step: test :math:`M_t - v + \nu_t \ge \theta + \rho_r`; on a hit, release and refresh."""
    M = np.asarray(M, dtype=np.float64)
    out = np.empty(len(M))
    v, r = 0.0, 0
    for t in range(len(M)):
        if r < params.cap:
            noisy_query = M[t] - v + params.query_scale * noise.query[t]
            if noisy_query >= params.theta + params.threshold_scale * noise.threshold[r]:
                v = M[t] + params.release_scale * noise.release[r]
                r += 1
        out[t] = v
    return out


def svt_select_sum_reference(S: ArrayLike, params: SVTParameters, noise: SVTNoise) -> NDArray[np.int64]:
    """M3 one step at a time: test the noisy gap of the current index; on a hit, re-select by noisy max."""
    S = np.asarray(S, dtype=np.float64)
    T = S.shape[0]
    out = np.empty(T, dtype=np.int64)
    j = int(np.argmax(S[0] + params.release_scale * noise.release[0]))
    r = 0
    for t in range(T):
        if r < params.cap:
            gap = S[t].max() - S[t, j] + params.query_scale * noise.query[t]
            if gap >= params.theta + params.threshold_scale * noise.threshold[r]:
                j = int(np.argmax(S[t] + params.release_scale * noise.release[r + 1]))
                r += 1
        out[t] = j
    return out


def decode_reduction_reference(Y: ArrayLike) -> NDArray[np.int64]:
    """Column counts of ``Y`` recovered by an exact MaxSum oracle on the reduction stream (no noise).

    Builds the stream row by row and reads :math:`M` at the end of each block ``j``, minus :math:`n(j+1)`.
    """
    Y = np.asarray(Y, dtype=np.int64)
    n, d = Y.shape
    rows = list(Y)
    for j in range(d):
        rows += [np.array([1 if i >= j else 0 for i in range(d)])] * n
        rows += [np.eye(d, dtype=np.int64)[j]] * n
    M = max_sums_reference(np.array(rows))
    return np.array([M[n * (2 * j + 3) - 1] - n * (j + 2) for j in range(d)], dtype=np.int64)
