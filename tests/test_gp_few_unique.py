"""Tests for litlib.gp_few_unique: every fast path against the dense references, invariants, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.gp_few_unique import (
    METHODS,
    ExactGP,
    FiniteProblem,
    UniquePointGP,
    epoch_length,
    expected_improvement,
    make_synthetic_problem,
    noise_rng,
    optimize,
    rbf_kernel,
    run_mini,
    run_per_step,
    theoretical_beta,
    ucb,
    unique_point_posterior,
)
from litlib.gp_few_unique import reference as ref

ELL, LAM = 0.2, 0.01


def _history(
    rng: np.random.Generator, A: int, t: int, q_max: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random candidates and a length-t history that repeats at most q_max distinct points."""
    X = rng.uniform(size=(A, 2))
    pool = rng.choice(A, size=min(q_max, A), replace=False)
    hist = rng.choice(pool, size=t)
    y = rng.normal(size=t)
    return X, hist, y


def _stats(hist: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    uniq = np.unique(hist)
    counts = np.array([np.sum(hist == u) for u in uniq], dtype=float)
    ysum = np.array([y[hist == u].sum() for u in uniq])
    return uniq, counts, ysum


# --- posterior -------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    t=st.integers(1, 60),
    q_max=st.integers(1, 12),
    lam=st.sampled_from([1e-3, 0.01, 1.0]),
)
def test_unique_point_posterior_equals_full_posterior(seed: int, t: int, q_max: int, lam: float) -> None:
    rng = np.random.default_rng(seed)
    X, hist, y = _history(rng, 23, t, q_max)
    mu_full, var_full = ref.full_posterior(X[hist], y, X, ELL, lam)
    uniq, counts, ysum = _stats(hist, y)
    K_qA = rbf_kernel(X[uniq], X, ELL)
    mu, var, log_det = unique_point_posterior(K_qA[:, uniq], K_qA, counts, ysum, lam)
    scale = 1.0 + np.abs(mu_full).max()
    assert np.max(np.abs(mu - mu_full)) <= 1e-8 * scale
    assert np.max(np.abs(var - np.maximum(var_full, 0))) <= 1e-9
    assert math.isclose(log_det, ref.log_det_full(X[hist], ELL, lam), rel_tol=1e-9, abs_tol=1e-9)
    mu_plain, var_plain = ref.unique_posterior_plain(X[uniq], counts, ysum, X, ELL, lam)
    assert np.max(np.abs(mu - mu_plain)) <= 1e-8 * scale
    assert np.max(np.abs(var - var_plain)) <= 1e-9


@pytest.mark.parametrize("update", ["refit", "rank_one"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), n_epochs=st.integers(1, 25))
def test_unique_point_gp_tracks_full_posterior(update: str, seed: int, n_epochs: int) -> None:
    rng = np.random.default_rng(seed)
    A = 17
    X = rng.uniform(size=(A, 2))
    gp = UniquePointGP(X, ELL, LAM, update=update, capacity=1)  # capacity 1 exercises the growth path
    hist: list[int] = []
    ys: list[float] = []
    for _ in range(n_epochs):
        i = int(rng.integers(0, 6))  # few distinct points, so repeats are frequent
        obs = rng.normal(size=int(rng.integers(1, 5)))
        gp.observe(i, obs)
        hist += [i] * obs.size
        ys += list(obs)
    mu_full, var_full = ref.full_posterior(X[hist], np.array(ys), X, ELL, LAM)
    assert np.max(np.abs(gp.mean - mu_full)) <= 1e-7 * (1 + np.abs(mu_full).max())
    assert np.max(np.abs(gp.var - np.maximum(var_full, 0))) <= 1e-8
    assert math.isclose(gp.log_det, ref.log_det_full(X[hist], ELL, LAM), rel_tol=1e-8)
    assert gp.n_unique == len(set(hist))
    assert gp.n_observations == len(hist)
    np.testing.assert_array_equal(np.sort(gp.unique_indices), np.unique(hist))
    assert gp.counts.sum() == len(hist)
    assert math.isclose(gp.ysum.sum(), float(np.sum(ys)), abs_tol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), t=st.integers(1, 40))
def test_exact_gp_incremental_matches_dense(seed: int, t: int) -> None:
    rng = np.random.default_rng(seed)
    X, hist, y = _history(rng, 19, t, 8)
    gp = ExactGP(X, ELL, LAM, capacity=1)
    for i, yi in zip(hist, y):
        gp.observe(int(i), yi)
    mu_full, var_full = ref.full_posterior(X[hist], y, X, ELL, LAM)
    assert np.max(np.abs(gp.mean - mu_full)) <= 1e-7 * (1 + np.abs(mu_full).max())
    assert np.max(np.abs(gp.var - np.maximum(var_full, 0))) <= 1e-8
    assert math.isclose(gp.log_det, ref.log_det_full(X[hist], ELL, LAM), rel_tol=1e-9)
    np.testing.assert_array_equal(gp.observed_indices, np.unique(hist))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), B=st.integers(1, 500), warm=st.integers(0, 5))
def test_repeat_variance_closed_form(seed: int, B: int, warm: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(11, 2))
    gp = UniquePointGP(X, ELL, LAM)
    for _ in range(warm):
        gp.observe(int(rng.integers(0, 11)), rng.normal(size=2))
    i = int(rng.integers(0, 11))
    s2 = float(gp.var[i])
    gp.observe(i, np.zeros(B))
    assert math.isclose(float(gp.var[i]), ref.repeat_variance(s2, B, LAM), rel_tol=1e-7, abs_tol=1e-13)


def test_reselecting_a_point_increments_its_count() -> None:
    X = np.random.default_rng(0).uniform(size=(5, 2))
    for update in ("refit", "rank_one"):
        gp = UniquePointGP(X, ELL, LAM, update=update)  # type: ignore[arg-type]
        gp.observe(3, [1.0, 2.0])
        gp.observe(1, 0.5)
        gp.observe(3, [4.0])
        assert gp.n_unique == 2
        np.testing.assert_array_equal(gp.unique_indices, [3, 1])
        np.testing.assert_allclose(gp.counts, [3, 1])
        np.testing.assert_allclose(gp.ysum, [7.0, 0.5])


def test_prior_before_any_evaluation() -> None:
    X = np.random.default_rng(1).uniform(size=(6, 3))
    for gp in (ExactGP(X, ELL, LAM), UniquePointGP(X, ELL, LAM)):
        np.testing.assert_array_equal(gp.mean, np.zeros(6))
        np.testing.assert_array_equal(gp.var, np.ones(6))
        assert gp.log_det == 0.0


def test_posterior_views_are_read_only() -> None:
    gp = ExactGP(np.eye(3), ELL, LAM)
    with pytest.raises(ValueError):
        gp.mean[0] = 1.0


# --- acquisition -----------------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(
    s2=st.floats(1e-3, 1e3, allow_nan=False),  # the brute force counts up to (C - 1) / s2
    C=st.floats(1.01, 50.0, allow_nan=False),
    remaining=st.integers(1, 10**6),
)
def test_epoch_length_is_smallest_crossing_batch(s2: float, C: float, remaining: int) -> None:
    B = epoch_length(s2, C, remaining)
    assert min(ref.smallest_batch_bruteforce(s2, C), remaining) == B
    assert 1 <= B <= remaining


def test_epoch_length_edges() -> None:
    assert epoch_length(100.0, 2.0, 10) == 1  # prior variance / lam = 100 >> C: behaves like GP-UCB
    assert epoch_length(0.0, 2.0, 7) == 7  # nothing left to learn: use the remaining budget
    assert epoch_length(1.0, 2.0, 10) == 2  # ratio 1 + 1 = 2 is not > 2; B = 2 gives 3 > 2
    assert epoch_length(0.25, 2.0, 100) == 5
    assert epoch_length(1e-9, 2.0, 1000) == 1000  # the cap binds long before (C - 1) / s2
    assert epoch_length(1e-9, 2.0, 10**10) == 10**9 + 1


@settings(max_examples=30, deadline=None)
@given(mu=st.floats(-3, 3), sigma=st.floats(0, 2), inc=st.floats(-3, 3), nu=st.floats(0.1, 3))
def test_expected_improvement_matches_scalar_reference(
    mu: float, sigma: float, inc: float, nu: float
) -> None:
    got = expected_improvement(np.array([mu]), np.array([sigma**2]), inc, nu)[0]
    want = ref.expected_improvement_plain(mu, math.sqrt(sigma**2), inc, nu)
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    assert got >= 0.0
    assert got >= max(mu - inc, 0.0) - 1e-12  # EI dominates the plug-in improvement (Jensen)


def test_ucb_and_theoretical_beta_closed_forms() -> None:
    np.testing.assert_allclose(ucb(np.array([0.0, 1.0]), np.array([4.0, 0.0]), 0.5), [1.0, 1.0])
    got = theoretical_beta(log_det=3.0, lam=0.01, norm_bound=2.0, noise_sd=0.1, delta=0.05)
    assert math.isclose(got, 0.1 * 2.0 + 0.1 * math.sqrt(3.0 + 2 * math.log(20.0)))


# --- algorithms ------------------------------------------------------------------------------------------
def _tiny_problem(seed: int) -> FiniteProblem:
    return make_synthetic_problem(seed, n_candidates=30, n_centres=5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gp_ucb_matches_bruteforce_refit(seed: int) -> None:
    p, T = _tiny_problem(seed), 25
    noise = p.noise_sd * noise_rng(seed).standard_normal(T)
    want = ref.gp_ucb_bruteforce(p.candidates, p.values, noise, ELL, LAM, 1.0)
    for posterior in ("exact", "unique"):
        res = run_per_step(p, T, posterior=posterior, seed=seed)  # type: ignore[arg-type]
        np.testing.assert_array_equal(res.actions, want)
        np.testing.assert_allclose(res.observations, p.values[want] + noise)


@pytest.mark.parametrize(("seed", "C"), [(0, 2.0), (1, 1.5), (2, 4.0)])
def test_mini_gp_ucb_matches_bruteforce_refit(seed: int, C: float) -> None:
    p, T = _tiny_problem(seed), 60
    noise = p.noise_sd * noise_rng(seed).standard_normal(T)
    want, lengths = ref.mini_gp_ucb_bruteforce(p.candidates, p.values, noise, ELL, LAM, 1.0, C)
    res = run_mini(p, T, ratio_threshold=C, seed=seed)
    np.testing.assert_array_equal(res.actions, want)
    np.testing.assert_array_equal(res.epoch_lengths, lengths)
    assert math.isclose(res.log_det, ref.log_det_full(p.candidates[want], ELL, LAM), rel_tol=1e-8)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    T=st.integers(1, 150),
    C=st.sampled_from([1.1, 1.5, 2.0, 4.0, 8.0]),
    acquisition=st.sampled_from(["ucb", "ei"]),
    beta=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_mini_invariants(seed: int, T: int, C: float, acquisition: str, beta: float) -> None:
    p = make_synthetic_problem(seed % 1000, n_candidates=40, n_centres=6)
    r = run_mini(p, T, acquisition=acquisition, ratio_threshold=C, beta=beta, seed=seed)  # type: ignore[arg-type]
    assert r.epoch_lengths.sum() == T and r.epoch_starts[0] == 0
    np.testing.assert_array_equal(np.diff(r.epoch_starts), r.epoch_lengths[:-1])
    ratio = 1.0 + r.epoch_lengths * r.epoch_normalised_var
    assert np.all(ratio[:-1] > C)  # every completed epoch crossed the threshold...
    assert np.all(1.0 + (r.epoch_lengths - 1) * r.epoch_normalised_var <= C + 1e-12)  # ...at the first chance
    assert math.isclose(r.log_det, r.log_det_chain_rule, rel_tol=1e-9, abs_tol=1e-12)
    assert r.n_epochs <= 1 + r.log_det / math.log(C) + 1e-9
    assert r.switches <= r.n_epochs - 1
    assert r.n_unique <= r.n_epochs
    for h in range(r.n_epochs):  # each epoch evaluates a single candidate
        block = r.actions[r.epoch_starts[h] : r.epoch_starts[h] + r.epoch_lengths[h]]
        assert np.all(block == block[0])
    np.testing.assert_allclose(r.instant_regret, p.best_value - p.values[r.actions])
    assert np.all(r.instant_regret >= 0)


def test_all_methods_deterministic_and_chain_rule() -> None:
    p = make_synthetic_problem(3, n_candidates=60, n_centres=8)
    for m in METHODS:
        a, b = optimize(p, 80, m, seed=5), optimize(p, 80, m, seed=5)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.observations, b.observations)
        assert a.method == m
        assert math.isclose(a.log_det, a.log_det_chain_rule, rel_tol=1e-8)
    c = optimize(p, 80, "gp-ucb", seed=6)
    assert not np.array_equal(c.observations, optimize(p, 80, "gp-ucb", seed=5).observations)


def test_gp_ei_first_step_uses_prior_incumbent() -> None:
    p = make_synthetic_problem(0, n_candidates=10, n_centres=3)
    r = run_per_step(p, 1, acquisition="ei", seed=0)
    assert r.actions[0] == 0  # all candidates tie under the prior: argmax takes the first
    assert r.epoch_normalised_var[0] == pytest.approx(1.0 / LAM)


def test_synthetic_problem_is_normalised_and_seeded() -> None:
    p = make_synthetic_problem(7)
    assert p.candidates.shape == (500, 2) and p.values.min() == 0.0 and p.values.max() == 1.0
    np.testing.assert_array_equal(p.values, make_synthetic_problem(7).values)
    assert not np.array_equal(p.values, make_synthetic_problem(8).values)
    K = rbf_kernel(p.candidates[:4], p.candidates[:4], 0.2)
    np.testing.assert_allclose(np.diag(K), 1.0)
    assert K[0, 1] == pytest.approx(math.exp(-np.sum((p.candidates[0] - p.candidates[1]) ** 2) / 0.08))


# ---------------------------------------------------------------- bad inputs ------------------------------------
def test_bad_inputs_raise() -> None:
    p = _tiny_problem(0)
    X = p.candidates
    with pytest.raises(ValueError, match="lengthscale"):
        rbf_kernel(X, X, 0.0)
    with pytest.raises(ValueError, match="same number of columns"):
        rbf_kernel(X, np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="X must be"):
        rbf_kernel(np.ones(3), X, 1.0)
    with pytest.raises(ValueError, match="finite"):
        rbf_kernel(np.array([[np.nan, 0.0]]), X, 1.0)
    with pytest.raises(ValueError, match="values"):
        FiniteProblem(candidates=X, values=np.ones(3), noise_sd=0.1)
    with pytest.raises(ValueError, match="noise_sd"):
        FiniteProblem(candidates=X, values=p.values, noise_sd=-1.0)
    with pytest.raises(ValueError, match="index"):
        p.evaluate(30, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="repeats"):
        p.evaluate(0, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="seed"):
        make_synthetic_problem(-1)
    with pytest.raises(ValueError, match="n_candidates"):
        make_synthetic_problem(0, n_candidates=1)
    with pytest.raises(ValueError, match="horizon"):
        run_mini(p, 0)
    with pytest.raises(TypeError, match="horizon"):
        run_mini(p, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ratio_threshold"):
        run_mini(p, 10, ratio_threshold=1.0)
    with pytest.raises(ValueError, match="acquisition"):
        run_per_step(p, 10, acquisition="pi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="posterior"):
        run_per_step(p, 10, posterior="sparse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lam"):
        run_per_step(p, 10, lam=-0.1)
    with pytest.raises(ValueError, match="beta"):
        run_per_step(p, 10, beta=-1.0)
    with pytest.raises(TypeError, match="seed"):
        run_per_step(p, 10, seed=-3)
    with pytest.raises(TypeError, match="FiniteProblem"):
        run_per_step(X, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        optimize(p, 10, "gp-pi")
    noiseless = FiniteProblem(candidates=X, values=p.values, noise_sd=0.0)
    with pytest.raises(ValueError, match="lam must be given"):
        run_mini(noiseless, 10)
    with pytest.raises(ValueError, match="update"):
        UniquePointGP(X, ELL, LAM, update="lazy")  # type: ignore[arg-type]
    gp = UniquePointGP(X, ELL, LAM)
    with pytest.raises(ValueError, match="observations"):
        gp.observe(0, [])
    with pytest.raises(ValueError, match="observations"):
        gp.observe(0, [np.inf])
    with pytest.raises(ValueError, match="index"):
        ExactGP(X, ELL, LAM).observe(-1, 0.0)
    with pytest.raises(ValueError, match="counts"):
        unique_point_posterior(np.eye(2), np.ones((2, 3)), np.array([1.0, 0.0]), np.zeros(2), LAM)
    with pytest.raises(ValueError, match="expected K_qq"):
        unique_point_posterior(np.eye(2), np.ones((3, 3)), np.ones(2), np.zeros(2), LAM)
    with pytest.raises(ValueError, match="ratio_threshold"):
        epoch_length(1.0, 0.5, 10)
    with pytest.raises(ValueError, match="normalised_var"):
        epoch_length(-1.0, 2.0, 10)
    with pytest.raises(ValueError, match="remaining"):
        epoch_length(1.0, 2.0, 0)
    with pytest.raises(ValueError, match="delta"):
        theoretical_beta(1.0, 0.01, 1.0, 0.1, 1.5)
    with pytest.raises(ValueError, match="mu and var"):
        ucb(np.zeros(3), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="var"):
        expected_improvement(np.zeros(2), -np.ones(2), 0.0)
    with pytest.raises(ValueError, match="nu"):
        expected_improvement(np.zeros(2), np.ones(2), 0.0, nu=0.0)
