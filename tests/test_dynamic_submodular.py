"""Tests of litlib.dynamic_submodular: oracles, baselines and the dynamic algorithm against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.dynamic_submodular import (
    CallableFunction,
    CountingOracle,
    CoverageFunction,
    DynamicSubmodular,
    SieveStreaming,
    dynamic,
    greedy,
    guess_grid,
    lazy_greedy,
    pack_sets,
    random_coverage,
    recompute_threshold_greedy,
    threshold_greedy,
)
from litlib.dynamic_submodular import reference as ref
from litlib.dynamic_submodular.experiments import (
    UpdateSequence,
    adaptive_deletions,
    apply_update,
    audit_deletions,
    compare_sieve,
    insert_then_delete,
    random_updates,
    run_queries_vs_n,
    run_tiny_guarantee,
)

SETTINGS = settings(max_examples=25, deadline=None)


def _random_sets(rng: np.random.Generator, n: int, universe: int, max_size: int) -> list[set[int]]:
    sizes = rng.integers(1, max_size + 1, size=n)
    return [set(rng.choice(universe, size=int(s), replace=False).tolist()) for s in sizes]


# ------------------------------------------------------------------------------------------------ oracles
@SETTINGS
@given(seed=st.integers(0, 10_000), universe=st.sampled_from([1, 5, 63, 64, 65, 130]), n=st.integers(1, 9))
def test_coverage_matches_python_sets(seed: int, universe: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    sets = _random_sets(rng, n, universe, universe)
    f = CoverageFunction.from_sets(sets, universe)
    base = rng.permutation(n)[: rng.integers(0, n + 1)]
    assert f.value(base) == ref.coverage_value(sets, base)
    expected = [ref.marginal_gain(ref.coverage_fn(sets), x, base.tolist()) for x in range(n)]
    np.testing.assert_array_equal(f.gains(np.arange(n), base), expected)
    np.testing.assert_array_equal(f.singleton_values(), [len(s) for s in sets])


def test_pack_sets_bit_layout() -> None:
    bits = pack_sets([{0, 64, 65}, set()], universe=130)
    assert bits.shape == (2, 3) and bits.dtype == np.uint64
    assert bits[0].tolist() == [1, 3, 0] and bits[1].tolist() == [0, 0, 0]


def test_default_gains_of_callable_match_coverage() -> None:
    rng = np.random.default_rng(3)
    sets = _random_sets(rng, 7, 40, 12)
    f_bits = CoverageFunction.from_sets(sets, 40)
    f_call = CallableFunction(lambda S: ref.coverage_value(sets, S), n=7)
    base = np.array([1, 4])
    np.testing.assert_array_equal(
        f_call.gains(np.array([0, 2, 3]), base), f_bits.gains(np.array([0, 2, 3]), base)
    )


def test_counting_oracle_counts_each_value_and_gain() -> None:
    f = CountingOracle(CoverageFunction.from_sets([{0}, {1}, {2}], 3))
    f.value(np.array([0]))
    f.gains(np.array([1, 2]), np.array([0]))
    f.gains(np.zeros(0, dtype=np.int64), np.array([0]))
    f.charge(4)
    assert f.evaluate([0, 1, 2]) == 3.0
    assert f.queries == 1 + 2 + 0 + 4
    f.reset()
    assert f.queries == 0


def test_random_coverage_sizes_and_determinism() -> None:
    a = random_coverage(50, 200, 10, np.random.default_rng(1))
    b = random_coverage(50, 200, 10, np.random.default_rng(1))
    np.testing.assert_array_equal(a.bits, b.bits)
    sizes = a.singleton_values()
    assert sizes.min() >= 1 and sizes.max() <= 10


# ------------------------------------------------------------------------------------------------ grid
@pytest.mark.parametrize(("n", "count"), [(250, 16), (2000, 21)])
def test_guess_grid_sizes_of_experiment_one(n: int, count: int) -> None:
    grid = guess_grid(1.0, 4 * n / 20, 10, 0.5)
    assert len(grid) == count == ref.grid_size(1.0, 4 * n / 20, 10, 0.5)


@SETTINGS
@given(f_min=st.floats(0.1, 10), ratio=st.floats(1, 1000), k=st.integers(1, 20), eps=st.floats(0.05, 0.95))
def test_guess_grid_covers_every_opt(f_min: float, ratio: float, k: int, eps: float) -> None:
    f_max = f_min * ratio
    grid = guess_grid(f_min, f_max, k, eps)
    assert grid[0] == f_min and grid[-1] <= k * f_max * (1 + 1e-9) and grid[-1] * (1 + eps) > k * f_max
    # every OPT in [f_min, k f_max] has a guess γ <= OPT < (1 + ε) γ
    opts = np.geomspace(f_min, k * f_max, 50)
    idx = np.searchsorted(grid, opts * (1 + 1e-12), side="right") - 1
    assert (grid[idx] <= opts * (1 + 1e-9)).all() and (opts < grid[idx] * (1 + eps) * (1 + 1e-9)).all()


# ------------------------------------------------------------------------------------------------ baselines
@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_static_baselines_against_brute_force(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    sets = _random_sets(rng, 9, 25, 8)
    f, f_ref = CoverageFunction.from_sets(sets, 25), ref.coverage_fn(sets)
    elems = np.arange(9)
    _, opt = ref.brute_force_opt(f_ref, range(9), k)
    g_set, g_val = greedy(f, elems, k)
    lg_set, lg_val = lazy_greedy(f, elems, k)
    assert g_val == lg_val == f_ref(g_set) == f_ref(lg_set)
    assert g_val >= (1 - 1 / math.e) * opt - 1e-9
    tau = float(rng.uniform(0.3, 6))
    t_set, t_val = threshold_greedy(f, elems, k, tau, rng)
    assert ref.is_threshold_maximal(f_ref, t_set, range(9), k, tau)
    assert t_val == f_ref(t_set) >= ref.threshold_lemma_bound(opt, k, tau) - 1e-9
    _, r_val = recompute_threshold_greedy(f, elems, k, eps=0.2, f_min=1, f_max=8, rng=rng)
    assert r_val >= opt / 2.4 - 1e-9


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_sieve_restarts_equal_a_fresh_stream_and_keep_the_ratio(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    sets = _random_sets(rng, 10, 30, 10)
    f, f_ref = CoverageFunction.from_sets(sets, 30), ref.coverage_fn(sets)
    sieve = SieveStreaming(f, k, eps=0.2, f_min=1, f_max=10)
    for op, e in zip(*_ops(random_updates(10, 40, 0.6, rng))):
        (sieve.insert if op == 1 else sieve.delete)(e)
        fresh = SieveStreaming(f, k, eps=0.2, f_min=1, f_max=10)
        for x in sieve.order:
            fresh.insert(x)
        assert fresh.picks == sieve.picks  # a rejected element never changed a sieve's state
        assert sieve.value() == pytest.approx(f_ref(sieve.solution()))
        _, opt = ref.brute_force_opt(f_ref, sieve.order, k)
        assert sieve.value() >= opt / 2.4 - 1e-9


def test_compare_sieve_small() -> None:
    out = compare_sieve(120, 0, 20, k=5)
    assert set(out) == {"sieve/random", "eager/random", "sieve/targeted", "eager/targeted"}
    assert all(0 < r["quality"] <= 1.0 + 1e-9 for r in out.values())
    assert out["eager/random"]["insert"] >= 1  # at least one screening query per insertion


def test_lazy_greedy_saves_queries() -> None:
    f = random_coverage(300, 1200, 60, np.random.default_rng(0))
    plain, lazy = CountingOracle(f), CountingOracle(f)
    _, v1 = greedy(plain, np.arange(300), 10)
    _, v2 = lazy_greedy(lazy, np.arange(300), 10)
    assert v1 == v2 and lazy.queries < plain.queries


# ------------------------------------------------------------------------------------------------ dynamic
def _check_state(algo: DynamicSubmodular, f_ref: ref.ValueFn, k: int, eager: bool) -> float:
    """Invariants after an update; returns the ratio to brute-force OPT."""
    alive = set(algo.alive_elements().tolist())
    for inst in algo.instances:
        S = inst.solution_array().tolist()
        assert len(S) == len(set(S)) <= k and set(S) <= alive
        assert inst.value == pytest.approx(f_ref(S))
        for lv in inst.levels():
            if not lv.first_of_construct and lv.pool_size_at_build > 0:
                assert lv.pool_size_at_build < 2 ** (inst.L - lv.level + 1)
            assert lv.pool_size <= lv.pool_size_at_build
        if eager:
            assert ref.is_threshold_maximal(f_ref, S, alive, k, inst.tau)
    _, opt = ref.brute_force_opt(f_ref, alive, k)
    return f_ref(algo.solution()) / opt if opt > 0 else 1.0


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 4),
    eps=st.sampled_from([0.1, 0.2, 0.5]),
    half_pool=st.booleans(),
)
def test_eager_guarantee_and_invariant_after_every_update(
    seed: int, k: int, eps: float, half_pool: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = 10
    sets = _random_sets(rng, n, 30, 10)
    f_ref = ref.coverage_fn(sets)
    algo = DynamicSubmodular(
        CoverageFunction.from_sets(sets, 30),
        k,
        eps=eps,
        f_min=1,
        f_max=10,
        seed=seed,
        half_pool_rebuild=half_pool,
    )
    for op, e in zip(*_ops(random_updates(n, 40, 0.6, rng))):
        apply_update(algo, op, e)
        assert _check_state(algo, f_ref, k, eager=True) >= ref.guaranteed_ratio(eps) - 1e-12


def _ops(seq: UpdateSequence) -> tuple[list[int], list[int]]:
    return seq.ops.tolist(), seq.elements.tolist()


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_lazy_keeps_a_valid_solution(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    sets = _random_sets(rng, 10, 30, 10)
    algo = DynamicSubmodular(
        CoverageFunction.from_sets(sets, 30), k, eps=0.5, f_min=1, f_max=10, variant="lazy"
    )
    for op, e in zip(*_ops(random_updates(10, 40, 0.6, rng))):
        apply_update(algo, op, e)
        _check_state(algo, ref.coverage_fn(sets), k, eager=False)


def test_eager_guarantee_for_a_user_defined_function() -> None:
    # f(S) = sqrt(sum of weights): a concave function of a modular one, monotone submodular, not a coverage.
    rng = np.random.default_rng(7)
    w = rng.uniform(1, 9, size=9)
    f_ref: ref.ValueFn = lambda S: float(np.sqrt(sum(w[list(S)])))  # noqa: E731
    f = CallableFunction(lambda S: f_ref(S), n=9)
    algo = DynamicSubmodular(f, 3, eps=0.2, f_min=float(np.sqrt(w.min())), f_max=float(np.sqrt(w.max())))
    for op, e in zip(*_ops(random_updates(9, 40, 0.6, rng))):
        apply_update(algo, op, e)
        assert _check_state(algo, f_ref, 3, eager=True) >= ref.guaranteed_ratio(0.2)


def test_single_insertion_query_count_closed_form() -> None:
    # One element of value 5 into an empty structure: every instance screens it (|Γ| queries); each instance
    # with τ <= 5 builds level L from a pool of one element (one gain query), picks it, stops (empty pool).
    f = CoverageFunction.from_sets([set(range(5)), {9}], 10)
    algo = DynamicSubmodular(f, 2, eps=0.5, f_min=1, f_max=5, seed=0)
    accepting = sum(inst.tau <= 5 for inst in algo.instances)
    assert algo.insert(0) == len(algo.instances) + accepting
    assert algo.solution() == [0] and algo.value() == 5
    assert algo.delete(0) == 0  # eager: rebuilding from an empty pool costs nothing
    assert algo.solution() == [] and algo.value() == 0


def test_lazy_deletion_of_a_pick_costs_one_value_query_per_holder() -> None:
    f = CoverageFunction.from_sets([set(range(5)), {9}], 10)
    algo = DynamicSubmodular(f, 2, eps=0.5, f_min=1, f_max=5, variant="lazy")
    algo.insert(0)
    holders = sum(0 in inst.solution_array() for inst in algo.instances)
    assert holders > 0 and algo.delete(0) == holders


def test_same_seed_same_run() -> None:
    def run(seed: int) -> tuple[list[int], list[int]]:
        f = random_coverage(120, 480, 24, np.random.default_rng(5))
        algo = DynamicSubmodular(f, 5, eps=0.5, f_min=1, f_max=24, seed=seed)
        for op, e in zip(*_ops(insert_then_delete(120, 60, np.random.default_rng(6)))):
            apply_update(algo, op, e)
        return algo.solution(), algo.update_queries

    assert run(3) == run(3)


def test_experiment_drivers_small() -> None:
    tiny = run_tiny_guarantee(0, length=30)
    assert tiny.invariant_violations == 0 and tiny.value_mismatches == 0
    assert tiny.ratios.min() >= 1 / 2.4
    big = run_queries_vs_n(120, 0, "eager", recompute=True, n_checkpoints=3)
    assert len(big.insert_costs) == 120 and len(big.delete_costs) == 60
    assert (big.quality >= ref.guaranteed_ratio(0.5)).all() and len(big.recompute_costs) == 3


def test_deletion_audit_and_adaptive_stress_small() -> None:
    audit = audit_deletions(150, 1, k=5)
    assert audit.pool_checks > 0 and audit.pool_violations == 0
    assert audit.double_sum_max <= 1.0 and audit.cost_per_instance <= audit.cost_bound
    assert audit.hits.sum() <= audit.hit_bound.sum()
    costs = adaptive_deletions(150, 1, 5, k=5)
    assert len(costs) == 5 and (costs > 0).all()  # every adaptive deletion hits a pick of the best instance


def test_half_pool_rule_fires_under_heavy_deletion() -> None:
    on = run_queries_vs_n(200, 0, "eager", half_pool_rebuild=True, delete_fraction=0.9, n_checkpoints=2)
    off = run_queries_vs_n(200, 0, "eager", half_pool_rebuild=False, delete_fraction=0.9, n_checkpoints=2)
    assert on.half_pool_rebuilds > 0 and off.half_pool_rebuilds == 0
    assert (on.quality >= ref.guaranteed_ratio(0.5)).all()


def test_invariant_check_catches_a_broken_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mutation test: dropping elements that arrive while |S| = k must show up as invariant violations.
    original = dynamic.ThresholdInstance.insert

    def forgetful(self: dynamic.ThresholdInstance, e: int, singleton_value: float) -> None:
        if self.size < self.k:
            original(self, e, singleton_value)

    monkeypatch.setattr(dynamic.ThresholdInstance, "insert", forgetful)
    assert sum(run_tiny_guarantee(s).invariant_violations for s in range(4)) > 0


@SETTINGS
@given(st.lists(st.integers(0, 6), min_size=1, max_size=12))
def test_deletion_double_sum_is_below_its_closed_form(picks: list[int]) -> None:
    assert ref.deletion_double_sum(picks) <= ref.deletion_bound(picks) + 1e-9


def test_threshold_lemma_balance_point() -> None:
    # min(kτ, OPT - kτ) is largest, OPT/2, exactly at τ = OPT / (2k)
    taus = np.linspace(0.01, 1.0, 991)
    vals = [ref.threshold_lemma_bound(10.0, 5, t) for t in taus]
    assert taus[int(np.argmax(vals))] == pytest.approx(10.0 / 10) and max(vals) == pytest.approx(5.0)
    assert ref.guaranteed_ratio(0.5) >= 0.5 - 0.25


# ------------------------------------------------------------------------------------------------ bad input
def _f() -> CoverageFunction:
    return CoverageFunction.from_sets([{0}, {1}, {2}], 3)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"k": 0}, ValueError, "k must"),
        ({"k": 1.5}, TypeError, "k must"),
        ({"eps": 0.0}, ValueError, "eps must"),
        ({"eps": 1.0}, ValueError, "eps must"),
        ({"f_min": 0.0}, ValueError, "f_min must"),
        ({"f_max": 0.5}, ValueError, "f_max must"),
        ({"variant": "greedy"}, ValueError, "variant must"),
        ({"seed": -1}, ValueError, "seed must"),
    ],
)
def test_dynamic_rejects_bad_arguments(kwargs: dict[str, object], exc: type[Exception], match: str) -> None:
    args: dict[str, object] = {"k": 2, "eps": 0.5, "f_min": 1.0, "f_max": 1.0} | kwargs
    with pytest.raises(exc, match=match):
        DynamicSubmodular(_f(), **args)  # type: ignore[arg-type]


def test_dynamic_rejects_bad_updates() -> None:
    algo = DynamicSubmodular(_f(), 2, f_min=1, f_max=1)
    with pytest.raises(TypeError, match="function must"):
        DynamicSubmodular(lambda S: 0.0, 2, f_min=1, f_max=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"e must be in \[0, 3\)"):
        algo.insert(3)
    with pytest.raises(TypeError, match="e must be an int"):
        algo.insert(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not alive"):
        algo.delete(0)
    algo.insert(0)
    with pytest.raises(ValueError, match="already alive"):
        algo.insert(0)


def test_oracles_reject_bad_input() -> None:
    with pytest.raises(TypeError, match="uint64"):
        CoverageFunction(np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="2-D"):
        CoverageFunction(np.zeros(3, dtype=np.uint64))
    with pytest.raises(ValueError, match="outside"):
        pack_sets([{5}], universe=5)
    with pytest.raises(TypeError, match="integer element ids"):
        _f().value(np.array([0.5]))
    with pytest.raises(ValueError, match=r"ids in \[0, 3\)"):
        _f().gains(np.array([3]), np.array([0]))
    with pytest.raises(ValueError, match="max_size"):
        random_coverage(5, 10, 11, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must"):
        random_coverage(5, 10, 3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tau must"):
        threshold_greedy(_f(), np.arange(3), 1, 0.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="SetFunction"):
        CountingOracle(lambda S: 0.0)  # type: ignore[arg-type]
    sieve = SieveStreaming(_f(), 1, f_min=1, f_max=1)
    with pytest.raises(ValueError, match="not alive"):
        sieve.delete(0)
    sieve.insert(0)
    with pytest.raises(ValueError, match="dead element"):
        sieve.insert(0)
    with pytest.raises(ValueError, match="ops must"):
        UpdateSequence(np.array([2]), np.array([0]))
    with pytest.raises(ValueError, match="n_delete"):
        insert_then_delete(3, 4, np.random.default_rng(0))
