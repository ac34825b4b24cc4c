"""Plain references: brute-force OPT, coverage with Python sets, the invariant check and the chapter's bounds.

Nothing here is fast; everything here is obviously right. Tests and the chapter compare the vectorised code
with these functions on tiny instances.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence

ValueFn = Callable[[Iterable[int]], float]


def coverage_value(sets: Sequence[set[int]], S: Iterable[int]) -> int:
    """``|∪_{e ∈ S} sets[e]|`` with Python sets."""
    covered: set[int] = set()
    for e in S:
        covered |= sets[e]
    return len(covered)


def coverage_fn(sets: Sequence[set[int]]) -> ValueFn:
    """The coverage function of ``sets`` as a plain callable ``S -> float``."""
    return lambda S: float(coverage_value(sets, S))


def marginal_gain(f: ValueFn, x: int, S: Iterable[int]) -> float:
    """``Δ(x | S) = f(S ∪ {x}) - f(S)``."""
    base = list(S)
    return f([*base, x]) - f(base)


def brute_force_opt(f: ValueFn, elements: Iterable[int], k: int) -> tuple[tuple[int, ...], float]:
    """``max_{|X| <= k} f(X)`` over subsets of ``elements`` by enumeration (monotone: size ``min(k, n)``)."""
    elems = sorted(set(elements))
    size = min(k, len(elems))
    best: tuple[tuple[int, ...], float] = ((), f(()))
    for X in itertools.combinations(elems, size):
        v = f(X)
        if v > best[1]:
            best = (X, v)
    return best


def is_threshold_maximal(f: ValueFn, S: Sequence[int], alive: Iterable[int], k: int, tau: float) -> bool:
    """The maximality invariant: ``|S| = k`` or ``Δ(x | S) < τ`` for every alive ``x`` outside ``S``."""
    if len(S) >= k:
        return True
    chosen = set(S)
    return all(marginal_gain(f, x, S) < tau for x in alive if x not in chosen)


def threshold_lemma_bound(opt: float, k: int, tau: float) -> float:
    """The threshold lemma: a ``τ``-maximal set has ``f(S) >= min(kτ, OPT - kτ)``."""
    return min(k * tau, opt - k * tau)


def guaranteed_ratio(eps: float) -> float:
    """The eager algorithm's proven ratio ``1 / (2 (1 + ε))`` (``>= 1/2 - ε/2``)."""
    return 1.0 / (2.0 * (1.0 + eps))


def lazy_value_level(eps: float) -> float:
    """The level the lazy value test protects, ``(1 - ε) / (2 (1 + ε))`` (a heuristic level, not a proof)."""
    return (1.0 - eps) / (2.0 * (1.0 + eps))


def grid_size(f_min: float, f_max: float, k: int, eps: float) -> int:
    """Number of guesses ``f_min (1+ε)^i <= k f_max``: ``floor(log_{1+ε}(k f_max / f_min)) + 1``."""
    return math.floor(math.log(k * f_max / f_min) / math.log(1 + eps) + 1e-9) + 1


def deletion_double_sum(picks_per_level: Sequence[int]) -> float:
    """``Σ_ℓ Σ_{j>=ℓ} 2 |S_ℓ| (|S_j| + 1) 2^{-(j-ℓ)}``: the expected-deletion-cost sum of the derivation.

    It is at most ``4 k (max_j |S_j| + 1)`` where ``k = Σ_ℓ |S_ℓ|`` (see :func:`deletion_bound`).
    """
    s = list(picks_per_level)
    return float(
        sum(2 * s[a] * (s[b] + 1) * 2.0 ** (-(b - a)) for a in range(len(s)) for b in range(a, len(s)))
    )


def deletion_bound(picks_per_level: Sequence[int]) -> float:
    """``4 (Σ_ℓ |S_ℓ|) (max_j |S_j| + 1)``: the closed-form upper bound on :func:`deletion_double_sum`."""
    s = list(picks_per_level)
    return float(4 * sum(s) * (max(s, default=0) + 1))
