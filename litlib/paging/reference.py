"""Brute-force references for tiny instances: exact OPT by dynamic programming over cache states, a quadratic
FitF, and k-phases computed straight from their definition. Slow on purpose; the tests compare the fast
code with
these."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.paging.core import as_requests, check_cache_size


def exact_opt(requests: ArrayLike, k: int) -> int:
    """The minimum number of faults over *all* eviction strategies (lazy or not), by dynamic programming over
    the set of reachable cache contents. Exponential in ``k``; for tiny instances only."""
    req = as_requests(requests).tolist()
    k = check_cache_size(k)
    states: dict[frozenset[int], int] = {frozenset(): 0}
    for page in req:
        nxt: dict[frozenset[int], int] = {}
        for cache, cost in states.items():
            if page in cache:
                options = [(cache, cost)]
            elif len(cache) < k:
                options = [(cache | {page}, cost + 1)]
            else:
                options = [((cache - {q}) | {page}, cost + 1) for q in cache]
            # a non-lazy algorithm may also drop extra pages; never useful, but allowed for a true minimum
            for c, v in list(options):
                for r in range(1, len(c)):
                    options += [(frozenset(s) | {page}, v) for s in combinations(c - {page}, r - 1)]
            for c, v in options:
                if v < nxt.get(c, 1 << 60):
                    nxt[c] = v
        states = nxt
    return min(states.values())


def furthest_in_future(requests: ArrayLike, k: int) -> tuple[int, NDArray[np.bool_]]:
    """Quadratic FitF straight from the definition: on a fault with a full cache, scan forward for each cached
    page's next request and evict the furthest (never-again pages first, smallest id first).

    Returns:
        ``(faults, discard_bits)`` with the discard bits defined as in :func:`litlib.paging.belady.belady`.
    """
    req = as_requests(requests).tolist()
    k = check_cache_size(k)
    T = len(req)
    cache: set[int] = set()
    fault = [False] * T

    def next_use(page: int, after: int) -> int:
        for s in range(after + 1, T):
            if req[s] == page:
                return s
        return T

    for t, page in enumerate(req):
        if page in cache:
            continue
        fault[t] = True
        if len(cache) == k:
            victim = max(sorted(cache), key=lambda q: (next_use(q, t), -q))
            cache.remove(victim)
        cache.add(page)
    discard = np.array([next_use(p, t) == T or fault[next_use(p, t)] for t, p in enumerate(req)], dtype=bool)
    return sum(fault), discard


def phases_by_definition(requests: ArrayLike, k: int) -> list[list[int]]:
    """The k-phase partition as lists of request indices: grow each phase greedily while it has at most ``k``
    distinct pages."""
    req = as_requests(requests).tolist()
    k = check_cache_size(k)
    out: list[list[int]] = []
    t = 0
    while t < len(req):
        phase: list[int] = []
        while t < len(req) and len({req[s] for s in [*phase, t]}) <= k:
            phase.append(t)
            t += 1
        out.append(phase)
    return out
