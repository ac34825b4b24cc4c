"""A richer predictor for contrast: predicted next-arrival *times* (about ``log T`` bits per request).

Two ways to use them:

* :func:`follow_predictions` evicts the cached page with the furthest predicted next request (FitF run on the
  predictions): exactly ``OPT`` with perfect predictions, with no robustness at all;
* :func:`predictive_marker` is the Predictive Marker of Lykouris and Vassilvitskii (ICML 2018), written here from
  its published description: a marking algorithm that evicts the unmarked page with the furthest predicted next
  arrival, except in long *chains* of faults (clean page -> page it evicted -> page that one evicted ...), where
  it switches to a uniformly random unmarked page. With perfect predictions it pays ``sum_i c_i`` (like every
  marking algorithm that evicts the right unmarked pages), which is up to ``2 OPT``.

Not part of the chapter's paper; used only to contrast one-bit predictions with a ``log T``-bit one.
"""

from __future__ import annotations

import random

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.paging.core import as_requests, check_cache_size, next_occurrence


def next_arrival_predictions(
    requests: ArrayLike, sigma: float, rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """Predicted time of the next request of ``p_t``, with multiplicative log-normal noise.

    The prediction is ``t + gap * exp(sigma * Z)`` with ``Z ~ N(0, 1)`` and ``gap`` the true distance to the next
    request (``2 T - t`` for a page never requested again, i.e. "far"). ``sigma = 0`` gives perfect predictions.

    Raises:
        ValueError: if ``sigma < 0``.
    """
    req = as_requests(requests)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    T = len(req)
    t = np.arange(T)
    nxt = next_occurrence(req)
    gap = np.where(nxt < T, nxt, 2 * T) - t
    return (t + gap * np.exp(sigma * gen.standard_normal(T))).astype(np.float64)


def _as_predictions(predicted: ArrayLike, length: int) -> NDArray[np.float64]:
    arr = np.asarray(predicted, dtype=np.float64)
    if arr.shape != (length,):
        raise ValueError(
            f"predicted_next must have shape ({length},), one prediction per request; got {arr.shape}"
        )
    if np.isnan(arr).any():
        raise ValueError("predicted_next must not contain NaN")
    return arr


def follow_predictions(requests: ArrayLike, predicted_next: ArrayLike, k: int) -> int:
    """Faults of "FitF on the predictions": evict the cached page with the furthest predicted next request."""
    req = as_requests(requests)
    k = check_cache_size(k)
    pred = _as_predictions(predicted_next, len(req))
    cache: dict[int, float] = {}
    faults = 0
    for page, when in zip(req.tolist(), pred.tolist()):
        if page not in cache:
            faults += 1
            if len(cache) == k:
                del cache[max(cache, key=cache.__getitem__)]
        cache[page] = when
    return faults


def predictive_marker(
    requests: ArrayLike, predicted_next: ArrayLike, k: int, seed: int | None = None, chains: bool = True
) -> int:
    """Faults of the Predictive Marker (Lykouris and Vassilvitskii, 2018), as we read its description.

    Phases are the k-phases of the sequence; a page is marked once requested in the current phase. On a fault
    with a full cache the victim is an unmarked page: the one with the furthest predicted next arrival, unless the
    fault's chain is longer than ``H_k``, in which case a uniformly random one. A chain starts at each fault on a
    *clean* page (not requested in the previous phase); a fault on a page evicted earlier in the phase continues
    the chain of the fault that evicted it.

    Args:
        requests: the page ids.
        predicted_next: one predicted next-arrival time per request (see :func:`next_arrival_predictions`).
        k: cache size.
        seed: seed of the random evictions.
        chains: set False to always follow the predictions among unmarked pages (no random fallback).

    Raises:
        ValueError: if ``predicted_next`` has the wrong length or contains NaN.
    """
    req = as_requests(requests)
    k = check_cache_size(k)
    pred = _as_predictions(predicted_next, len(req))
    rng = random.Random(seed)
    harmonic = sum(1.0 / i for i in range(1, k + 1))
    cache: dict[int, float] = {}  # page -> predicted next arrival
    marked: set[int] = set()
    previous: set[int] = set()  # pages of the previous phase
    evicted_by: dict[int, int] = {}  # page evicted in this phase -> chain that evicted it
    chain_length: list[int] = []
    faults = 0
    for page, when in zip(req.tolist(), pred.tolist()):
        if page not in marked and len(marked) == k:  # a new phase starts
            previous, marked, evicted_by, chain_length = marked, set(), {}, []
        marked.add(page)
        if page not in cache:
            faults += 1
            if len(cache) == k:
                if page in evicted_by:  # a stale page: its fault continues the chain that evicted it
                    chain = evicted_by[page]
                    chain_length[chain] += 1
                else:  # a clean page (or a cold-start page) starts a new chain
                    chain = len(chain_length)
                    chain_length.append(1)
                unmarked = [q for q in cache if q not in marked]
                if chains and chain_length[chain] > harmonic:
                    victim = unmarked[rng.randrange(len(unmarked))]
                else:
                    victim = max(unmarked, key=cache.__getitem__)
                del cache[victim]
                if victim in previous:
                    evicted_by[victim] = chain
        cache[page] = when
    return faults
