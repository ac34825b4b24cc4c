"""Tests for litlib.dp_continual: references, closed forms, invariants and bad inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.distributed import run_local
from litlib.dp_continual import (
    OnlineSparseVectorMaxSum,
    OnlineTreeMax,
    PrivacyBudget,
    SVTNoise,
    all_ones_stream,
    batch_max_sum,
    batch_select_sum,
    binary_tree_max,
    column_sums,
    composed_epsilon,
    decode_reduction,
    default_cap,
    epsilon_to_zcdp,
    gaussian_sigma_classic,
    gaussian_sigma_zcdp,
    max_sum_error,
    max_sum_error_sweep,
    max_sums,
    naive_continual_max_sum,
    per_round_epsilon,
    planted_max_stream,
    prefix_noise,
    reduction_read_times,
    reduction_stream,
    sample_node_noise,
    select_sum_error,
    shard_bounds,
    shard_seed,
    sharded_binary_tree_max,
    sparse_vector_max_sum,
    sparse_vector_max_sum_from_target,
    sparse_vector_select_sum,
    svt_parameters,
    theta_grid,
    tree_height,
    tree_noise_scale,
    trivial_max_sum,
    zcdp_to_epsilon,
)
from litlib.dp_continual.reference import (
    block_interval,
    column_sums_reference,
    decode_reduction_reference,
    dyadic_blocks,
    max_sums_reference,
    svt_max_sum_reference,
    svt_select_sum_reference,
    tree_noise_covariance,
    tree_prefix_reference,
)
from litlib.dp_continual.svt import first_at_least

BUDGET = PrivacyBudget(1.0, 1e-6)
SETTINGS = settings(max_examples=25, deadline=None)


def binary_streams(max_T: int = 40, max_d: int = 6) -> st.SearchStrategy[np.ndarray]:
    """Random small 0/1 streams."""
    return st.tuples(st.integers(1, max_T), st.integers(1, max_d), st.integers(0, 2**31 - 1)).map(
        lambda a: (np.random.default_rng(a[2]).random((a[0], a[1])) < 0.5).astype(np.int8)
    )


# ---------------------------------------------------------------- streams and the reduction


@SETTINGS
@given(binary_streams())
def test_column_and_max_sums_match_loops(x: np.ndarray) -> None:
    np.testing.assert_array_equal(column_sums(x), column_sums_reference(x))
    M = max_sums(x)
    np.testing.assert_array_equal(M, max_sums_reference(x))
    steps = np.diff(np.concatenate([[0], M]))
    assert set(np.unique(steps)) <= {0, 1}  # M_t rises by 0 or 1


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 14), st.integers(0, 10**6))
def test_reduction_recovers_counts_exactly(n: int, d: int, seed: int) -> None:
    Y = (np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.int8)
    x = reduction_stream(Y)
    assert x.shape == (n * (2 * d + 1), d)
    counts = Y.sum(axis=0)
    np.testing.assert_array_equal(decode_reduction(max_sums(x), n, d), counts)
    np.testing.assert_array_equal(decode_reduction_reference(Y), counts)


def test_reduction_padding_is_data_independent() -> None:
    Y1 = np.zeros((3, 4), dtype=np.int8)
    Y2 = np.ones((3, 4), dtype=np.int8)
    np.testing.assert_array_equal(reduction_stream(Y1)[3:], reduction_stream(Y2)[3:])
    np.testing.assert_array_equal(reduction_read_times(3, 4), 3 * np.array([3, 5, 7, 9]))


def test_reduction_transfers_error_one_to_one() -> None:
    Y = np.eye(4, dtype=np.int8)
    M = max_sums(reduction_stream(Y)).astype(float)
    shift = np.random.default_rng(0).uniform(-2.5, 2.5, size=M.shape)
    err = np.abs(decode_reduction(M + shift, 4, 4) - Y.sum(axis=0)).max()
    assert err <= np.abs(shift).max() + 1e-12


def test_planted_stream_has_max_equal_to_t() -> None:
    x = planted_max_stream(50, 7, seed=3, p=0.9)
    np.testing.assert_array_equal(max_sums(x), np.arange(1, 51))
    np.testing.assert_array_equal(planted_max_stream(50, 7, seed=3), planted_max_stream(50, 7, seed=3))


# ---------------------------------------------------------------- tree (M1)


@SETTINGS
@given(st.integers(1, 10**6))
def test_dyadic_blocks_tile_the_prefix(t: int) -> None:
    blocks = dyadic_blocks(t)
    assert len(blocks) == bin(t).count("1")
    covered = 0
    for h, m in blocks:  # left to right, contiguous
        lo, hi = block_interval(h, m)
        assert lo == covered + 1
        covered = hi
    assert covered == t


@pytest.mark.parametrize(
    ("T", "d", "chunk"), [(1, 1, 1), (2, 3, 2), (7, 5, 3), (37, 6, 4), (64, 2, 256), (100, 9, 5)]
)
def test_tree_matches_node_value_reference(T: int, d: int, chunk: int) -> None:
    x = planted_max_stream(T, d, seed=T + d, p=0.4)
    gen = torch.Generator().manual_seed(7)
    nodes = sample_node_noise(T, d, 3.0, gen)
    ref = tree_prefix_reference(x, [lv.numpy() for lv in nodes])
    out = binary_tree_max(x, BUDGET, seed=0, chunk=chunk, node_noise=nodes, dtype=torch.float64)
    np.testing.assert_allclose(out.max_sum, ref.max(axis=1), atol=1e-9)
    np.testing.assert_array_equal(out.select, ref.argmax(axis=1))
    np.testing.assert_allclose(prefix_noise(nodes, T).numpy(), ref - column_sums(x), atol=1e-9)


def test_tree_without_noise_returns_exact_max() -> None:
    x = planted_max_stream(77, 11, seed=1)
    T, d = x.shape
    zero = [torch.zeros(T // 2**h + 1, d, dtype=torch.float64) for h in range(tree_height(T))]
    out = binary_tree_max(x, BUDGET, seed=0, chunk=4, node_noise=zero)
    np.testing.assert_array_equal(out.max_sum, max_sums(x))
    S = column_sums(x)
    assert select_sum_error(out.select, S) == 0


def test_tree_noise_variance_and_covariance_closed_form() -> None:
    T, d, sigma = 32, 20000, 1.5
    nodes = sample_node_noise(T, d, sigma, torch.Generator().manual_seed(11), dtype=torch.float64)
    noise = prefix_noise(nodes, T).numpy()  # (T, d): columns are independent samples
    emp = noise @ noise.T / d
    exact = tree_noise_covariance(T, sigma)
    popcount = np.array([bin(t).count("1") for t in range(1, T + 1)])
    np.testing.assert_allclose(np.diag(exact), sigma**2 * popcount)
    # variance within 5% (each estimate has relative s.e. 1%), covariances within 0.05 sigma^2 * sqrt(H*H).
    np.testing.assert_allclose(np.diag(emp), np.diag(exact), rtol=0.05)
    assert np.abs(emp - exact).max() <= 0.05 * sigma**2 * tree_height(T)


def test_tree_scale_calibration() -> None:
    T, d = 1000, 16
    H = tree_height(T)
    assert H == 11
    assert tree_noise_scale(T, d, BUDGET) == pytest.approx(gaussian_sigma_zcdp(math.sqrt(d * H), 1.0, 1e-6))
    assert tree_noise_scale(T, d, PrivacyBudget(0.5), noise="laplace") == pytest.approx(d * H / 0.5)
    with pytest.raises(ValueError, match="delta"):
        tree_noise_scale(T, d, PrivacyBudget(1.0), noise="gaussian")


def test_tree_is_deterministic_and_laplace_runs() -> None:
    x = all_ones_stream(64, 5)
    a = binary_tree_max(x, BUDGET, seed=4)
    b = binary_tree_max(x, BUDGET, seed=4)
    np.testing.assert_array_equal(a.max_sum, b.max_sum)
    c = binary_tree_max(x, PrivacyBudget(1.0), seed=4, noise="laplace")
    assert c.scale == pytest.approx(5 * tree_height(64))
    assert np.isfinite(c.max_sum).all()


def test_tree_noisy_max_is_biased_upward_on_ties() -> None:
    # All columns tie: max_j (t + Z_j) - t has mean about sigma_t * E[max of d normals] > 0.
    T, d = 16, 4096
    out = binary_tree_max(all_ones_stream(T, d), BUDGET, seed=2)
    sigma_t = out.scale * math.sqrt(bin(T).count("1"))
    bias = out.max_sum[-1] - T
    assert 0.6 * sigma_t * math.sqrt(2 * math.log(d)) < bias < 1.2 * sigma_t * math.sqrt(2 * math.log(d))


# ---------------------------------------------------------------- sparse vector (M2, M3)


@SETTINGS
@given(binary_streams(max_T=60), st.sampled_from([1.0, 2.5, 4.0, 9.0]), st.integers(0, 1000))
def test_svt_max_sum_matches_step_by_step_reference(x: np.ndarray, theta: float, seed: int) -> None:
    # epsilon large enough that the noise is comparable to the threshold, so rounds do fire.
    budget = PrivacyBudget(200.0, 1e-3)
    out = sparse_vector_max_sum(x, theta, budget, seed)
    params = out.params
    noise = SVTNoise.draw(x.shape[0], params.cap, seed)
    ref = svt_max_sum_reference(max_sums(x), params, noise)
    np.testing.assert_allclose(out.values, ref)
    # invariants: at most cap rounds, the output changes only at fire times
    assert out.rounds <= params.cap
    changes = np.flatnonzero(np.diff(np.concatenate([[0.0], out.values])) != 0) + 1
    assert set(changes) <= set(out.fire_times.tolist())


@SETTINGS
@given(binary_streams(max_T=60, max_d=5), st.sampled_from([1.0, 3.0, 6.0]), st.integers(0, 1000))
def test_svt_select_sum_matches_step_by_step_reference(x: np.ndarray, theta: float, seed: int) -> None:
    budget = PrivacyBudget(300.0, 1e-3)
    out = sparse_vector_select_sum(x, theta, budget, seed)
    noise = SVTNoise.draw(x.shape[0], out.params.cap, seed, d=x.shape[1])
    ref = svt_select_sum_reference(column_sums(x), out.params, noise)
    np.testing.assert_array_equal(out.values, ref)
    assert out.params.sensitivity == 2
    eps1 = out.params.epsilon0 / 2  # the doubled sensitivity doubles both AboveThreshold scales
    assert out.params.query_scale == pytest.approx(8 / eps1)
    assert out.params.threshold_scale == pytest.approx(4 / eps1)
    assert out.params.release_scale == pytest.approx(2 / eps1)


def test_svt_freezes_after_cap() -> None:
    M = np.arange(1, 501)
    out = sparse_vector_max_sum_from_target(M, 10.0, PrivacyBudget(500.0, 1e-3), seed=0, cap=3)
    assert out.rounds == 3 and out.capped
    last = out.fire_times[-1]
    assert np.all(out.values[last - 1 :] == out.values[last - 1])


def test_svt_error_near_theta_when_noise_is_small() -> None:
    # Nearly noiseless: a release happens whenever M_t - v reaches theta, so the error stays below theta + 1.
    M = np.arange(1, 2001)
    out = sparse_vector_max_sum_from_target(M, 50.0, PrivacyBudget(1e6, 1e-3), seed=0)
    assert not out.capped
    assert max_sum_error(out.values, M) <= 50.0 + 1.0
    assert 2000 // 51 - 1 <= out.rounds <= 2000 // 50 + 1


def test_svt_calibration_and_cap() -> None:
    T, theta = 4096, 128.0
    p = svt_parameters(T, theta, BUDGET)
    assert p.cap == default_cap(T, theta) == 65
    assert composed_epsilon(p.epsilon0, p.cap, 1e-6) == pytest.approx(1.0)
    assert p.threshold_scale == pytest.approx(2 / (p.epsilon0 / 2))
    assert p.query_scale == pytest.approx(4 / (p.epsilon0 / 2))
    assert p.release_scale == pytest.approx(1 / (p.epsilon0 / 2))
    pure = svt_parameters(T, theta, PrivacyBudget(1.0))
    assert pure.epsilon0 == pytest.approx(1.0 / 65)


def test_first_at_least_agrees_with_linear_scan() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.normal(size=int(rng.integers(1, 300)))
        start, level, window = (
            int(rng.integers(0, len(a))),
            float(rng.normal() + 1.5),
            int(rng.integers(1, 9)),
        )
        hits = [i for i in range(start, len(a)) if a[i] >= level]
        assert first_at_least(a, start, level, window) == (hits[0] if hits else -1)
        assert first_at_least(lambda i, k, a=a: a[i:k], start, level, window, length=len(a)) == (
            hits[0] if hits else -1
        )


def test_sweep_shape_and_grid() -> None:
    grid = theta_grid(1024)
    np.testing.assert_allclose(grid, 1024 / 2.0 ** np.arange(2, 11))  # 0.5 < 1 is dropped
    errs = max_sum_error_sweep(np.arange(1, 1025), grid[:3], BUDGET, [0, 1])
    assert errs.shape == (3, 2) and np.all(errs >= 0)


# ---------------------------------------------------------------- privacy accounting


@SETTINGS
@given(st.floats(0.01, 20.0), st.floats(1e-12, 0.5))
def test_zcdp_conversion_round_trips(eps: float, delta: float) -> None:
    rho = epsilon_to_zcdp(eps, delta)
    assert zcdp_to_epsilon(rho, delta) == pytest.approx(eps, rel=1e-9)


@SETTINGS
@given(st.floats(0.05, 5.0), st.integers(1, 5000))
def test_per_round_epsilon_inverts_composition(eps: float, rounds: int) -> None:
    e0 = per_round_epsilon(eps, 1e-6, rounds)
    assert composed_epsilon(e0, rounds, 1e-6) == pytest.approx(eps, rel=1e-9)
    assert per_round_epsilon(eps, None, rounds) * rounds == pytest.approx(eps)


def test_gaussian_calibrations_agree_closely() -> None:
    # At epsilon just below 1 the two routes give almost the same sigma (the brief's "about 0.7%").
    classic = gaussian_sigma_classic(1.0, 0.999, 1e-6)
    zcdp = gaussian_sigma_zcdp(1.0, 1.0, 1e-6)
    assert abs(zcdp / classic - 1) < 0.02
    with pytest.raises(ValueError, match="epsilon must be < 1"):
        gaussian_sigma_classic(1.0, 1.0, 1e-6)


# ---------------------------------------------------------------- baselines


def test_baselines() -> None:
    x = planted_max_stream(200, 4, seed=0)
    errs = [abs(batch_max_sum(x, BUDGET, seed=s) - 200) for s in range(400)]
    assert 0.85 < np.mean(errs) < 1.15  # E|Lap(1)| = 1
    assert batch_select_sum(x, PrivacyBudget(50.0), seed=0) == 0
    np.testing.assert_allclose(trivial_max_sum(4), [0.5, 1.0, 1.5, 2.0])
    naive = naive_continual_max_sum(x, BUDGET, seed=0)
    assert naive.shape == (200,)
    pure = naive_continual_max_sum(x, PrivacyBudget(1.0), seed=0)
    assert max_sum_error(pure, max_sums(x)) > max_sum_error(naive, max_sums(x))


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: PrivacyBudget(0.0, 1e-6), ValueError, "epsilon"),
        (lambda: PrivacyBudget(-1.0), ValueError, "epsilon"),
        (lambda: PrivacyBudget(float("nan")), ValueError, "epsilon"),
        (lambda: PrivacyBudget("1", 1e-6), TypeError, "epsilon"),  # type: ignore[arg-type]
        (lambda: PrivacyBudget(1.0, 0.0), ValueError, "delta"),
        (lambda: PrivacyBudget(1.0, 1.0), ValueError, "delta"),
        (lambda: column_sums(np.array([[0, 2]])), ValueError, "0 and 1"),
        (lambda: column_sums(np.zeros(5)), ValueError, "2-D"),
        (lambda: column_sums(np.zeros((0, 3))), ValueError, "T >= 1"),
        (lambda: column_sums("01"), TypeError, "stream"),
        (lambda: column_sums(np.array([["a"]])), TypeError, "stream"),
        (lambda: binary_tree_max(np.ones((4, 2)), (1.0, 1e-6), 0), TypeError, "budget"),  # type: ignore[arg-type]
        (lambda: binary_tree_max(np.ones((4, 2)), BUDGET, -1), ValueError, "seed"),
        (lambda: binary_tree_max(np.ones((4, 2)), BUDGET, 0, chunk=0), ValueError, "chunk"),
        (lambda: binary_tree_max(np.ones((4, 2)), BUDGET, 0, noise="cauchy"), ValueError, "noise"),  # type: ignore[arg-type]
        (
            lambda: binary_tree_max(np.ones((4, 2)), BUDGET, 0, node_noise=[torch.zeros(5, 2)]),
            ValueError,
            "levels",
        ),
        (lambda: sparse_vector_max_sum(np.ones((4, 2)), 0.0, BUDGET, 0), ValueError, "theta"),
        (lambda: sparse_vector_max_sum(np.ones((4, 2)), 2.0, BUDGET, 0, cap=0), ValueError, "cap"),
        (lambda: sparse_vector_max_sum_from_target([0, 2, 3], 2.0, BUDGET, 0), ValueError, "max_sum"),
        (
            lambda: sparse_vector_max_sum_from_target([1, 2], 1.0, BUDGET, 0, noise=SVTNoise.draw(3, 5, 0)),
            ValueError,
            "noise.query",
        ),
        (lambda: decode_reduction(np.zeros(10), 2, 3), ValueError, "n\\(2d\\+1\\)"),
        (lambda: tree_height(0), ValueError, "T"),
        (lambda: per_round_epsilon(1.0, 1e-6, 0), ValueError, "rounds"),
        (lambda: planted_max_stream(10, 2, seed=0, p=1.5), ValueError, "p"),
        (lambda: max_sum_error([1.0, 2.0], [1.0]), ValueError, "equal-length"),
        (lambda: select_sum_error(np.array([0, 5]), np.ones((2, 3))), ValueError, "indices"),
    ],
)
def test_bad_inputs_raise(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


# ---------------------------------------------------------------- more invariants


@SETTINGS
@given(binary_streams(max_T=50, max_d=7), st.integers(1, 4))
def test_tree_float32_default_matches_float64(x: np.ndarray, chunk: int) -> None:
    T, d = x.shape
    nodes = sample_node_noise(T, d, 5.0, torch.Generator().manual_seed(1))
    lo = binary_tree_max(x, BUDGET, seed=0, chunk=chunk, node_noise=nodes)  # float32 by default
    hi = binary_tree_max(x, BUDGET, seed=0, chunk=chunk, node_noise=nodes, dtype=torch.float64)
    np.testing.assert_allclose(lo.max_sum, hi.max_sum, atol=1e-3)


@SETTINGS
@given(binary_streams(max_T=80, max_d=6), st.sampled_from([2.0, 8.0, 20.0]), st.integers(0, 50))
def test_svt_select_sum_invariants(x: np.ndarray, theta: float, seed: int) -> None:
    out = sparse_vector_select_sum(x, theta, BUDGET, seed)
    assert out.values.shape == (x.shape[0],)
    assert out.values.min() >= 0 and out.values.max() < x.shape[1]
    assert out.rounds <= out.params.cap
    changes = (
        np.flatnonzero(np.diff(out.values) != 0) + 2
    )  # 1-based steps whose index differs from the previous
    assert set(changes) <= set(out.fire_times.tolist())
    again = sparse_vector_select_sum(x, theta, BUDGET, seed)
    np.testing.assert_array_equal(out.values, again.values)


def test_svt_error_within_theorem_bound_when_its_condition_holds() -> None:
    # The accuracy theorem: if theta >= 2(a + b + e), then w.p. >= 1 - beta the cap is not hit and the error is at
    # most theta + a + b. Checked over 20 seeds (expected failures: at most 5% of them; we allow 2).
    T, beta, budget = 4096, 0.05, PrivacyBudget(20.0, 1e-6)
    M = np.arange(1, T + 1)
    theta = T / 8
    params = svt_parameters(T, theta, budget)
    eps1 = eps2 = params.epsilon0 / 2
    a = 4 / eps1 * math.log(3 * T / beta)
    b = 2 / eps1 * math.log(3 * params.cap / beta)
    e = 1 / eps2 * math.log(3 * params.cap / beta)
    assert theta >= 2 * (a + b + e)  # the theorem applies
    failures = 0
    for seed in range(20):
        out = sparse_vector_max_sum_from_target(M, theta, budget, seed=seed)
        failures += out.capped or max_sum_error(out.values, M) > theta + a + b
    assert failures <= 2


# ---------------------------------------------------------------- streaming API


@SETTINGS
@given(binary_streams(max_T=70, max_d=6), st.sampled_from(["gaussian", "laplace"]))
def test_online_tree_matches_offline_with_same_noise(x: np.ndarray, noise: str) -> None:
    T, d = x.shape
    budget = BUDGET if noise == "gaussian" else PrivacyBudget(1.0)
    nodes = sample_node_noise(T, d, 2.0, torch.Generator().manual_seed(5), dtype=torch.float64)
    offline = binary_tree_max(x, budget, seed=0, node_noise=nodes, dtype=torch.float64, noise=noise)  # type: ignore[arg-type]
    online = OnlineTreeMax(T, d, budget, seed=0, node_noise=nodes, noise=noise)  # type: ignore[arg-type]
    released = [online.update(row) for row in x]
    np.testing.assert_allclose([v for v, _ in released], offline.max_sum, atol=1e-9)
    np.testing.assert_array_equal([j for _, j in released], offline.select)


def test_online_tree_own_noise_has_the_tree_variance() -> None:
    # Without pre-drawn noise the online tree draws node noise lazily; its prefix noise must still have variance
    # sigma^2 popcount(t). One all-zero stream, many columns as independent samples.
    T, d = 16, 20000
    tree = OnlineTreeMax(T, d, BUDGET, seed=1)
    zeros = np.zeros(d)
    for t in range(1, T + 1):
        tree.update(zeros)
        noisy = np.zeros(d)
        for h in range(tree.height):
            if (t >> h) & 1:
                noisy += tree._latest[h]
        var = noisy.var() / tree.scale**2
        assert abs(var / bin(t).count("1") - 1) < 0.06


@SETTINGS
@given(binary_streams(max_T=80, max_d=5), st.sampled_from([2.0, 5.0, 12.0]), st.integers(0, 500))
def test_online_svt_matches_offline_with_same_seed(x: np.ndarray, theta: float, seed: int) -> None:
    budget = PrivacyBudget(100.0, 1e-3)
    offline = sparse_vector_max_sum(x, theta, budget, seed)
    online = OnlineSparseVectorMaxSum(x.shape[0], x.shape[1], theta, budget, seed)
    np.testing.assert_allclose([online.update(row) for row in x], offline.values)
    assert online.rounds == offline.rounds


def test_online_rejects_bad_rows_and_overflow() -> None:
    tree = OnlineTreeMax(2, 3, BUDGET, seed=0)
    with pytest.raises(ValueError, match="shape"):
        tree.update([1, 0])
    with pytest.raises(ValueError, match="0 and 1"):
        tree.update([1, 0, 3])
    tree.update([1, 0, 0])
    tree.update([0, 0, 1])
    with pytest.raises(ValueError, match="T=2"):
        tree.update([0, 0, 1])
    svt = OnlineSparseVectorMaxSum(1, 2, 1.0, BUDGET, seed=0)
    svt.update([1, 1])
    with pytest.raises(ValueError, match="T=1"):
        svt.update([1, 1])
    with pytest.raises(TypeError, match="budget"):
        OnlineTreeMax(4, 2, 1.0, seed=0)  # type: ignore[arg-type]


# ---------------------------------------------------------------- sharded by column


@SETTINGS
@given(st.integers(0, 50), st.integers(1, 6))
def test_shard_bounds_partition_the_columns(d: int, world: int) -> None:
    bounds = [shard_bounds(d, world, r) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == d
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1
    assert len({shard_seed(7, r) for r in range(world)}) == world


def _sharded_run(x: np.ndarray, nodes: list[torch.Tensor] | None) -> tuple[np.ndarray, np.ndarray, float]:
    out = sharded_binary_tree_max(x, BUDGET, seed=3, chunk=2, node_noise=nodes, dtype=torch.float64)
    return out.max_sum, out.select, out.scale


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_tree_matches_single_process(world: int) -> None:
    x = planted_max_stream(45, 7, seed=2, p=0.6)
    T, d = x.shape
    nodes = sample_node_noise(T, d, 4.0, torch.Generator().manual_seed(9), dtype=torch.float64)
    single = binary_tree_max(x, BUDGET, seed=0, node_noise=nodes, dtype=torch.float64)
    results = run_local(_sharded_run, world, (x, nodes))
    for values, select, scale in results:  # every rank holds the same, global release
        np.testing.assert_allclose(values, single.max_sum, atol=1e-9)
        np.testing.assert_array_equal(select, single.select)
        assert scale == pytest.approx(single.scale)
    own = run_local(_sharded_run, world, (x, None))
    np.testing.assert_array_equal(own[0][0], own[-1][0])
    assert own[0][2] == pytest.approx(tree_noise_scale(T, d, BUDGET))  # calibrated for all d columns


def test_sharded_needs_a_process_group_and_calibration_d_is_checked() -> None:
    with pytest.raises(RuntimeError, match="process group"):
        sharded_binary_tree_max(np.ones((4, 2)), BUDGET, seed=0)
    with pytest.raises(ValueError, match="calibration_d"):
        binary_tree_max(np.ones((4, 3)), BUDGET, seed=0, calibration_d=2)
    wide = binary_tree_max(np.ones((4, 3)), BUDGET, seed=0, calibration_d=300)
    assert wide.scale == pytest.approx(tree_noise_scale(4, 300, BUDGET))
