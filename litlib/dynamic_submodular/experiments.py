"""Workloads and experiment drivers of the chapter (oblivious update sequences, checkpoints, cost logs).

The update sequence is always generated *before* the run, from its own random stream: the analysis assumes an
oblivious adversary, whose choices cannot depend on the algorithm's coins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from litlib.dynamic_submodular import reference
from litlib.dynamic_submodular.baselines import SieveStreaming, lazy_greedy, recompute_threshold_greedy
from litlib.dynamic_submodular.coverage import CoverageFunction, random_coverage
from litlib.dynamic_submodular.dynamic import DynamicSubmodular
from litlib.dynamic_submodular.oracle import CountingOracle

INSERT, DELETE = 1, -1


@dataclass(frozen=True)
class UpdateSequence:
    """A fixed sequence of updates: ``ops[t]`` is ``+1`` (insert) or ``-1`` (delete) of ``elements[t]``."""

    ops: np.ndarray
    elements: np.ndarray

    def __post_init__(self) -> None:
        if self.ops.shape != self.elements.shape or self.ops.ndim != 1:
            raise ValueError(
                f"ops and elements must be 1-D of equal length; got {self.ops.shape}, {self.elements.shape}"
            )
        if not np.isin(self.ops, (INSERT, DELETE)).all():
            raise ValueError("ops must hold only +1 (insert) and -1 (delete)")

    def __len__(self) -> int:
        return len(self.ops)


def insert_then_delete(n: int, n_delete: int, rng: np.random.Generator) -> UpdateSequence:
    """Insert all ``n`` elements in random order, then delete ``n_delete`` of them in random order."""
    if n < 1 or not 0 <= n_delete <= n:
        raise ValueError(f"need n >= 1 and 0 <= n_delete <= n; got n={n}, n_delete={n_delete}")
    order = rng.permutation(n)
    victims = rng.permutation(n)[:n_delete]
    ops = np.concatenate([np.full(n, INSERT), np.full(n_delete, DELETE)])
    return UpdateSequence(ops.astype(np.int8), np.concatenate([order, victims]).astype(np.int64))


def random_updates(n: int, length: int, p_insert: float, rng: np.random.Generator) -> UpdateSequence:
    """``length`` random updates on ground set ``n``: insert a dead element with probability ``p_insert``.

    When every element is alive the update is a deletion, when none is it is an insertion.
    """
    if n < 1 or length < 0 or not 0 <= p_insert <= 1:
        raise ValueError(f"need n >= 1, length >= 0, p_insert in [0, 1]; got {n}, {length}, {p_insert}")
    alive = np.zeros(n, dtype=bool)
    ops, elems = [], []
    for _ in range(length):
        do_insert = (rng.random() < p_insert and not alive.all()) or not alive.any()
        pool = np.flatnonzero(~alive if do_insert else alive)
        e = int(pool[rng.integers(len(pool))])
        alive[e] = do_insert
        ops.append(INSERT if do_insert else DELETE)
        elems.append(e)
    return UpdateSequence(np.asarray(ops, dtype=np.int8), np.asarray(elems, dtype=np.int64))


def apply_update(algo: DynamicSubmodular, op: int, e: int) -> int:
    """Apply one update; returns its query cost."""
    return algo.insert(e) if op == INSERT else algo.delete(e)


def checkpoints(length: int, count: int) -> np.ndarray:
    """``count`` update indices spread evenly over a run of ``length`` updates (the last one included)."""
    return np.unique(np.linspace(length / count, length, count).round().astype(np.int64) - 1)


@dataclass
class DynamicRun:
    """What one run of Experiment 1 measured."""

    n: int
    seed: int
    variant: str
    n_instances: int
    ops: np.ndarray
    costs: np.ndarray  # queries per update
    checkpoint_t: np.ndarray
    quality: np.ndarray  # f(S_t) / f(greedy_t) at the checkpoints
    recompute_costs: list[int] = field(default_factory=list)  # baseline (ii) queries per recompute
    recompute_quality: list[float] = field(default_factory=list)
    seconds: float = 0.0
    half_pool_rebuilds: int = 0

    @property
    def insert_costs(self) -> np.ndarray:
        """Queries of each insertion."""
        return self.costs[self.ops == INSERT]

    @property
    def delete_costs(self) -> np.ndarray:
        """Queries of each deletion."""
        return self.costs[self.ops == DELETE]


def coverage_instance(n: int, seed: int, *, size_fraction: float = 1 / 20) -> tuple[CoverageFunction, int]:
    """Experiment 1's oracle: ``n`` random subsets of a universe ``U = 4n``, sizes uniform in ``[1, U/20]``.

    Returns the function and ``f_max = U / 20`` (rounded down, at least 1).
    """
    universe = 4 * n
    f_max = max(1, int(universe * size_fraction))
    return random_coverage(n, universe, f_max, np.random.default_rng([seed, 0])), f_max


def run_queries_vs_n(
    n: int,
    seed: int,
    variant: str,
    *,
    k: int = 10,
    eps: float = 0.5,
    n_checkpoints: int = 10,
    recompute: bool = False,
    delete_fraction: float = 0.5,
    half_pool_rebuild: bool = False,
) -> DynamicRun:
    """Experiment 1 for one ``(n, seed, variant)``: insert all, delete a fraction, log queries and quality.

    Quality is ``f(S_t)`` over offline lazy greedy at the checkpoints (evaluation calls are not charged). With
    ``recompute=True`` baseline (ii) also runs at each checkpoint and its query cost per recompute is logged.
    ``half_pool_rebuild`` is passed to ``DynamicSubmodular``.
    Seeds: data ``[seed, 0]``, updates ``[seed, 1]``, algorithm ``seed``, recompute baseline ``[seed, 2]``.
    """
    f, f_max = coverage_instance(n, seed)
    seq = insert_then_delete(n, int(n * delete_fraction), np.random.default_rng([seed, 1]))
    algo = DynamicSubmodular(
        f,
        k,
        eps=eps,
        f_min=1.0,
        f_max=float(f_max),
        variant=variant,
        seed=seed,
        half_pool_rebuild=half_pool_rebuild,
    )
    marks = checkpoints(len(seq), n_checkpoints)
    costs = np.zeros(len(seq), dtype=np.int64)
    quality: list[float] = []
    run = DynamicRun(n, seed, variant, len(algo.instances), seq.ops, costs, marks, np.zeros(0))
    rng_recompute = np.random.default_rng([seed, 2])
    spent = 0.0
    next_mark = 0
    for t, (op, e) in enumerate(zip(seq.ops, seq.elements)):
        start = time.perf_counter()
        costs[t] = apply_update(algo, int(op), int(e))
        spent += time.perf_counter() - start
        if next_mark < len(marks) and t == marks[next_mark]:
            next_mark += 1
            alive = algo.alive_elements()
            _, best = lazy_greedy(f, alive, k)
            quality.append(algo.value() / best if best > 0 else 1.0)
            if recompute:
                counter = CountingOracle(f)
                _, v = recompute_threshold_greedy(
                    counter, alive, k, eps=eps, f_min=1.0, f_max=float(f_max), rng=rng_recompute
                )
                run.recompute_costs.append(counter.queries)
                run.recompute_quality.append(v / best if best > 0 else 1.0)
    run.quality = np.asarray(quality)
    run.half_pool_rebuilds = sum(inst.half_pool_rebuilds for inst in algo.instances)
    run.seconds = spent
    return run


@dataclass
class TinyRun:
    """Experiment 2 for one seed: ratio to brute-force OPT and invariant violations after every update."""

    ratios: np.ndarray
    invariant_checks: int
    invariant_violations: int
    value_mismatches: int


def run_tiny_guarantee(
    seed: int,
    *,
    n: int = 14,
    universe: int = 30,
    max_size: int = 10,
    k: int = 3,
    eps: float = 0.2,
    length: int = 60,
    p_insert: float = 0.6,
    variant: str = "eager",
    check: Callable[[DynamicSubmodular], None] | None = None,
) -> TinyRun:
    """Experiment 2: random updates on a tiny coverage instance; brute-force OPT after every update.

    The invariant is checked on every instance against the reference (Python sets): ``|S| = k`` or every alive
    element has gain ``< τ``. ``value_mismatches`` counts instances whose tracked value differs from ``f(S)``.
    """
    rng = np.random.default_rng([seed, 0])
    sizes = rng.integers(1, max_size + 1, size=n)
    sets = [set(rng.choice(universe, size=int(s), replace=False).tolist()) for s in sizes]
    f_ref = reference.coverage_fn(sets)
    f = CoverageFunction.from_sets(sets, universe)
    seq = random_updates(n, length, p_insert, np.random.default_rng([seed, 1]))
    algo = DynamicSubmodular(f, k, eps=eps, f_min=1.0, f_max=float(max_size), variant=variant, seed=seed)
    ratios, checks, violations, mismatches = [], 0, 0, 0
    for op, e in zip(seq.ops, seq.elements):
        apply_update(algo, int(op), int(e))
        alive = algo.alive_elements().tolist()
        _, opt = reference.brute_force_opt(f_ref, alive, k)
        ratios.append(f_ref(algo.solution()) / opt if opt > 0 else 1.0)
        for inst in algo.instances:
            S = inst.solution_array().tolist()
            mismatches += int(abs(f_ref(S) - inst.value) > 1e-9)
            if variant == "eager":
                checks += 1
                violations += int(not reference.is_threshold_maximal(f_ref, S, alive, k, inst.tau))
        if check is not None:
            check(algo)
    return TinyRun(np.asarray(ratios), checks, violations, mismatches)


@dataclass
class DeletionAudit:
    """Per-level audit of the deletion analysis over one eager run (all instances pooled).

    Attributes:
        hits: ``hits[ℓ]``: deletions that removed a pick of level ``ℓ`` (counted per instance).
        hit_bound: ``Σ_t Σ_instances |S_ℓ(t)| / 2^(L-ℓ)``: the derivation's bound on the expected ``hits[ℓ]``.
        pool_checks: number of (non-first) levels whose construction-time pool size was checked.
        pool_violations: levels built after the first of their ``construct`` with ``|A_ℓ| >= 2^(L-ℓ+1)``.
        double_sum_max: the largest ratio of the derivation's double sum to ``4k(max_j |S_j| + 1)`` seen.
        cost_per_instance: mean queries per deletion per instance.
        cost_bound: mean over deletions of the per-instance ``4 |S| (max_j |S_j| + 1)`` before the deletion.
    """

    hits: np.ndarray
    hit_bound: np.ndarray
    pool_checks: int
    pool_violations: int
    double_sum_max: float
    cost_per_instance: float
    cost_bound: float


def audit_deletions(n: int, seed: int, *, k: int = 10, eps: float = 0.5) -> DeletionAudit:
    """Run Experiment 1's workload (eager) and audit the deletion-cost derivation before every deletion."""
    f, f_max = coverage_instance(n, seed)
    seq = insert_then_delete(n, n // 2, np.random.default_rng([seed, 1]))
    algo = DynamicSubmodular(f, k, eps=eps, f_min=1.0, f_max=float(f_max), seed=seed)
    L = algo.L
    hits, bound = np.zeros(L + 1), np.zeros(L + 1)
    scale = 2.0 ** (L - np.arange(L + 1))
    checks = violations = 0
    ratio_max, cost, cost_bound, deletions = 0.0, 0, 0.0, 0
    for op, e in zip(seq.ops.tolist(), seq.elements.tolist()):
        if op == DELETE:
            deletions += 1
            for inst in algo.instances:
                levels = inst.levels()
                picks = np.array([len(lv.picks) for lv in levels])
                bound += picks / scale
                level = inst.level_of.get(e)
                if level is not None:
                    hits[level] += 1
                s = picks.tolist()
                closed = reference.deletion_bound(s)
                cost_bound += closed
                if closed > 0:
                    ratio_max = max(ratio_max, reference.deletion_double_sum(s) / closed)
            cost += algo.delete(e)
        else:
            algo.insert(e)
        for inst in algo.instances:
            for lv in inst.levels():
                if not lv.first_of_construct and lv.pool_size_at_build > 0:
                    checks += 1
                    violations += int(lv.pool_size_at_build >= 2 ** (L - lv.level + 1))
    per = deletions * len(algo.instances)
    return DeletionAudit(hits, bound, checks, violations, ratio_max, cost / per, cost_bound / per)


def adaptive_deletions(n: int, seed: int, n_delete: int, *, k: int = 10, eps: float = 0.5) -> np.ndarray:
    """Stress test: insert all ``n`` elements, then delete ``n_delete`` reported solution elements.

    Such an adversary sees the algorithm's coins (it is *not* oblivious), so the analysis does not apply.
    Returns the query cost of each adaptive deletion.
    """
    f, f_max = coverage_instance(n, seed)
    algo = DynamicSubmodular(f, k, eps=eps, f_min=1.0, f_max=float(f_max), seed=seed)
    for e in np.random.default_rng([seed, 1]).permutation(n).tolist():
        algo.insert(e)
    rng = np.random.default_rng([seed, 3])
    costs = []
    for _ in range(n_delete):
        sol = algo.solution()
        if not sol:
            break
        costs.append(algo.delete(sol[int(rng.integers(len(sol)))]))
    return np.asarray(costs)


def sieve_targeted_deletions(
    f: CoverageFunction, k: int, eps: float, f_max: float, order: np.ndarray, n_delete: int
) -> np.ndarray:
    """An oblivious adversary that knows the deterministic sieve baseline: it simulates the sieve offline on the
    insertion ``order`` and, ``n_delete`` times, deletes the first element of the sieve's reported solution.

    The returned victims are fixed before any algorithm runs, so the adversary is oblivious; it is harmful only to
    algorithms whose picks it can predict.
    """
    sim = SieveStreaming(f, k, eps=eps, f_min=1.0, f_max=f_max)
    for e in order.tolist():
        sim.insert(e)
    victims: list[int] = []
    for _ in range(n_delete):
        sol = sim.solution()
        if not sol:
            break
        victims.append(sol[0])
        sim.delete(sol[0])
    return np.asarray(victims, dtype=np.int64)


def compare_sieve(
    n: int, seed: int, n_delete: int, *, k: int = 10, eps: float = 0.5
) -> dict[str, dict[str, float]]:
    """Baseline (v) against the eager algorithm under random and sieve-targeted deletions.

    Both workloads insert all ``n`` elements in one random order, then delete ``n_delete`` elements: uniformly at
    random, or the sieve's own picks (:func:`sieve_targeted_deletions`). Returns, keyed
    ``"<algorithm>/<workload>"``: mean queries per insertion and per deletion, the largest deletion cost, and the
    final ``f(S) / f(greedy)``.
    """
    f, f_max = coverage_instance(n, seed)
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(n)
    workloads = {
        "random": rng.permutation(n)[:n_delete],
        "targeted": sieve_targeted_deletions(f, k, eps, float(f_max), order, n_delete),
    }
    out: dict[str, dict[str, float]] = {}
    for name, victims in workloads.items():
        alive = np.setdiff1d(np.arange(n), victims)
        _, best = lazy_greedy(f, alive, k)
        algos: dict[str, DynamicSubmodular | SieveStreaming] = {
            "sieve": SieveStreaming(f, k, eps=eps, f_min=1.0, f_max=float(f_max)),
            "eager": DynamicSubmodular(f, k, eps=eps, f_min=1.0, f_max=float(f_max), seed=seed),
        }
        for algo_name, algo in algos.items():
            inserts = [algo.insert(e) for e in order.tolist()]
            deletes = [algo.delete(int(e)) for e in victims]
            out[f"{algo_name}/{name}"] = {
                "insert": float(np.mean(inserts)),
                "delete": float(np.mean(deletes)),
                "delete max": float(np.max(deletes)),
                "quality": algo.value() / best if best > 0 else 1.0,
            }
    return out
