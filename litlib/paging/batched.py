"""A batched simulator: ``B`` independent paging runs as ``[B, k]`` tensors, stepped together over time.

Paging is sequential in ``t``, so the only parallelism is across runs (seeds, noise levels, instances).
The state
of every run is a handful of integer tensors (cached page per slot, time of latest request per slot,
latest bit per
slot, slot of every page, latest phase of every page), and one step is ``O(k)`` vectorised work per run.
This pays
off when ``B`` is large (the exhaustive checks of the chapter run ~280,000 instances in one call) and on
a GPU;
for a single long sequence the plain simulator of :mod:`litlib.paging.policies` is faster.

Deterministic rules give exactly the fault counts of :func:`litlib.paging.policies.simulate`; randomized rules
agree in distribution (their random draws differ).
"""

from __future__ import annotations

import torch

from litlib.paging.core import check_cache_size
from litlib.paging.policies import EvictionRule, Pick, get_rule


def _as_batch(requests: torch.Tensor, bits: torch.Tensor | None, rule: EvictionRule) -> torch.Tensor:
    if not isinstance(requests, torch.Tensor):
        raise TypeError(f"requests must be a torch.Tensor of shape [B, T]; got {type(requests).__name__}")
    if requests.ndim != 2:
        raise ValueError(f"requests must have shape [B, T]; got {tuple(requests.shape)}")
    if requests.dtype.is_floating_point or requests.dtype == torch.bool:
        raise TypeError(f"requests must hold integer page ids; got dtype {requests.dtype}")
    if requests.numel() and int(requests.min()) < 0:
        raise ValueError("requests must hold page ids >= 0")
    if rule.uses_bits and bits is None:
        raise ValueError("bits is required by this policy (one bit per request, shape [B, T])")
    if bits is not None:
        if not isinstance(bits, torch.Tensor) or bits.shape != requests.shape:
            raise ValueError(f"bits must be a tensor of shape {tuple(requests.shape)}")
        if bits.dtype != torch.bool:
            raise TypeError(f"bits must be a bool tensor; got dtype {bits.dtype}")
    return requests.long()


def _score(how: Pick, last: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Lower is evicted first: time of latest request (LRU), its negation (MRU) or a uniform draw."""
    if how == "lru":
        return last.double()
    if how == "mru":
        return -last.double()
    return torch.rand(last.shape, generator=generator, device=last.device, dtype=torch.float64)


def _argmin_in(mask: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, score, torch.full_like(score, float("inf"))).argmin(dim=1)


class BatchedPager:
    """The state of ``B`` paging runs under one rule, advanced one request per run at a time.

    Args:
        policy: a name from :data:`litlib.paging.policies.POLICIES` or an :class:`EvictionRule`.
        k: cache size, shared by all runs.
        batch: number of runs ``B``.
        n_pages: size of the page universe (page ids must be below it).
        device: where the state lives.
        generator: a ``torch.Generator`` on ``device`` for the randomized rules.

    Attributes:
        faults: ``int64`` faults so far per run, shape ``[B]``.
    """

    def __init__(
        self,
        policy: str | EvictionRule,
        k: int,
        batch: int,
        n_pages: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> None:
        self.rule = get_rule(policy)
        self.k = check_cache_size(k)
        if batch < 0 or n_pages < 1:
            raise ValueError(f"batch must be >= 0 and n_pages >= 1; got {batch}, {n_pages}")
        self.n_pages = int(n_pages)
        self.generator = generator
        self.t = 0
        dev = torch.device(device)
        B, N = int(batch), self.n_pages

        def full(shape: tuple[int, ...], value: int) -> torch.Tensor:
            return torch.full(shape, value, dtype=torch.long, device=dev)

        self.pages = full((B, k), -1)  # page held by each slot (-1: empty)
        self.last = full((B, k), -1)  # time of the latest request per slot
        self.slot_bit = torch.zeros((B, k), dtype=torch.bool, device=dev)  # latest bit per slot
        self.slot_of = full((B, N + 1), -1)  # slot of every page (-1: not cached); column N is scratch
        self.phase_of = full((B, N + 1), -1)  # latest phase in which each page was requested
        self.phase = full((B,), 0)
        self.phase_size = full((B,), 0)
        self.filled = full((B,), 0)
        self.faults = full((B,), 0)

    _STATE = ("pages", "last", "slot_bit", "slot_of", "phase_of", "phase", "phase_size", "filled", "faults")

    def repeat_interleave(self, repeats: int) -> None:
        """Clone every run ``repeats`` times in place (run ``i`` becomes runs ``i*repeats ...
        i*repeats+r-1``);
        used to grow a tree of prefixes in exhaustive checks."""
        for name in self._STATE:
            setattr(self, name, getattr(self, name).repeat_interleave(repeats, dim=0))

    def step(self, page: torch.Tensor, bit: torch.Tensor | None = None) -> torch.Tensor:
        """Serve one request per run (``page``, ``bit``: shape ``[B]``); returns the fault mask."""
        rule, k, N = self.rule, self.k, self.n_pages
        rows = torch.arange(page.shape[0], device=page.device)
        # flat indices into the row-major state: one index tensor per scatter is much cheaper than two
        page_idx = rows * (N + 1) + page
        slot_of, phase_of = self.slot_of.view(-1), self.phase_of.view(-1)
        # k-phase bookkeeping: a new phase starts when an unmarked page arrives and k pages are marked
        new_in_phase = phase_of[page_idx] != self.phase
        start = new_in_phase & (self.phase_size == k)
        self.phase = self.phase + start.long()
        self.phase_size = torch.where(start, 0, self.phase_size) + new_in_phase.long()
        phase_of[page_idx] = self.phase

        slot = slot_of[page_idx]
        fault = slot < 0
        full = self.filled >= k
        valid = self.pages >= 0
        held = torch.where(valid, self.pages, N)
        marked = (self.phase_of.gather(1, held) == self.phase[:, None]) & valid
        if rule.prefer == "bit1":
            preferred = valid & self.slot_bit
        elif rule.prefer == "unmarked_bit0":
            preferred = valid & ~self.slot_bit & ~marked
        else:
            preferred = None
        fallback = valid & ~marked if rule.fallback == "unmarked" else valid
        victim_slot = _argmin_in(fallback, _score(rule.fallback_pick, self.last, self.generator))
        if preferred is not None:
            v_pref = _argmin_in(preferred, _score(rule.prefer_pick, self.last, self.generator))
            victim_slot = torch.where(preferred.any(dim=1), v_pref, victim_slot)

        evict = fault & full
        slot_idx = rows * k + victim_slot
        victim_page = torch.where(evict, self.pages.view(-1)[slot_idx], N)
        slot_of[rows * (N + 1) + victim_page] = -1  # rows that do not evict write the scratch column
        slot = torch.where(fault, torch.where(full, victim_slot, self.filled), slot)
        slot_of[page_idx] = slot
        slot_idx = rows * k + slot
        self.pages.view(-1)[slot_idx] = page
        self.last.view(-1)[slot_idx] = self.t
        self.slot_bit.view(-1)[slot_idx] = bit if bit is not None else False
        self.filled = self.filled + (fault & ~full).long()
        self.faults = self.faults + fault.long()
        self.t += 1
        return fault


def simulate_batch(
    policy: str | EvictionRule,
    requests: torch.Tensor,
    k: int,
    bits: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Faults of ``policy`` on each of ``B`` request sequences at once.

    Args:
        policy: a name from :data:`litlib.paging.policies.POLICIES` or an :class:`EvictionRule`.
        requests: integer page ids, shape ``[B, T]`` (any device).
        k: cache size, shared by all runs.
        bits: prediction bits, bool, shape ``[B, T]``; required when the rule reads bits.
        generator: a ``torch.Generator`` on the device of ``requests`` for the randomized rules.

    Returns:
        ``int64`` fault counts, shape ``[B]``, on the device of ``requests``.

    Raises:
        TypeError, ValueError: on invalid shapes, dtypes, page ids or ``k``.
    """
    rule = get_rule(policy)
    k = check_cache_size(k)
    req = _as_batch(requests, bits, rule)
    B, T = req.shape
    n_pages = int(req.max()) + 1 if req.numel() else 1
    pager = BatchedPager(rule, k, B, n_pages, req.device, generator)
    for t in range(T):
        pager.step(req[:, t], bits[:, t] if bits is not None else None)
    return pager.faults
