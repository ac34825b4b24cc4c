"""Max-coverage functions stored as packed bitsets: the oracle of the chapter's experiments.

Element ``e`` covers a subset of a universe ``{0, ..., U - 1}``; ``f(S)`` is the number of universe items
covered by the union of the subsets in ``S``. Each subset is a row of ``W = ceil(U / 64)`` unsigned 64-bit
words, so a batch of marginal gains ``Δ(x | G) = popcount(bits[x] & ~covered(G))`` is one vectorised AND-NOT
and popcount over ``|candidates| x W`` words.
"""

from __future__ import annotations

import numpy as np

from litlib.dynamic_submodular.oracle import SetFunction, as_index_array


def pack_sets(sets: list[set[int]], universe: int) -> np.ndarray:
    """Pack subsets of ``{0, ..., universe - 1}`` into a ``(len(sets), ceil(universe / 64))`` uint64 array.

    Bit ``u`` of row ``i`` (word ``u // 64``, bit ``u % 64``) is set iff ``u`` is in ``sets[i]``.

    Raises:
        ValueError: if ``universe < 1`` or an item lies outside the universe.
    """
    if not isinstance(universe, (int, np.integer)) or universe < 1:
        raise ValueError(f"universe must be a positive int; got {universe!r}")
    words = (int(universe) + 63) // 64
    dense = np.zeros((len(sets), words * 64), dtype=bool)
    for i, items in enumerate(sets):
        idx = np.fromiter((int(u) for u in items), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= universe):
            raise ValueError(f"sets[{i}] has items outside [0, {universe})")
        dense[i, idx] = True
    return np.packbits(dense, axis=1, bitorder="little").view(np.uint64).reshape(len(sets), words)


class CoverageFunction(SetFunction):
    """``f(S) = |∪_{e ∈ S} C_e|`` for subsets ``C_e`` stored as packed uint64 bitsets (monotone submodular).

    Args:
        bits: ``(n, W)`` array of ``uint64``; row ``e`` is the bitset of ``C_e`` (see :func:`pack_sets`).

    Example:
        >>> f = CoverageFunction.from_sets([{0, 1}, {1, 2}, {5}], universe=6)
        >>> f.value(np.array([0, 1]))
        3.0
        >>> f.gains(np.array([1, 2]), np.array([0])).tolist()
        [1.0, 1.0]
    """

    def __init__(self, bits: np.ndarray) -> None:
        if not isinstance(bits, np.ndarray):
            raise TypeError(f"bits must be a numpy array; got {type(bits).__name__}")
        if bits.dtype != np.uint64:
            raise TypeError(f"bits must have dtype uint64; got {bits.dtype}")
        if bits.ndim != 2 or bits.shape[0] < 1 or bits.shape[1] < 1:
            raise ValueError(f"bits must be a non-empty 2-D array (n, words); got shape {bits.shape}")
        self.bits = np.ascontiguousarray(bits)

    @classmethod
    def from_sets(cls, sets: list[set[int]], universe: int) -> CoverageFunction:
        """Build from explicit subsets of ``{0, ..., universe - 1}``."""
        if len(sets) == 0:
            raise ValueError("sets must hold at least one subset")
        return cls(pack_sets(sets, universe))

    @property
    def n(self) -> int:
        """Number of elements (subsets)."""
        return int(self.bits.shape[0])

    def covered(self, S: np.ndarray) -> np.ndarray:
        """The bitset (one row of words) covered by the union of the subsets in ``S``."""
        if len(S) == 0:
            return np.zeros(self.bits.shape[1], dtype=np.uint64)
        return np.bitwise_or.reduce(self.bits[S], axis=0)

    def value(self, S: np.ndarray) -> float:
        """Number of universe items covered by ``S``."""
        S = as_index_array(S, self.n, "S")
        return float(np.bitwise_count(self.covered(S)).sum())

    def gains(self, candidates: np.ndarray, base: np.ndarray) -> np.ndarray:
        """``popcount(bits[x] & ~covered(base))`` for every candidate, vectorised over the batch."""
        candidates = as_index_array(candidates, self.n, "candidates")
        base = as_index_array(base, self.n, "base")
        uncovered = ~self.covered(base)
        counts = np.bitwise_count(self.bits[candidates] & uncovered).sum(axis=1, dtype=np.int64)
        return counts.astype(np.float64)

    def singleton_values(self) -> np.ndarray:
        """``f({e})`` for every element (the set sizes); a measurement helper, not an oracle query."""
        return np.bitwise_count(self.bits).sum(axis=1, dtype=np.int64).astype(np.float64)


def random_coverage(
    n: int, universe: int, max_size: int, rng: np.random.Generator, *, min_size: int = 1
) -> CoverageFunction:
    """A random coverage function: element ``e`` covers a random subset of size ``~ U[min_size, max_size]``.

    Args:
        n: number of elements.
        universe: universe size ``U``.
        max_size: largest subset size (at most ``universe``).
        rng: NumPy generator (the only source of randomness).
        min_size: smallest subset size (default 1).

    Raises:
        ValueError: if the sizes are inconsistent.
        TypeError: if ``rng`` is not a ``numpy.random.Generator``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if universe < 1:
        raise ValueError(f"universe must be >= 1; got {universe}")
    if not 1 <= min_size <= max_size <= universe:
        raise ValueError(
            f"need 1 <= min_size <= max_size <= universe; got {min_size}, {max_size}, {universe}"
        )
    sizes = rng.integers(min_size, max_size + 1, size=n)
    words = (universe + 63) // 64
    dense = np.zeros((n, words * 64), dtype=bool)
    for i, size in enumerate(sizes):
        dense[i, rng.choice(universe, size=int(size), replace=False)] = True
    bits = np.packbits(dense, axis=1, bitorder="little").view(np.uint64).reshape(n, words)
    return CoverageFunction(bits)
