r"""Streaming (online) versions of M1 and M2: one ``update(row)`` per step, outputs available before the next row.

The offline functions (:func:`~litlib.dp_continual.binary_tree_max`,
:func:`~litlib.dp_continual.sparse_vector_max_sum`) take the whole stream at once, which is convenient for
experiments. In the continual-release model, and in particular against an *adaptive* adversary that picks each row
after seeing the previous outputs, the mechanism must instead answer step by step. These classes do that with
``O(dH)`` memory (tree) or ``O(d)`` memory (sparse vector), and, fed the same noise, release exactly what the offline
functions release on the realised stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from litlib.dp_continual.privacy import PrivacyBudget
from litlib.dp_continual.svt import SVTNoise, svt_parameters
from litlib.dp_continual.tree import tree_height, tree_noise_scale


def _check_row(row: ArrayLike, d: int) -> NDArray[np.float64]:
    arr = np.asarray(row)
    if arr.shape != (d,):
        raise ValueError(f"row must have shape ({d},); got {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError("row must hold only 0 and 1")
    return arr.astype(np.float64)


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


class OnlineTreeMax:
    r"""M1 as a stream processor: a tree counter per column; each step returns :math:`(\hat y_t, \hat j_t)`.

    At step ``t`` the row is added to the open block of every level; a level-``h`` block that ends at ``t`` gets
    its noise and becomes that level's latest node; the noisy counts are the sum of the latest nodes of the levels
    whose bit is set in ``t`` (they are exactly the blocks of the dyadic decomposition of ``[1, t]``).

    Args:
        T: the number of steps the privacy budget covers (sets the tree height).
        d: the number of columns.
        budget: privacy target (Gaussian noise needs ``delta``; Laplace is pure DP).
        seed: noise seed.
        noise: ``"gaussian"`` or ``"laplace"``.
        node_noise: optional pre-drawn node noise, one ``(T // 2**h + 1, d)`` array per level, already scaled
            (as :func:`~litlib.dp_continual.sample_node_noise` returns); for common random numbers and tests.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: on bad sizes, budget or noise.
    """

    def __init__(
        self,
        T: int,
        d: int,
        budget: PrivacyBudget,
        seed: int,
        *,
        noise: str = "gaussian",
        node_noise: Sequence[torch.Tensor | NDArray[np.float64]] | None = None,
    ) -> None:
        self.T = _check_int(T, "T", 1)
        self.d = _check_int(d, "d", 1)
        if not isinstance(budget, PrivacyBudget):
            raise TypeError(f"budget must be a PrivacyBudget; got {type(budget).__name__}")
        self.scale = tree_noise_scale(self.T, self.d, budget, noise)
        self.noise = noise
        self.height = tree_height(self.T)
        self._rng = np.random.default_rng(_check_int(seed, "seed", 0))
        self._node_noise = None
        if node_noise is not None:
            if len(node_noise) != self.height:
                raise ValueError(f"node_noise must have H={self.height} levels; got {len(node_noise)}")
            self._node_noise = [np.asarray(level, dtype=np.float64) for level in node_noise]
        self._open = np.zeros((self.height, self.d))  # running sum of the unfinished block of each level
        self._latest = np.zeros((self.height, self.d))  # latest finished noisy node of each level
        self.t = 0

    def _draw(self, h: int, m: int) -> NDArray[np.float64]:
        if self._node_noise is not None:
            return self._node_noise[h][m]
        if self.noise == "gaussian":
            return self.scale * self._rng.standard_normal(self.d)
        return self._rng.laplace(scale=self.scale, size=self.d)

    def update(self, row: ArrayLike) -> tuple[float, int]:
        """Consume the next row; return the MaxSum and SelectSum releases for this step.

        Raises:
            ValueError: if the row is not a 0/1 vector of length ``d``, or more than ``T`` rows are fed.
        """
        x = _check_row(row, self.d)
        if self.t >= self.T:
            raise ValueError(f"the budget covers T={self.T} steps; no more rows can be released")
        self.t += 1
        t = self.t
        self._open += x
        noisy = np.zeros(self.d)
        for h in range(self.height):
            if t % (1 << h) == 0:  # the level-h block (h, t >> h) ends now
                self._latest[h] = self._open[h] + self._draw(h, t >> h)
                self._open[h] = 0.0
            if (t >> h) & 1:
                noisy += self._latest[h]
        j = int(np.argmax(noisy))
        return float(noisy[j]), j


class OnlineSparseVectorMaxSum:
    r"""M2 as a stream processor: keeps the running column sums and releases :math:`\hat y_t` after each row.

    Args:
        T: number of steps (sets the default cap and the noise length).
        d: number of columns.
        theta: threshold on the staleness :math:`M_t - v`.
        budget: privacy target.
        seed: noise seed; the same seed gives the same noise as
            :func:`~litlib.dp_continual.sparse_vector_max_sum`.
        cap: round cap (default :math:`\lceil 2T/\theta \rceil + 1`).
        noise: optional pre-drawn :class:`~litlib.dp_continual.SVTNoise`.
    """

    def __init__(
        self,
        T: int,
        d: int,
        theta: float,
        budget: PrivacyBudget,
        seed: int,
        *,
        cap: int | None = None,
        noise: SVTNoise | None = None,
    ) -> None:
        self.T = _check_int(T, "T", 1)
        self.d = _check_int(d, "d", 1)
        self.params = svt_parameters(self.T, theta, budget, cap=cap)
        self._noise = noise if noise is not None else SVTNoise.draw(self.T, self.params.cap, seed)
        self._noise.check(self.T, self.params.cap)
        self._sums = np.zeros(self.d)
        self.value = 0.0
        self.rounds = 0
        self.t = 0

    def update(self, row: ArrayLike) -> float:
        """Consume the next row and return the release :math:`\\hat y_t`.

        Raises:
            ValueError: on a bad row or more than ``T`` rows.
        """
        x = _check_row(row, self.d)
        if self.t >= self.T:
            raise ValueError(f"the budget covers T={self.T} steps; no more rows can be released")
        self._sums += x
        M_t = float(self._sums.max())
        p, nz = self.params, self._noise
        if self.rounds < p.cap:
            noisy_query = M_t - self.value + p.query_scale * nz.query[self.t]
            if noisy_query >= p.theta + p.threshold_scale * nz.threshold[self.rounds]:
                self.value = M_t + p.release_scale * nz.release[self.rounds]
                self.rounds += 1
        self.t += 1
        return self.value
