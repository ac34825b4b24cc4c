"""Online paging algorithms, one request at a time: LRU, marking, FtP-Mark, PhaseMark and the naive control.

Every algorithm here is *lazy* (evicts only on a fault) and is described by one :class:`EvictionRule`: on
a fault
with a full cache, look for a victim in a *preferred* class of cached pages; if that class is empty, use a
*fallback* class; inside a class pick the least recently used page, the most recently used one, or a uniformly
random one. Marks follow the k-phase partition of the sequence itself (a page is marked once requested in the
current phase), which is what the chapter's derivations assume.

This is the readable single-sequence simulator; :mod:`litlib.paging.batched` runs many sequences at once
and is
tested to agree with it exactly for the deterministic rules.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from numpy.typing import ArrayLike

from litlib.paging.core import as_bits, as_requests, check_cache_size

Prefer = Literal["none", "bit1", "unmarked_bit0"]
Fallback = Literal["all", "unmarked"]
Pick = Literal["lru", "mru", "uniform"]


@dataclass(frozen=True)
class EvictionRule:
    """Which cached page a lazy algorithm evicts on a fault with a full cache.

    Attributes:
        prefer: the preferred class: ``"none"`` (no preference), ``"bit1"`` (latest bit is 1: FtP's "safe to
            evict"), or ``"unmarked_bit0"`` (unmarked and latest bit 0: PhaseMark's "not back this phase").
        prefer_pick: how to pick inside the preferred class.
        fallback: the class used when the preferred one is empty: ``"all"`` cached pages or the ``"unmarked"``
            ones (a *marking* fallback).
        fallback_pick: how to pick inside the fallback class.
        uses_bits: whether the rule reads prediction bits.
    """

    prefer: Prefer
    prefer_pick: Pick
    fallback: Fallback
    fallback_pick: Pick

    @property
    def uses_bits(self) -> bool:
        """Whether the rule reads prediction bits."""
        return self.prefer != "none"

    @property
    def randomized(self) -> bool:
        """Whether the rule draws random numbers."""
        return "uniform" in (self.prefer_pick if self.uses_bits else "lru", self.fallback_pick)


POLICIES: dict[str, EvictionRule] = {
    "lru": EvictionRule("none", "lru", "all", "lru"),
    "marking": EvictionRule("none", "lru", "unmarked", "uniform"),
    "marking_lru": EvictionRule("none", "lru", "unmarked", "lru"),
    "ftp_det": EvictionRule("bit1", "lru", "unmarked", "lru"),
    "ftp_rand": EvictionRule("bit1", "lru", "unmarked", "uniform"),
    "phase_det": EvictionRule("unmarked_bit0", "lru", "unmarked", "lru"),
    "phase_rand": EvictionRule("unmarked_bit0", "uniform", "unmarked", "uniform"),
    "naive_random": EvictionRule("bit1", "lru", "all", "uniform"),
    "naive_mru": EvictionRule("bit1", "lru", "all", "mru"),
}
"""The named algorithms. ``ftp_*`` read discard bits, ``phase_*`` read phase bits, ``naive_*`` are the
negative
controls that fall back to *any* cached page (not a marking rule) and so break the smoothness bound."""


def get_rule(policy: str | EvictionRule) -> EvictionRule:
    """Resolve a policy name (a key of :data:`POLICIES`) or pass an :class:`EvictionRule` through.

    Raises:
        ValueError: on an unknown name.
        TypeError: if ``policy`` is neither a str nor an :class:`EvictionRule`.
    """
    if isinstance(policy, EvictionRule):
        return policy
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a name or an EvictionRule; got {type(policy).__name__}")
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {sorted(POLICIES)}; got {policy!r}")
    return POLICIES[policy]


class PagingSimulator:
    """A cache of size ``k`` run by one :class:`EvictionRule`, fed one request at a time.

    Args:
        k: cache size.
        policy: a name from :data:`POLICIES` or an :class:`EvictionRule`.
        seed: seed of the random choices (randomized rules only); deterministic under a seed.

    Attributes:
        faults: faults so far.
        cache: the cached pages, mapped to the time of their latest request.
        fallback_used: whether the latest eviction took its victim from the fallback class.
    """

    def __init__(self, k: int, policy: str | EvictionRule, seed: int | None = None) -> None:
        self.k = check_cache_size(k)
        self.rule = get_rule(policy)
        self.rng = random.Random(seed)
        self.cache: dict[int, int] = {}  # page -> time of latest request
        self.bit: dict[int, bool] = {}  # page -> latest prediction bit
        self.phase_of: dict[int, int] = {}  # page -> latest phase in which it was requested
        self.phase = 0
        self.phase_size = 0
        self.faults = 0
        self.t = 0
        self.fallback_used = False  # whether the latest victim came from the fallback class

    def _update_phase(self, page: int) -> None:
        if self.phase_of.get(page) != self.phase:
            if self.phase_size == self.k:  # page would be the (k+1)-th distinct one: a new phase starts
                self.phase += 1
                self.phase_size = 0
            self.phase_size += 1
            self.phase_of[page] = self.phase

    def _pick(self, candidates: list[int], how: Pick) -> int:
        if how == "uniform":
            return candidates[self.rng.randrange(len(candidates))]
        key = self.cache.__getitem__
        return min(candidates, key=key) if how == "lru" else max(candidates, key=key)

    def marked(self, page: int) -> bool:
        """Whether ``page`` has been requested in the current phase."""
        return self.phase_of.get(page) == self.phase

    def victim(self) -> int:
        """The page the rule evicts now (the cache must be full)."""
        rule = self.rule
        if rule.prefer == "bit1":
            preferred = [q for q in self.cache if self.bit[q]]
        elif rule.prefer == "unmarked_bit0":
            preferred = [q for q in self.cache if not self.bit[q] and not self.marked(q)]
        else:
            preferred = []
        self.fallback_used = not preferred
        if preferred:
            return self._pick(preferred, rule.prefer_pick)
        if rule.fallback == "unmarked":
            fallback = [q for q in self.cache if not self.marked(q)]
        else:
            fallback = list(self.cache)
        return self._pick(fallback, rule.fallback_pick)

    def step(self, page: int, bit: bool = False) -> bool:
        """Serve one request with its prediction bit; returns True on a fault."""
        self._update_phase(page)
        fault = page not in self.cache
        if fault:
            self.faults += 1
            if len(self.cache) == self.k:
                self.evict(self.victim())
        self.cache[page] = self.t
        self.bit[page] = bool(bit)  # refreshed on every request, hits included
        self.t += 1
        return fault

    def evict(self, page: int) -> None:
        """Remove ``page`` from the cache."""
        del self.cache[page]
        del self.bit[page]


def simulate(
    policy: str | EvictionRule,
    requests: ArrayLike,
    k: int,
    bits: ArrayLike | None = None,
    seed: int | None = None,
) -> int:
    """Number of faults of ``policy`` on ``requests`` with cache size ``k``.

    Args:
        policy: a name from :data:`POLICIES` (``"lru"``, ``"marking"``, ``"ftp_det"``, ``"ftp_rand"``,
            ``"phase_det"``, ``"phase_rand"``, ``"naive_random"``, ...) or an :class:`EvictionRule`.
        requests: the page ids.
        k: cache size.
        bits: one prediction bit per request (discard bits for ``ftp_*``/``naive_*``, phase bits for
            ``phase_*``); required exactly when the rule reads bits.
        seed: seed of the random choices of a randomized rule.

    Raises:
        ValueError: if ``bits`` is missing for a rule that needs it, or has the wrong length.
    """
    rule = get_rule(policy)
    req = as_requests(requests)
    if rule.uses_bits and bits is None:
        raise ValueError("bits is required by this policy (one prediction bit per request)")
    b = as_bits(bits, len(req)) if bits is not None else None
    sim = PagingSimulator(k, rule, seed)
    if b is None:
        for page in req.tolist():
            sim.step(page)
    else:
        for page, bit in zip(req.tolist(), b.tolist()):
            sim.step(page, bit)
    return sim.faults


def lru(requests: ArrayLike, k: int) -> int:
    """Faults of LRU (deterministic, ``k``-competitive)."""
    return simulate("lru", requests, k)


def marking(requests: ArrayLike, k: int, seed: int | None = None) -> int:
    """Faults of randomized marking (evict a uniformly random unmarked page; ``2 H_k``-competitive)."""
    return simulate("marking", requests, k, seed=seed)


def ftp_mark(
    requests: ArrayLike, bits: ArrayLike, k: int, randomized: bool = False, seed: int | None = None
) -> int:
    """Faults of FtP-Mark: evict a cached page whose latest discard bit is 1 (the least recently used one);
    if none, fall back to an unmarked page (LRU, or uniform when ``randomized``).

    With perfect bits it pays exactly ``OPT``; the deterministic variant is ``(1, k-1, 1)``-competitive.
    """
    return simulate("ftp_rand" if randomized else "ftp_det", requests, k, bits, seed)


def phase_mark(
    requests: ArrayLike, phase_bits: ArrayLike, k: int, randomized: bool = False, seed: int | None = None
) -> int:
    """Faults of PhaseMark: a marking algorithm that evicts unmarked pages predicted (bit 0) not to return in
    the current phase first. Our reconstruction for phase predictions; ``sum_i c_i <= 2 OPT`` with
    perfect bits.
    """
    return simulate("phase_rand" if randomized else "phase_det", requests, k, phase_bits, seed)


@dataclass(frozen=True)
class CombinerResult:
    """Outcome of :func:`combined`.

    Attributes:
        faults: faults of the real (lazily following) cache: the algorithm's cost.
        cost_ftp: faults of the simulated FtP-Mark.
        cost_partner: faults of the simulated robust partner.
        switches: how many times the leader changed.
    """

    faults: int
    cost_ftp: int
    cost_partner: int
    switches: int


def combined(
    requests: ArrayLike,
    bits: ArrayLike,
    k: int,
    randomized: bool = False,
    factor: float = 2.0,
    seed: int | None = None,
) -> CombinerResult:
    """FtP-Mark made robust by following the leader between it and a robust partner (our construction).

    Both FtP-Mark (cost ``c_F``) and the partner (LRU, or randomized marking when ``randomized``; cost
    ``c_R``)
    are simulated on the whole prefix. The leader switches from FtP-Mark to the partner when
    ``c_F > factor * c_R`` and back when ``c_R > factor * c_F``. The real cache follows the leader
    lazily: on a
    fault it evicts its least recently used page among those the leader does not hold.

    Args:
        requests: the page ids.
        bits: one discard prediction per request.
        k: cache size.
        randomized: use randomized FtP-Mark and randomized marking.
        factor: the switching factor (> 1; default 2).
        seed: seed of the randomized simulators.

    Raises:
        ValueError: if ``factor <= 1`` or the inputs are invalid.
    """
    if not factor > 1.0:
        raise ValueError(f"factor must be > 1; got {factor}")
    req = as_requests(requests)
    b = as_bits(bits, len(req))
    k = check_cache_size(k)
    rng = random.Random(seed)
    ftp = PagingSimulator(k, "ftp_rand" if randomized else "ftp_det", rng.randrange(2**63))
    partner = PagingSimulator(k, "marking" if randomized else "lru", rng.randrange(2**63))
    real: dict[int, int] = {}  # page -> time of latest request
    follow_ftp, switches, faults = True, 0, 0
    for t, (page, bit) in enumerate(zip(req.tolist(), b.tolist())):
        ftp.step(page, bit)
        partner.step(page)
        if follow_ftp and ftp.faults > factor * partner.faults:
            follow_ftp, switches = False, switches + 1
        elif not follow_ftp and partner.faults > factor * ftp.faults:
            follow_ftp, switches = True, switches + 1
        if page not in real:
            faults += 1
            if len(real) == k:
                leader = ftp.cache if follow_ftp else partner.cache
                # the leader holds page and at most k - 1 others, so some real page is outside it
                victim = min((q for q in real if q not in leader), key=real.__getitem__)
                del real[victim]
        real[page] = t
    return CombinerResult(faults, ftp.faults, partner.faults, switches)
