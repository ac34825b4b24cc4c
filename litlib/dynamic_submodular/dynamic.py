"""Fully dynamic monotone submodular maximisation under a cardinality constraint (threshold levels).

This is the chapter's **reconstruction** of an algorithm in the family of Banihashem et al. (ICML 2023) and
Lattanzi et al. (NeurIPS 2020); see the chapter for what is the paper's and what is ours. Structure:

* an outer grid of guesses ``γ ∈ {f_min (1 + ε)^i <= k f_max}``, one independent :class:`ThresholdInstance`
  per guess with threshold ``τ = γ / (2k)``; the reported solution is the instance solution of largest value;
* inside an instance, levels ``0..L`` (``L = ceil(log2 n)``), each with a candidate pool ``A_ℓ``, picks
  ``S_ℓ`` and an insertion buffer ``B_ℓ``; ``construct(ℓ0)`` keeps the picks below ``ℓ0`` and re-runs a
  randomised threshold greedy from ``ℓ0``, picking at level ``ℓ`` while the filtered pool has at least
  ``2^(L-ℓ)`` elements.

Variants: ``"eager"`` rebuilds whenever a pick is deleted (it keeps the maximality invariant, hence the
``1/(2(1+ε))`` guarantee); ``"lazy"`` rebuilds only when the instance value falls below ``(1-ε)γ/2``
(cheap, but not covered by our proof).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from litlib.dynamic_submodular.oracle import CountingOracle, SetFunction

VARIANTS = ("eager", "lazy")


def guess_grid(f_min: float, f_max: float, k: int, eps: float) -> np.ndarray:
    """The guesses ``γ_i = f_min (1 + ε)^i`` for ``i = 0, 1, ...`` while ``γ_i <= k f_max``.

    Starting at ``f_min`` (the smallest possible nonzero OPT), not at the current largest singleton, keeps an
    instance with ``γ <= OPT`` alive after the largest element is deleted.

    Raises:
        ValueError: if ``f_min <= 0``, ``f_max < f_min``, ``k < 1`` or ``ε <= 0``.
    """
    _check_k_eps(k, eps)
    if not (isinstance(f_min, Real) and f_min > 0 and math.isfinite(f_min)):
        raise ValueError(f"f_min must be a finite number > 0; got {f_min!r}")
    if not (isinstance(f_max, Real) and f_max >= f_min and math.isfinite(f_max)):
        raise ValueError(f"f_max must be a finite number >= f_min = {f_min}; got {f_max!r}")
    top = k * f_max
    # Integer exponents avoid drift from repeated multiplication; the tolerance keeps exact powers on it.
    count = math.floor(math.log(top / f_min) / math.log1p(eps) + 1e-9) + 1
    return f_min * (1.0 + eps) ** np.arange(count)


def _check_k_eps(k: int, eps: float) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an int; got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if not isinstance(eps, Real) or isinstance(eps, bool) or not 0 < eps < 1:
        raise ValueError(f"eps must be a number in (0, 1); got {eps!r}")


@dataclass(frozen=True)
class LevelState:
    """A snapshot of one level of an instance (for analysis and tests).

    Attributes:
        level: ``ℓ``.
        pool_size: ``|A_ℓ|`` now (alive elements only).
        pool_size_at_build: ``|A_ℓ|`` when the level was built.
        picks: ``S_ℓ`` in pick order.
        buffer_size: ``|B_ℓ|``.
        first_of_construct: whether ``ℓ`` was the first level of the ``construct`` call that built it (its
            pool may exceed ``2^(L-ℓ+1)``; later levels' pools may not).
    """

    level: int
    pool_size: int
    pool_size_at_build: int
    picks: tuple[int, ...]
    buffer_size: int
    first_of_construct: bool


class ThresholdInstance:
    """One guess ``γ`` of OPT: the levels of a randomised threshold greedy with threshold ``τ = γ/(2k)``.

    Usually created by :class:`DynamicSubmodular`; usable alone when OPT is known up to a factor ``1 + ε``.

    Args:
        oracle: the counting oracle (shared with other instances).
        gamma: the guess ``γ > 0``; the threshold is ``τ = γ / (2k)``.
        k: cardinality bound.
        L: top level (``ceil(log2 n)``).
        eps: accuracy parameter (used by the lazy value test).
        rng: this instance's own random stream.
        variant: ``"eager"`` or ``"lazy"``.
        half_pool_rebuild: also rebuild a level once deletions have halved its pool (keeps picks uniform over
            at least half of their construction-time pool).
    """

    def __init__(
        self,
        oracle: CountingOracle,
        gamma: float,
        k: int,
        L: int,
        eps: float,
        rng: np.random.Generator,
        variant: str = "eager",
        half_pool_rebuild: bool = False,
    ) -> None:
        _check_k_eps(k, eps)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0; got {gamma!r}")
        if L < 0:
            raise ValueError(f"L must be >= 0; got {L}")
        self.oracle, self.gamma, self.k, self.L, self.eps = oracle, float(gamma), int(k), int(L), float(eps)
        self.tau = self.gamma / (2 * self.k)
        self.rng, self.variant, self.half_pool_rebuild = rng, variant, half_pool_rebuild
        levels = range(self.L + 1)
        self.pools: list[set[int]] = [set() for _ in levels]
        self.pool_size_at_build = [0 for _ in levels]
        self.first_of_construct = [False for _ in levels]
        self.picks: list[list[int]] = [[] for _ in levels]
        self.pick_gains: list[list[float]] = [[] for _ in levels]
        self.buffers: list[set[int]] = [set() for _ in levels]
        self.level_of: dict[int, int] = {}  # pick -> its level
        self.accepted: set[int] = set()  # alive elements that passed the screen f({e}) >= τ
        self.size = 0
        self.value = 0.0  # f(S), tracked from queries already made
        self.damaged = self.L + 1  # lazy: lowest level that lost a pick since it was built
        self.constructs = 0
        self.half_pool_rebuilds = 0

    # ----------------------------------------------------------------------------------------------- updates
    def insert(self, e: int, singleton_value: float) -> None:
        """Handle ``insert(e)`` given ``f({e})`` (the caller charges the screening query)."""
        if singleton_value < self.tau:
            return  # by submodularity Δ(e | S) <= f({e}) < τ for every S: e can never be picked
        self.accepted.add(e)
        for buffer in self.buffers:
            buffer.add(e)
        if self.size < self.k:
            self.construct(self._first_full_buffer())

    def delete(self, e: int) -> None:
        """Handle ``delete(e)``: drop ``e``; rebuild if it was a pick (eager) or its value fell (lazy)."""
        if e not in self.accepted:
            return
        self.accepted.discard(e)
        for pool, buffer in zip(self.pools, self.buffers):
            pool.discard(e)
            buffer.discard(e)
        level = self.level_of.pop(e, None)
        if level is None:
            self._maybe_half_pool_rebuild()
            return
        i = self.picks[level].index(e)
        del self.picks[level][i]
        del self.pick_gains[level][i]
        self.size -= 1
        if self.variant == "eager":
            self.construct(level)
            return
        self.damaged = min(self.damaged, level)
        self.value = self.oracle.value(self.solution_array())
        if self.value < (1 - self.eps) * self.gamma / 2:
            self.construct(self.damaged)
        else:
            self._maybe_half_pool_rebuild()

    def _first_full_buffer(self) -> int:
        for level in range(self.L + 1):
            if len(self.buffers[level]) >= 2 ** (self.L - level):
                return level
        raise AssertionError("unreachable: |B_L| >= 1 right after an accepted insertion")

    def _maybe_half_pool_rebuild(self) -> None:
        if not self.half_pool_rebuild:
            return
        for level in range(self.L + 1):
            if self.picks[level] and 2 * len(self.pools[level]) < self.pool_size_at_build[level]:
                self.half_pool_rebuilds += 1
                self.construct(level)
                return

    # ------------------------------------------------------------------------------------------- construct
    def construct(self, l0: int) -> None:
        """Keep the picks of levels ``< l0`` and rebuild levels ``l0..L`` by randomised threshold greedy."""
        if not 0 <= l0 <= self.L:
            raise ValueError(f"l0 must be in [0, {self.L}]; got {l0}")
        self.constructs += 1
        kept = [x for level in range(l0) for x in self.picks[level]]
        if self.damaged < l0:  # lazy: the kept prefix lost picks, so its value is not a sum of pick gains
            self.value = self.oracle.value(np.asarray(kept, dtype=np.int64))
        else:
            self.value = float(sum(g for level in range(l0) for g in self.pick_gains[level]))
            self.damaged = self.L + 1
        candidates = (self.pools[l0] | self.buffers[l0]).difference(kept)
        for level in range(l0, self.L + 1):
            for x in self.picks[level]:
                del self.level_of[x]
            self.pools[level], self.buffers[level] = set(), set()
            self.picks[level], self.pick_gains[level] = [], []
            self.pool_size_at_build[level], self.first_of_construct[level] = 0, False
        self.size = len(kept)
        pool = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        pool.sort()  # set order is an implementation detail; sorting makes runs reproducible
        pool, gains = self._filter(pool, kept)
        for level in range(l0, self.L + 1):
            self.pools[level] = set(pool.tolist())
            self.pool_size_at_build[level] = len(pool)
            self.first_of_construct[level] = level == l0
            while len(pool) >= 2 ** (self.L - level) and self.size < self.k:
                pool, gains = self._pick(level, pool, gains, kept)
            if len(pool) == 0 or self.size >= self.k:
                break

    def _pick(
        self, level: int, pool: np.ndarray, gains: np.ndarray, kept: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        # Uniform over the *filtered* pool: the deletion analysis needs every pool member equally likely.
        i = int(self.rng.integers(len(pool)))
        e = int(pool[i])
        self.picks[level].append(e)
        self.pick_gains[level].append(float(gains[i]))
        self.level_of[e] = level
        kept.append(e)
        self.size += 1
        self.value += float(gains[i])
        pool, gains = np.delete(pool, i), np.delete(gains, i)
        if self.size >= self.k:
            return pool, gains  # full: the rest stays in A_ℓ for a later rebuild, unfiltered
        return self._filter(pool, kept)

    def _filter(self, pool: np.ndarray, kept: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if len(pool) == 0:
            return pool, np.zeros(0)
        gains = self.oracle.gains(pool, np.asarray(kept, dtype=np.int64))
        keep = gains >= self.tau  # '>=' everywhere: with integer values '>' vs '>=' changes the algorithm
        return pool[keep], gains[keep]

    # ------------------------------------------------------------------------------------------- read-out
    def solution_array(self) -> np.ndarray:
        """``S = ∪_ℓ S_ℓ`` as an ``int64`` array (levels in order, picks in order)."""
        return np.asarray([x for level in self.picks for x in level], dtype=np.int64)

    def levels(self) -> list[LevelState]:
        """A snapshot of every level (pool sizes, picks, buffer sizes)."""
        return [
            LevelState(
                level=level,
                pool_size=len(self.pools[level]),
                pool_size_at_build=self.pool_size_at_build[level],
                picks=tuple(self.picks[level]),
                buffer_size=len(self.buffers[level]),
                first_of_construct=self.first_of_construct[level],
            )
            for level in range(self.L + 1)
        ]


class DynamicSubmodular:
    """A ``(1/2 - ε)``-style fully dynamic algorithm: ``insert(e)``, ``delete(e)``, ``solution()``.

    Maintains, under insertions and deletions of elements of the ground set of ``function``, a set ``S`` of at
    most ``k`` alive elements. The ``"eager"`` variant guarantees ``f(S) >= OPT / (2(1 + ε))`` after every
    update (for monotone submodular ``f``, every nonzero OPT ``>= f_min``, every singleton ``<= f_max``).
    Oracle queries are counted in ``queries`` (per update in ``update_queries``).

    Args:
        function: the monotone submodular function (any :class:`SetFunction`; it is wrapped in a
            :class:`CountingOracle` unless it already is one).
        k: cardinality bound ``k >= 1``.
        eps: accuracy parameter in ``(0, 1)``: the guess grid ratio and the lazy value test.
        f_min: a lower bound ``> 0`` on every nonzero OPT (1 for integer-valued functions).
        f_max: an upper bound on every singleton value ``f({e})``.
        variant: ``"eager"`` (default, provable) or ``"lazy"`` (heuristic).
        seed: seed of the algorithm's coins; each instance gets its own spawned stream.
        half_pool_rebuild: also rebuild a level once deletions have halved its pool.

    Example:
        >>> from litlib.dynamic_submodular import CoverageFunction
        >>> f = CoverageFunction.from_sets([{0, 1}, {1, 2}, {3}], universe=4)
        >>> algo = DynamicSubmodular(f, k=2, eps=0.5, f_min=1, f_max=2, seed=0)
        >>> for e in (0, 1, 2):
        ...     _ = algo.insert(e)
        >>> algo.value() >= 3.0 / (2 * 1.5)
        True
    """

    def __init__(
        self,
        function: SetFunction,
        k: int,
        *,
        eps: float = 0.5,
        f_min: float,
        f_max: float,
        variant: str = "eager",
        seed: int = 0,
        half_pool_rebuild: bool = False,
    ) -> None:
        if not isinstance(function, SetFunction):
            raise TypeError(f"function must be a SetFunction; got {type(function).__name__}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0; got {seed!r}")
        self.oracle = function if isinstance(function, CountingOracle) else CountingOracle(function)
        self.k, self.eps, self.variant = int(k), float(eps), variant
        self.guesses = guess_grid(f_min, f_max, k, eps)
        self.L = max(1, math.ceil(math.log2(max(self.oracle.n, 2))))
        streams = np.random.SeedSequence(int(seed)).spawn(len(self.guesses))
        self.instances = [
            ThresholdInstance(
                self.oracle, g, self.k, self.L, self.eps, np.random.default_rng(s), variant, half_pool_rebuild
            )
            for g, s in zip(self.guesses, streams)
        ]
        self.alive = np.zeros(self.oracle.n, dtype=bool)
        self.update_queries: list[int] = []

    @property
    def queries(self) -> int:
        """Oracle queries charged so far (all instances)."""
        return self.oracle.queries

    def _check_element(self, e: int) -> int:
        if not isinstance(e, (int, np.integer)) or isinstance(e, bool):
            raise TypeError(f"e must be an int element id; got {type(e).__name__}")
        if not 0 <= e < self.oracle.n:
            raise ValueError(f"e must be in [0, {self.oracle.n}); got {e}")
        return int(e)

    def insert(self, e: int) -> int:
        """Insert element ``e`` (not alive); returns the oracle queries this update cost."""
        e = self._check_element(e)
        if self.alive[e]:
            raise ValueError(f"e = {e} is already alive; insert expects a new element")
        before = self.oracle.queries
        self.alive[e] = True
        # Every instance screens e with its own query f({e}); the answer is the same, so compute it once and
        # charge one query per instance (what independent instances, e.g. on different ranks, would pay).
        singleton = self.oracle.function.value(np.array([e], dtype=np.int64))
        self.oracle.charge(len(self.instances))
        for inst in self.instances:
            inst.insert(e, singleton)
        cost = self.oracle.queries - before
        self.update_queries.append(cost)
        return cost

    def delete(self, e: int) -> int:
        """Delete alive element ``e``; returns the oracle queries this update cost."""
        e = self._check_element(e)
        if not self.alive[e]:
            raise ValueError(f"e = {e} is not alive; delete expects an inserted element")
        before = self.oracle.queries
        self.alive[e] = False
        for inst in self.instances:
            inst.delete(e)
        cost = self.oracle.queries - before
        self.update_queries.append(cost)
        return cost

    def best_instance(self) -> ThresholdInstance:
        """The instance whose solution has the largest (tracked) value."""
        return max(self.instances, key=lambda inst: inst.value)

    def solution(self) -> list[int]:
        """The current solution: at most ``k`` alive elements (values are tracked, so this costs no query)."""
        return [int(x) for x in self.best_instance().solution_array()]

    def value(self) -> float:
        """``f(solution())`` as tracked by the algorithm (no query)."""
        return float(self.best_instance().value)

    def alive_elements(self) -> np.ndarray:
        """The alive element ids, sorted."""
        return np.flatnonzero(self.alive)
