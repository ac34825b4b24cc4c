"""Value oracles for monotone submodular functions, and the query counter the cost model is measured with.

A user plugs in their own function by subclassing :class:`SetFunction` (implement ``n`` and ``value``;
override ``gains`` when a batched marginal gain is cheaper than two values) or by wrapping a plain Python
callable with :class:`CallableFunction`. The algorithms never call the function directly: they go through a
:class:`CountingOracle`, which counts one query per value ``f(S)`` and one per marginal gain ``Δ(x | S)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

import numpy as np

IntArray = np.ndarray


def as_index_array(elements: Iterable[int] | np.ndarray, n: int, name: str) -> np.ndarray:
    """Validate a collection of element ids in ``[0, n)`` and return it as a 1-D ``int64`` array.

    Raises:
        TypeError: if the entries are not integers.
        ValueError: if the array is not 1-D or an id is outside ``[0, n)``.
    """
    arr = np.asarray(elements if isinstance(elements, np.ndarray) else list(elements))
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer element ids; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must hold ids in [0, {n}); got range [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


class SetFunction(ABC):
    """A monotone submodular set function ``f`` on the ground set ``{0, ..., n - 1}`` (a value oracle).

    Subclasses implement :attr:`n` and :meth:`value`. The default :meth:`gains` calls :meth:`value` once for
    the base and once per candidate; override it when a batched marginal gain is cheaper (as the bitset
    coverage function does). The algorithms assume, and do not check, that ``f`` is monotone submodular with
    ``f(∅) = 0``.
    """

    @property
    @abstractmethod
    def n(self) -> int:
        """Size of the ground set; element ids are ``0 .. n - 1``."""

    @abstractmethod
    def value(self, S: np.ndarray) -> float:
        """``f(S)`` for a 1-D integer array of distinct element ids."""

    def gains(self, candidates: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Marginal gains ``Δ(x | base) = f(base ∪ {x}) - f(base)`` for every ``x`` in ``candidates``.

        Args:
            candidates: 1-D integer array of element ids (not in ``base``).
            base: 1-D integer array of distinct element ids.

        Returns:
            a float64 array shaped like ``candidates``.
        """
        f_base = self.value(base)
        out = np.empty(len(candidates), dtype=np.float64)
        for i, x in enumerate(candidates):
            out[i] = self.value(np.append(base, x)) - f_base
        return out


class CallableFunction(SetFunction):
    """Wrap a Python callable ``fn(frozenset) -> float`` as a :class:`SetFunction` (convenient, not fast).

    Example:
        >>> f = CallableFunction(lambda S: float(len(S) > 0), n=3)
        >>> f.value(np.array([0, 2]))
        1.0
    """

    def __init__(self, fn: Callable[[frozenset[int]], float], n: int) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        self._fn = fn
        self._n = int(n)

    @property
    def n(self) -> int:
        """Size of the ground set."""
        return self._n

    def value(self, S: np.ndarray) -> float:
        """``fn(frozenset(S))`` as a float."""
        return float(self._fn(frozenset(int(x) for x in S)))


class CountingOracle(SetFunction):
    """Count oracle queries: one per ``f(S)`` and one per marginal gain ``Δ(x | S)`` (the paper's cost model).

    Wrap the function once and give the wrapper to an algorithm; read ``queries`` afterwards. Use
    :meth:`evaluate` for measurements that must not be charged (quality checks).

    Example:
        >>> f = CountingOracle(CallableFunction(lambda S: float(len(S)), n=5))
        >>> _ = f.gains(np.array([1, 2, 3]), np.array([0]))
        >>> f.queries
        3
    """

    def __init__(self, function: SetFunction) -> None:
        if not isinstance(function, SetFunction):
            raise TypeError(f"function must be a SetFunction; got {type(function).__name__}")
        self.function = function
        self.queries = 0

    @property
    def n(self) -> int:
        """Size of the wrapped function's ground set."""
        return self.function.n

    def value(self, S: np.ndarray) -> float:
        """``f(S)``; charges one query."""
        self.queries += 1
        return self.function.value(S)

    def gains(self, candidates: np.ndarray, base: np.ndarray) -> np.ndarray:
        """``Δ(x | base)`` for each candidate; charges ``len(candidates)`` queries."""
        self.queries += len(candidates)
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.float64)
        return self.function.gains(candidates, base)

    def charge(self, count: int) -> None:
        """Charge ``count`` queries whose answer the caller already holds (a screen shared by instances)."""
        if count < 0:
            raise ValueError(f"count must be >= 0; got {count}")
        self.queries += count

    def evaluate(self, S: list[int] | np.ndarray) -> float:
        """``f(S)`` without charging a query: for measuring quality, never for the algorithm's decisions."""
        return self.function.value(np.asarray(S, dtype=np.int64))

    def reset(self) -> None:
        """Set the query counter back to zero."""
        self.queries = 0
