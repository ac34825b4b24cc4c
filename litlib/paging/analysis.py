"""Checks of the chapter's guarantees: the adaptive adversary of the lower bound, the exhaustive
smoothness check,
expected costs of randomized rules, and the game search showing that perfect phase bits cannot give exact
OPT."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from numpy.typing import NDArray

from litlib.paging.batched import BatchedPager, simulate_batch
from litlib.paging.belady import belady
from litlib.paging.core import check_cache_size, phase_truth
from litlib.paging.policies import EvictionRule, PagingSimulator, get_rule


def adversarial_sequence(
    policy: str | EvictionRule, k: int, n_requests: int, bit: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The lower-bound adversary: ``k + 1`` pages, every request to the page missing from the algorithm's
    cache.

    The sequence opens with pages ``0, ..., k-1`` (the cold start), then ``n_requests`` adaptive requests, all
    carrying the same prediction ``bit``. A deterministic algorithm faults on every request.

    Raises:
        ValueError: if ``n_requests < 0``; TypeError/ValueError on an invalid ``k`` or policy.
    """
    k = check_cache_size(k)
    if n_requests < 0:
        raise ValueError(f"n_requests must be >= 0; got {n_requests}")
    sim = PagingSimulator(k, policy, seed=0)
    requests = list(range(k))
    for page in requests:
        sim.step(page, bit)
    for _ in range(n_requests):
        missing = next(q for q in range(k + 1) if q not in sim.cache)
        sim.step(missing, bit)
        requests.append(missing)
    return np.asarray(requests, dtype=np.int64), np.full(len(requests), bit)


@dataclass(frozen=True)
class ExhaustiveResult:
    """Outcome of :func:`exhaustive_smoothness`.

    Attributes:
        cases: number of (sequence, bit vector) pairs checked.
        violations: pairs where ``ALG > OPT + beta * eta0 + gamma * eta1``.
        max_excess: the largest ``ALG - (OPT + beta * eta0 + gamma * eta1)`` (<= 0 when the bound holds).
        max_excess_case: ``(requests, bits)`` of the worst pair.
        tight_cases: pairs where the bound holds with equality.
    """

    cases: int
    violations: int
    max_excess: int
    max_excess_case: tuple[tuple[int, ...], tuple[int, ...]]
    tight_cases: int


def exhaustive_smoothness(
    k: int,
    n_pages: int,
    T: int,
    policy: str | EvictionRule = "ftp_det",
    beta: float | None = None,
    gamma: float = 1.0,
) -> ExhaustiveResult:
    """Check ``ALG <= OPT + beta * eta0 + gamma * eta1`` on *every* sequence over ``n_pages`` pages of length
    ``T`` and *every* bit vector (``n_pages**T * 2**T`` cases, one batched simulation).

    Args:
        k: cache size.
        n_pages: size of the page universe.
        T: sequence length.
        policy: a deterministic rule (default FtP-Mark).
        beta: weight of missed discards; default ``k - 1``.
        gamma: weight of false alarms.

    Raises:
        ValueError: if the rule is randomized or the instance has more than 5 million cases.
    """
    k = check_cache_size(k)
    rule = get_rule(policy)
    if rule.randomized:
        raise ValueError("policy must be deterministic for an exhaustive check")
    if n_pages < 1 or T < 1:
        raise ValueError(f"n_pages and T must be >= 1; got {n_pages}, {T}")
    if n_pages**T * 2**T > 5_000_000:
        raise ValueError(f"n_pages**T * 2**T must be <= 5e6 for an exhaustive check; got {n_pages**T * 2**T}")
    beta = float(k - 1) if beta is None else float(beta)
    seqs = np.array(list(itertools.product(range(n_pages), repeat=T)), dtype=np.int64).reshape(-1, T)
    bitvecs = np.array(list(itertools.product((False, True), repeat=T)), dtype=bool).reshape(-1, T)
    results = [belady(s, k) for s in seqs]
    truths = np.array([r.discard for r in results]).reshape(-1, T)
    opts = np.array([r.faults for r in results])
    alg = _faults_on_all_inputs(rule, k, n_pages, T)  # [sequence, bit vector]
    eta0 = (~bitvecs[None, :, :] & truths[:, None, :]).sum(-1)
    eta1 = (bitvecs[None, :, :] & ~truths[:, None, :]).sum(-1)
    excess = (alg - (opts[:, None] + beta * eta0 + gamma * eta1)).reshape(-1)
    S, V = len(seqs), len(bitvecs)
    worst = int(np.argmax(excess))
    return ExhaustiveResult(
        cases=S * V,
        violations=int((excess > 0).sum()),
        max_excess=int(np.ceil(excess[worst])),
        max_excess_case=(tuple(seqs[worst // V].tolist()), tuple(bitvecs[worst % V].astype(int).tolist())),
        tight_cases=int((excess == 0).sum()),
    )


def _faults_on_all_inputs(rule: EvictionRule, k: int, n_pages: int, T: int) -> NDArray[np.int64]:
    """Faults of a deterministic rule on every (sequence, bit vector) pair, as an array
    ``[n_pages**T, 2**T]`` indexed in ``itertools.product`` order.

    Runs share prefixes, so the batch grows as a tree: at step ``t`` it holds one run per distinct prefix of
    (page, bit) pairs, ``(2 n_pages)**t`` runs, instead of re-simulating every prefix for every completion.
    """
    pager = BatchedPager(rule, k, 1, n_pages)
    pairs_page = torch.arange(n_pages).repeat_interleave(2)
    pairs_bit = torch.tensor([False, True]).repeat(n_pages)
    for _ in range(T):
        pager.repeat_interleave(2 * n_pages)
        B = pager.faults.shape[0]
        pager.step(pairs_page.repeat(B // (2 * n_pages)), pairs_bit.repeat(B // (2 * n_pages)))
    # axes (p1, b1, p2, b2, ...) -> (p1, ..., pT, b1, ..., bT)
    grid = pager.faults.reshape([n_pages, 2] * T).permute(*range(0, 2 * T, 2), *range(1, 2 * T, 2))
    return grid.reshape(n_pages**T, 2**T).numpy()


def expected_faults(
    policy: str | EvictionRule,
    requests: NDArray[np.int64],
    k: int,
    bits: NDArray[np.bool_] | None = None,
    runs: int = 200,
    seed: int = 0,
) -> float:
    """Mean faults of a (randomized) rule over ``runs`` independent runs on one sequence (one batched call).

    Raises:
        ValueError: if ``runs < 1``.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1; got {runs}")
    req = torch.as_tensor(np.asarray(requests, dtype=np.int64))[None].repeat(runs, 1)
    b = None if bits is None else torch.as_tensor(np.asarray(bits, dtype=bool))[None].repeat(runs, 1)
    gen = torch.Generator().manual_seed(seed)
    return float(simulate_batch(policy, req, k, b, gen).double().mean())


def _restricted_growth(n_pages: int, T: int) -> list[tuple[int, ...]]:
    """All sequences of length ``T`` over ``n_pages`` pages up to renaming: pages numbered by first
    request."""
    out: list[tuple[int, ...]] = []

    def grow(prefix: tuple[int, ...], top: int) -> None:
        if len(prefix) == T:
            out.append(prefix)
            return
        for page in range(min(top + 2, n_pages)):
            grow((*prefix, page), max(top, page))

    grow((), -1)
    return out


def phase_exact_optimality(k: int, n_pages: int, T: int) -> bool:
    """Whether some deterministic online algorithm that sees perfect phase bits pays exactly ``OPT`` on
    *every*
    sequence of length ``T`` over ``n_pages`` pages.

    An AND-OR game search: the adversary picks the next (request, phase bit) pair among those consistent
    with some
    sequence, the algorithm picks its eviction. Page names are symmetric, so sequences are enumerated up to
    renaming. A branch dies as soon as the algorithm's faults exceed ``OPT`` of a sequence still
    consistent with
    what it has seen.

    Raises:
        ValueError: if the instance is too large to search (more than 10**6 sequences up to renaming).
    """
    k = check_cache_size(k)
    if n_pages < 1 or T < 1:
        raise ValueError(f"n_pages and T must be >= 1; got {n_pages}, {T}")
    seqs = _restricted_growth(n_pages, T)
    if len(seqs) > 10**6:
        raise ValueError("instance too large for the game search")
    histories = [tuple(zip(s, phase_truth(np.array(s), k).astype(int).tolist())) for s in seqs]
    opts = [belady(np.array(s), k).faults for s in seqs]

    @cache
    def consistent(prefix: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
        return tuple(i for i, h in enumerate(histories) if h[: len(prefix)] == prefix)

    def algorithm_wins(prefix: tuple[tuple[int, int], ...], cache: frozenset[int], faults: int) -> bool:
        alive = consistent(prefix)
        if faults > min(opts[i] for i in alive):
            return False
        if len(prefix) == T:
            return True  # exactly one history left, and faults <= its OPT means equal
        children = {histories[i][len(prefix)] for i in alive}
        for pair in sorted(children):
            page, nxt = pair[0], (*prefix, pair)
            if page in cache:
                ok = algorithm_wins(nxt, cache, faults)
            elif len(cache) < k:
                ok = algorithm_wins(nxt, cache | {page}, faults + 1)
            else:
                ok = any(algorithm_wins(nxt, (cache - {q}) | {page}, faults + 1) for q in sorted(cache))
            if not ok:
                return False
        return True

    return algorithm_wins((), frozenset(), 0)


@dataclass(frozen=True)
class RandomizedCheck:
    """Outcome of :func:`randomized_smoothness`: one entry per random instance.

    Attributes:
        k: cache size of each instance.
        opt: ``OPT`` of each instance.
        eta0: missed discards of each instance's bits.
        eta1: false alarms of each instance's bits.
        mean_faults: mean faults of the randomized rule over the runs.
    """

    k: NDArray[np.int64]
    opt: NDArray[np.int64]
    eta0: NDArray[np.int64]
    eta1: NDArray[np.int64]
    mean_faults: NDArray[np.float64]

    def normalized_excess(self) -> NDArray[np.float64]:
        """``(E[ALG] - OPT - eta1) / (eta0 * H_k)`` on the instances with ``eta0 > 0`` (the bound says <= 2)."""
        harmonic = np.array([np.sum(1.0 / np.arange(1, k + 1)) for k in self.k])
        keep = self.eta0 > 0
        return (self.mean_faults[keep] - self.opt[keep] - self.eta1[keep]) / (
            self.eta0[keep] * harmonic[keep]
        )


def randomized_smoothness(
    n_instances: int,
    runs: int,
    T: int = 40,
    policy: str | EvictionRule = "ftp_rand",
    ks: tuple[int, ...] = (2, 3, 4, 5),
    seed: int = 0,
) -> RandomizedCheck:
    """Estimate ``E[ALG]`` of a randomized rule on random small instances (``runs`` runs each, batched by ``k``).

    Instance ``i`` has cache size ``ks[i % len(ks)]``, ``k + 1 + (i // len(ks)) % 3`` pages, ``T`` uniform
    requests, and FitF's discard bits flipped with a probability drawn uniformly from ``[0.05, 0.5]``.

    Raises:
        ValueError: if ``n_instances``, ``runs`` or ``T`` is below 1.
    """
    if min(n_instances, runs, T) < 1:
        raise ValueError(f"n_instances, runs and T must be >= 1; got {n_instances}, {runs}, {T}")
    rng = np.random.default_rng(seed)
    ks_arr = np.array([ks[i % len(ks)] for i in range(n_instances)], dtype=np.int64)
    reqs, bits, opts, eta0, eta1 = [], [], [], [], []
    for i, k in enumerate(ks_arr.tolist()):
        req = rng.integers(0, k + 1 + (i // len(ks)) % 3, T)
        res = belady(req, k)
        noisy = res.discard ^ (rng.random(T) < rng.uniform(0.05, 0.5))
        reqs.append(req)
        bits.append(noisy)
        opts.append(res.faults)
        eta0.append(int(np.sum(~noisy & res.discard)))
        eta1.append(int(np.sum(noisy & ~res.discard)))
    means = np.zeros(n_instances)
    gen = torch.Generator().manual_seed(seed)
    for k in sorted(set(ks_arr.tolist())):
        idx = np.flatnonzero(ks_arr == k)
        r = torch.from_numpy(np.repeat(np.stack([reqs[i] for i in idx]), runs, axis=0))
        bt = torch.from_numpy(np.repeat(np.stack([bits[i] for i in idx]), runs, axis=0))
        faults = simulate_batch(policy, r, k, bt, gen).double().reshape(len(idx), runs)
        means[idx] = faults.mean(dim=1).numpy()
    return RandomizedCheck(ks_arr, np.array(opts), np.array(eta0), np.array(eta1), means)


def fault_types(
    requests: NDArray[np.int64], bits: NDArray[np.bool_], k: int, policy: str | EvictionRule = "ftp_det"
) -> dict[str, int]:
    """Classify the faults of a discard-bit rule as in the smoothness proof.

    A fault on ``p_t`` whose previous request ``r`` exists is type ``"ii"`` when the bit at ``r`` was a false
    alarm (predicted 1, truth 0), type ``"iii"`` when the bit at ``r`` was a correct 0 (so the page was evicted
    by the marking fallback); every other fault (first requests, truth 1 at ``r``) is type ``"i"``, which FitF
    pays too. The proof bounds the counts by ``OPT``, ``eta1`` and ``(k - 1) eta0``.
    """
    req = np.asarray(requests, dtype=np.int64)
    b = np.asarray(bits, dtype=bool)
    truth = belady(req, k).discard
    sim = PagingSimulator(k, policy, seed=0)
    previous: dict[int, int] = {}
    counts = {"i": 0, "ii": 0, "iii": 0}
    for t, (page, bit) in enumerate(zip(req.tolist(), b.tolist())):
        if sim.step(page, bit):
            r = previous.get(page)
            if r is None or truth[r]:
                counts["i"] += 1
            elif b[r]:
                counts["ii"] += 1
            else:
                counts["iii"] += 1
        previous[page] = t
    return counts


def witness_charges(requests: NDArray[np.int64], bits: NDArray[np.bool_], k: int) -> int:
    """The lemma inside the smoothness proof, measured: the largest number of *bad* fallback evictions (the evicted
    page's latest truth bit is 0) that happen while one missed discard is *alive* (its page cached and not requested
    again). The proof of ``ALG <= OPT + (k-1) eta0 + eta1`` shows this is at most ``k - 1`` for deterministic
    FtP-Mark.
    """
    req = np.asarray(requests, dtype=np.int64)
    b = np.asarray(bits, dtype=bool)
    truth = belady(req, k).discard
    sim = PagingSimulator(k, "ftp_det")
    latest: dict[int, int] = {}  # page -> time of its latest request
    alive: dict[int, int] = {}  # time of an alive missed discard -> bad evictions seen so far
    worst = 0
    for t, (page, bit) in enumerate(zip(req.tolist(), b.tolist())):
        if page in latest:
            worst = max(worst, alive.pop(latest[page], 0))  # a new request ends the old one's life
        before = set(sim.cache)
        if sim.step(page, bit) and len(before) == k:
            (victim,) = before - set(sim.cache)
            worst = max(worst, alive.pop(latest[victim], 0))
            if sim.fallback_used and not truth[latest[victim]]:
                for u in alive:
                    alive[u] += 1
        latest[page] = t
        if not bit and truth[t]:
            alive[t] = 0
    return max([worst, *alive.values()])
