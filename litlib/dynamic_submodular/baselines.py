"""Static baselines the dynamic algorithm is measured against: greedy, lazy greedy and threshold greedy.

Each takes a :class:`SetFunction`; pass a :class:`CountingOracle` to count queries, or the bare function to
measure quality without charging anything.
"""

from __future__ import annotations

import heapq

import numpy as np

from litlib.dynamic_submodular.dynamic import _check_k_eps, guess_grid
from litlib.dynamic_submodular.oracle import CountingOracle, SetFunction, as_index_array


def greedy(f: SetFunction, elements: np.ndarray, k: int) -> tuple[list[int], float]:
    """Standard greedy: ``k`` times add the element of largest marginal gain (ties: smallest id).

    Vectorised: each step evaluates all remaining gains in one batched call (``≈ n k`` queries).
    Returns the picked elements (in order) and ``f`` of them. Guarantees ``f >= (1 - 1/e) OPT``.
    """
    _check_k_eps(k, 0.5)
    rest = as_index_array(elements, f.n, "elements").copy()
    chosen: list[int] = []
    value = 0.0
    while rest.size and len(chosen) < k:
        gains = f.gains(rest, np.asarray(chosen, dtype=np.int64))
        i = int(np.argmax(gains))
        if gains[i] <= 0:
            break  # monotone f: nothing left adds value
        chosen.append(int(rest[i]))
        value += float(gains[i])
        rest = np.delete(rest, i)
    return chosen, value


def lazy_greedy(f: SetFunction, elements: np.ndarray, k: int) -> tuple[list[int], float]:
    """Lazy greedy (Minoux): the same choice rule as :func:`greedy`, re-evaluating only stale heap tops.

    Submodularity makes a stale gain an upper bound, so a refreshed top that still beats the next stale bound
    is the true maximiser. Costs ``n`` singleton queries plus typically few re-evaluations per step.
    """
    _check_k_eps(k, 0.5)
    elems = as_index_array(elements, f.n, "elements")
    if elems.size == 0:
        return [], 0.0
    first = f.gains(elems, np.zeros(0, dtype=np.int64))
    heap = [(-float(g), int(x), 0) for g, x in zip(first, elems)]  # (-gain bound, id, round computed)
    heapq.heapify(heap)
    chosen: list[int] = []
    value = 0.0
    while heap and len(chosen) < k:
        neg, x, rnd = heapq.heappop(heap)
        if rnd == len(chosen):  # fresh for the current solution: it is the maximiser
            if -neg <= 0:
                break
            chosen.append(x)
            value += -neg
            continue
        g = float(f.gains(np.array([x], dtype=np.int64), np.asarray(chosen, dtype=np.int64))[0])
        heapq.heappush(heap, (-g, x, len(chosen)))
    return chosen, value


def threshold_greedy(
    f: SetFunction, elements: np.ndarray, k: int, tau: float, rng: np.random.Generator
) -> tuple[list[int], float]:
    """Randomised threshold greedy: screen ``f({x}) >= τ``, then pick uniformly among gains ``>= τ``.

    Returns a ``τ``-maximal set: either ``k`` picks, or every element has marginal gain ``< τ``.
    Cost: ``n`` screening queries plus one per pool member per pick.
    """
    _check_k_eps(k, 0.5)
    if not tau > 0:
        raise ValueError(f"tau must be > 0; got {tau!r}")
    pool = as_index_array(elements, f.n, "elements")
    chosen: list[int] = []
    gains = f.gains(pool, np.zeros(0, dtype=np.int64))
    keep = gains >= tau
    pool, gains = pool[keep], gains[keep]
    value = 0.0
    while pool.size and len(chosen) < k:
        i = int(rng.integers(pool.size))
        chosen.append(int(pool[i]))
        value += float(gains[i])
        pool = np.delete(pool, i)
        if len(chosen) < k and pool.size:
            gains = f.gains(pool, np.asarray(chosen, dtype=np.int64))
            keep = gains >= tau
            pool, gains = pool[keep], gains[keep]
    return chosen, value


def recompute_threshold_greedy(
    f: SetFunction,
    elements: np.ndarray,
    k: int,
    *,
    eps: float,
    f_min: float,
    f_max: float,
    rng: np.random.Generator,
) -> tuple[list[int], float]:
    """Baseline (ii): threshold greedy from scratch for every guess of the grid; return the best solution.

    Same ``1/(2(1+ε))`` guarantee as the eager dynamic algorithm; this is what recomputing after every update
    would cost (each instance screens all ``n`` elements, then filters its pool after every pick).
    """
    best: tuple[list[int], float] = ([], 0.0)
    for gamma in guess_grid(f_min, f_max, k, eps):
        sol = threshold_greedy(f, elements, k, gamma / (2 * k), rng)
        if sol[1] > best[1]:
            best = sol
    return best


class SieveStreaming:
    """Baseline (v): sieve-streaming over the insertions, restarting a sieve when one of its picks is deleted.

    One sieve per guess ``v`` of the grid keeps ``S_v`` and admits an arriving ``e`` while ``|S_v| < k`` if
    ``Δ(e | S_v) >= (v/2 - f(S_v)) / (k - |S_v|)`` (insertion-only guarantee ``1/2 - ε``). Deleting an element that
    a sieve rejected leaves that sieve as if the element never arrived; deleting one of its picks forces a restart
    that streams every alive element again (in insertion order). The algorithm is deterministic, so an adversary
    that knows it can compute its picks in advance and delete exactly those, obliviously.

    Args:
        function: the monotone submodular function (wrapped in a :class:`CountingOracle` unless it is one).
        k: cardinality bound.
        eps: grid ratio.
        f_min: lower bound on every nonzero OPT.
        f_max: upper bound on every singleton value.
    """

    def __init__(
        self, function: SetFunction, k: int, *, eps: float = 0.5, f_min: float, f_max: float
    ) -> None:
        if not isinstance(function, SetFunction):
            raise TypeError(f"function must be a SetFunction; got {type(function).__name__}")
        self.oracle = function if isinstance(function, CountingOracle) else CountingOracle(function)
        self.k = int(k)
        self.guesses = guess_grid(f_min, f_max, k, eps)
        self.picks: list[list[int]] = [[] for _ in self.guesses]
        self.values = [0.0 for _ in self.guesses]
        self.order: dict[int, None] = {}  # alive elements in insertion order
        self.update_queries: list[int] = []
        self.restarts = 0

    @property
    def queries(self) -> int:
        """Oracle queries charged so far."""
        return self.oracle.queries

    def _threshold(self, i: int) -> float:
        return (self.guesses[i] / 2 - self.values[i]) / (self.k - len(self.picks[i]))

    def insert(self, e: int) -> int:
        """Stream ``e`` through every non-full sieve (one gain query each); returns the queries spent."""
        if not 0 <= int(e) < self.oracle.n or int(e) in self.order:
            raise ValueError(f"e must be a dead element id in [0, {self.oracle.n}); got {e!r}")
        before = self.oracle.queries
        e = int(e)
        self.order[e] = None
        single = np.array([e], dtype=np.int64)
        for i, picks in enumerate(self.picks):
            if len(picks) < self.k:
                gain = float(self.oracle.gains(single, np.asarray(picks, dtype=np.int64))[0])
                if gain >= self._threshold(i):
                    picks.append(e)
                    self.values[i] += gain
        self.update_queries.append(self.oracle.queries - before)
        return self.update_queries[-1]

    def delete(self, e: int) -> int:
        """Delete alive ``e``; restart (re-stream all alive elements through) every sieve that picked it."""
        if int(e) not in self.order:
            raise ValueError(f"e = {e!r} is not alive")
        before = self.oracle.queries
        e = int(e)
        del self.order[e]
        stream = np.fromiter(self.order, dtype=np.int64, count=len(self.order))
        for i, picks in enumerate(self.picks):
            if e in picks:
                self.restarts += 1
                self._restream(i, stream)
        self.update_queries.append(self.oracle.queries - before)
        return self.update_queries[-1]

    def _restream(self, i: int, stream: np.ndarray) -> None:
        # Equivalent to streaming one element at a time: batch the gains of the rest of the stream (uncounted),
        # find the first element that passes, and charge exactly the elements a sequential sieve would examine.
        self.picks[i], self.values[i] = [], 0.0
        raw, pos = self.oracle.function, 0
        while pos < len(stream) and len(self.picks[i]) < self.k:
            gains = raw.gains(stream[pos:], np.asarray(self.picks[i], dtype=np.int64))
            passing = np.flatnonzero(gains >= self._threshold(i))
            if passing.size == 0:
                self.oracle.charge(len(stream) - pos)
                return
            j = int(passing[0])
            self.oracle.charge(j + 1)
            self.picks[i].append(int(stream[pos + j]))
            self.values[i] += float(gains[j])
            pos += j + 1

    def solution(self) -> list[int]:
        """The pick set of the sieve with the largest value."""
        return list(self.picks[int(np.argmax(self.values))])

    def value(self) -> float:
        """Value of :meth:`solution` (tracked, no query)."""
        return float(max(self.values))
