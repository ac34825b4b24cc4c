"""Belady's furthest-in-future rule (FitF): the offline optimum and the ground truth of the discard bits."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.paging.core import as_requests, check_cache_size, next_occurrence


@dataclass(frozen=True)
class BeladyResult:
    """What FitF does on one sequence.

    Attributes:
        faults: the optimal number of faults, ``OPT``.
        fault_mask: ``fault_mask[t]`` is True when FitF faults on request ``t``.
        discard: the ground-truth discard bits ``b_t``: 1 iff FitF does not hold ``p_t`` when it is next
            requested, or ``p_t`` is never requested again.
    """

    faults: int
    fault_mask: NDArray[np.bool_]
    discard: NDArray[np.bool_]


def belady(requests: ArrayLike, k: int) -> BeladyResult:
    """Run FitF with next-occurrence indices and a lazy max-heap, ``O(T log T)``.

    On a fault with a full cache it evicts the cached page whose next request is furthest away; pages never
    requested again count as infinitely far, ties among them broken by the smallest page id (such ties change
    no other page's bit).

    Raises:
        TypeError, ValueError: on an invalid ``requests`` or ``k``.
    """
    req = as_requests(requests)
    k = check_cache_size(k)
    T = len(req)
    nxt = next_occurrence(req)
    cached_next: dict[int, int] = {}  # page -> index of its next request (T = never)
    heap: list[tuple[int, int]] = []  # (-next request, page); stale entries skipped lazily
    fault = np.zeros(T, dtype=bool)
    for t, page in enumerate(req.tolist()):
        if page not in cached_next:
            fault[t] = True
            if len(cached_next) == k:
                while True:
                    neg_next, victim = heapq.heappop(heap)
                    if cached_next.get(victim) == -neg_next:
                        break
                del cached_next[victim]
        cached_next[page] = int(nxt[t])
        heapq.heappush(heap, (-int(nxt[t]), page))
    faults_at_next = np.append(fault, True)[nxt]  # index T (never again) counts as a discard
    return BeladyResult(faults=int(fault.sum()), fault_mask=fault, discard=faults_at_next)


def opt_faults(requests: ArrayLike, k: int) -> int:
    """The optimal number of faults ``OPT`` (FitF)."""
    return belady(requests, k).faults


def discard_truth(requests: ArrayLike, k: int) -> NDArray[np.bool_]:
    """The ground-truth discard bits, relative to FitF (see :class:`BeladyResult`)."""
    return belady(requests, k).discard
