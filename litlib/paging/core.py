"""Request sequences, k-phases, prediction bits and their errors: the bookkeeping every paging algorithm
shares.

Conventions used throughout :mod:`litlib.paging`:

* a request sequence is a 1-D array of non-negative integer page ids;
* a *discard bit* ``b_t = 1`` means "safe to evict ``p_t``" and ``0`` means "keep it";
* ``eta0`` counts *missed discards* (predicted 0, truth 1) and ``eta1`` counts *false alarms* (predicted 1,
  truth 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

FlipMode = Literal["both", "0to1", "1to0"]
FLIP_MODES: tuple[FlipMode, ...] = ("both", "0to1", "1to0")


def check_cache_size(k: object) -> int:
    """Validate a cache size ``k`` (a positive int) and return it.

    Raises:
        TypeError: if ``k`` is not an int.
        ValueError: if ``k < 1``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int (the cache size); got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1 (the cache size); got {k}")
    return int(k)


def as_requests(requests: ArrayLike, name: str = "requests") -> NDArray[np.int64]:
    """Validate a request sequence and return it as a 1-D ``int64`` array of non-negative page ids.

    Raises:
        TypeError: if the values are not integers.
        ValueError: if the array is not 1-D or holds a negative page id.
    """
    arr = np.asarray(requests)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of page ids; got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer page ids; got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must hold page ids >= 0; got {int(arr.min())}")
    return arr


def as_bits(bits: ArrayLike, length: int, name: str = "bits") -> NDArray[np.bool_]:
    """Validate one prediction bit per request and return them as a 1-D boolean array.

    Raises:
        ValueError: if the shape is not ``(length,)`` or a value is not 0/1.
    """
    arr = np.asarray(bits)
    if arr.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), one bit per request; got {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.size and not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold 0/1 or booleans")
        arr = arr.astype(bool)
    return arr


def next_occurrence(requests: ArrayLike) -> NDArray[np.int64]:
    """``nxt[t]`` = index of the next request of page ``requests[t]``, or ``T`` if it is never requested
    again.

    One backward pass, ``O(T)``.
    """
    req = as_requests(requests)
    T = len(req)
    nxt = np.full(T, T, dtype=np.int64)
    seen: dict[int, int] = {}
    for t in range(T - 1, -1, -1):
        page = int(req[t])
        nxt[t] = seen.get(page, T)
        seen[page] = t
    return nxt


@dataclass(frozen=True)
class Phases:
    """The k-phase partition of a request sequence.

    Attributes:
        phase_of: phase index (0-based) of every request.
        pages: the set of distinct pages of every phase.
        new_pages: ``c_i``, the number of pages of phase ``i`` not requested in phase ``i - 1``
            (``c_0`` = all pages of the first phase).
    """

    phase_of: NDArray[np.int64]
    pages: list[frozenset[int]]
    new_pages: NDArray[np.int64]

    @property
    def count(self) -> int:
        """Number of phases."""
        return len(self.pages)


def k_phases(requests: ArrayLike, k: int) -> Phases:
    """Split ``requests`` into k-phases: a phase ends just before the request of its ``(k+1)``-th
    distinct page.

    Raises:
        TypeError, ValueError: on an invalid ``requests`` or ``k``.
    """
    req = as_requests(requests)
    k = check_cache_size(k)
    phase_of = np.zeros(len(req), dtype=np.int64)
    pages: list[set[int]] = [set()] if len(req) else []
    for t, page in enumerate(req.tolist()):
        if page not in pages[-1] and len(pages[-1]) == k:
            pages.append(set())
        pages[-1].add(page)
        phase_of[t] = len(pages) - 1
    frozen = [frozenset(p) for p in pages]
    new = [len(p - (frozen[i - 1] if i else frozenset())) for i, p in enumerate(frozen)]
    return Phases(phase_of=phase_of, pages=frozen, new_pages=np.asarray(new, dtype=np.int64))


def phase_truth(requests: ArrayLike, k: int) -> NDArray[np.bool_]:
    """Ground-truth phase bits: ``a_t = 1`` iff page ``p_t`` is requested in the phase after ``p_t``'s
    phase."""
    req = as_requests(requests)
    phases = k_phases(req, k)
    following = [*phases.pages[1:], frozenset()]
    return np.array([req[t] in following[phases.phase_of[t]] for t in range(len(req))], dtype=bool)


def prediction_errors(predicted: ArrayLike, truth: ArrayLike) -> tuple[int, int]:
    """Count ``(eta0, eta1)``: missed discards (predicted 0, truth 1) and false alarms (predicted 1, truth 0).

    Raises:
        ValueError: if the two arrays differ in length or are not 0/1.
    """
    truth_arr = np.asarray(truth)
    t = as_bits(truth_arr, truth_arr.shape[0] if truth_arr.ndim == 1 else -1, "truth")
    p = as_bits(predicted, len(t), "predicted")
    return int(np.sum(~p & t)), int(np.sum(p & ~t))


def flip_bits(
    truth: ArrayLike, p: float, rng: np.random.Generator | int | None = None, mode: FlipMode = "both"
) -> NDArray[np.bool_]:
    """Noisy predictions: flip each truth bit independently with probability ``p``.

    Args:
        truth: the ground-truth bits.
        p: flip probability in ``[0, 1]``.
        rng: a NumPy generator or a seed (deterministic under a seed).
        mode: ``"both"`` flips any bit; ``"0to1"`` only zeros (creates false alarms, ``eta1``);
            ``"1to0"`` only ones (creates missed discards, ``eta0``).

    Raises:
        ValueError: if ``p`` is outside ``[0, 1]`` or ``mode`` is unknown.
    """
    truth_arr = np.asarray(truth)
    t = as_bits(truth_arr, truth_arr.shape[0] if truth_arr.ndim == 1 else -1, "truth")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1]; got {p}")
    if mode not in FLIP_MODES:
        raise ValueError(f"mode must be one of {FLIP_MODES}; got {mode!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    flip = gen.random(len(t)) < p
    if mode == "0to1":
        flip &= ~t
    elif mode == "1to0":
        flip &= t
    return t ^ flip


def drifting_zipf(
    T: int,
    n_pages: int = 200,
    width: int = 15,
    drift: float = 0.002,
    rng: np.random.Generator | int | None = None,
) -> NDArray[np.int64]:
    """The brief's synthetic workload: a drifting working set with Zipf(1) offsets.

    Request ``t`` is ``(base + Z) mod n_pages`` with ``P[Z = z]`` proportional to ``1 / (z + 1)`` on
    ``{0, ..., width - 1}``; ``base`` is redrawn uniformly with probability ``drift`` at every step.

    Raises:
        ValueError: on a non-positive size or a ``drift`` outside ``[0, 1]``.
    """
    if T < 0:
        raise ValueError(f"T must be >= 0; got {T}")
    if n_pages < 1 or width < 1:
        raise ValueError(f"n_pages and width must be >= 1; got {n_pages}, {width}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be a probability in [0, 1]; got {drift}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    weights = 1.0 / np.arange(1, width + 1)
    offsets = gen.choice(width, size=T, p=weights / weights.sum())
    # base changes at the steps where a drift event fires; carry the latest draw forward
    redraw = gen.random(T) < drift
    redraw[:1] = True
    draws = gen.integers(0, n_pages, size=T)
    idx = np.maximum.accumulate(np.where(redraw, np.arange(T), 0)) if T else np.zeros(0, dtype=np.int64)
    base = draws[idx]
    return ((base + offsets) % n_pages).astype(np.int64)
