"""Tests of the multinomial R-BOCPD detector and its baselines against closed forms and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from litlib.rbocpd import (
    RBOCPD,
    AdamsMacKayBOCPD,
    delay_approximation,
    first_alarm,
    log_binomial,
    piecewise_categorical_streams,
    scan_statistics,
    theory_threshold,
)
from litlib.rbocpd import reference as ref

streams = st.integers(2, 5).flatmap(
    lambda O: st.tuples(st.just(O), st.lists(st.integers(0, O - 1), min_size=1, max_size=40))
)


# ---------------------------------------------------------------- closed forms


@given(streams)
@settings(max_examples=60, deadline=None)
def test_sequential_laplace_equals_dirichlet_marginal(case: tuple[int, list[int]]) -> None:
    O, x = case
    counts = ref.symbol_counts(np.array(x), O)
    seq = ref.log_laplace_sequential(np.array(x), O)
    assert seq == pytest.approx(ref.log_laplace_marginal(counts), abs=1e-11)
    # q = [C(n+O-1, O-1) * multinomial(n; N)]^{-1}
    n = len(x)
    log_multinomial = gammaln(n + 1) - gammaln(counts + 1).sum()
    assert seq == pytest.approx(-(log_binomial(n, O - 1) + log_multinomial), abs=1e-11)


@given(streams)
@settings(max_examples=60, deadline=None)
def test_incremental_bayes_factors_match_closed_form(case: tuple[int, list[int]]) -> None:
    O, x = case
    det = RBOCPD(O, threshold=1e9)  # never fires
    det.run(np.array(x))
    expected = ref.log_bayes_factors(np.array(x), O)
    np.testing.assert_allclose(det.log_bayes_factors(), expected, atol=1e-10)


@given(streams, st.floats(0.5, 6.0))
@settings(max_examples=60, deadline=None)
def test_streaming_restarts_match_brute_force_constant(case: tuple[int, list[int]], beta: float) -> None:
    O, x = case
    assert RBOCPD(O, threshold=beta).run(np.array(x)) == ref.reference_restarts(
        np.array(x), O, lambda g, n: beta
    )


@given(streams, st.floats(0.05, 0.9))
@settings(max_examples=60, deadline=None)
def test_streaming_restarts_match_brute_force_theory(case: tuple[int, list[int]], delta: float) -> None:
    O, x = case
    expected = ref.reference_restarts(np.array(x), O, lambda g, n: float(theory_threshold(g, n, O, delta)))
    assert RBOCPD(O, delta=delta).run(np.array(x)) == expected


def test_detector_restarts_on_an_obvious_change() -> None:
    x = np.array([0] * 200 + [1] * 100)
    alarms = RBOCPD(2, threshold=math.log(1000)).run(x)
    assert len(alarms) >= 1 and 200 <= alarms[0] < 215


def test_restart_forgets_the_segment() -> None:
    det = RBOCPD(3, threshold=2.0)
    fired = det.run(np.array([0] * 50 + [2] * 30))
    assert fired
    assert det.n_observations < 30  # counted from the restart
    assert det.restart_times == fired


def test_capacity_growth_is_transparent() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, 300)
    det = RBOCPD(3, threshold=1e9)
    det.run(x)
    np.testing.assert_allclose(det.log_bayes_factors(), ref.log_bayes_factors(x, 3), atol=1e-9)


# ---------------------------------------------------------------- batched scan statistics


@pytest.mark.parametrize("O", [2, 4])
def test_scan_statistics_match_streaming_first_alarm(O: int) -> None:
    thetas = np.full((2, O), 1.0 / O)
    thetas[1] = np.eye(O)[O - 1] * 0.7 + 0.3 / O
    xs = piecewise_categorical_streams(thetas, [37, 23], 9, seed=3)
    stats = scan_statistics(xs, O, glr=True)
    for beta in (2.0, 4.0, 7.0):
        got = first_alarm(stats.bayes_factor, beta)
        for b in range(xs.shape[0]):
            alarms = RBOCPD(O, threshold=beta).run(xs[b])
            assert got[b] == (alarms[0] if alarms else -1)
    for delta in (0.1, 0.5):
        got = first_alarm(stats.theory, math.log(1 / delta))
        for b in range(xs.shape[0]):
            alarms = RBOCPD(O, delta=delta).run(xs[b])
            assert got[b] == (alarms[0] if alarms else -1)


def test_scan_glr_matches_plug_in_reference() -> None:
    xs = piecewise_categorical_streams(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), [15, 10], 3, seed=1)
    stats = scan_statistics(xs, 3, glr=True)
    for b in range(3):
        for t in (1, 9, 24):
            expected = max(ref.glr_statistics(xs[b, : k + 1], 3).max() for k in range(1, t + 1))
            assert stats.glr[b, t] == pytest.approx(expected, abs=1e-9)


def test_scan_statistics_are_running_maxima() -> None:
    xs = piecewise_categorical_streams(np.array([[0.25] * 4]), [60], 5, seed=2)
    stats = scan_statistics(xs, 4, glr=True)
    for arr in stats:
        assert np.all(np.diff(arr[:, 1:], axis=1) >= 0)
        assert np.all(np.isneginf(arr[:, 0]))


def test_theory_threshold_false_alarm_rate_is_below_delta() -> None:
    # Ville + union bound: P(any alarm on a stationary stream) <= delta. Test with a generous delta so that
    # the bound is not vacuous at this sample size.
    rng = np.random.default_rng(7)
    thetas = rng.dirichlet(np.ones(3), size=150)[None]
    xs = piecewise_categorical_streams(thetas, [300], 150, seed=8)
    stats = scan_statistics(xs, 3)
    rate = float((first_alarm(stats.theory, math.log(1 / 0.3)) >= 0).mean())
    assert rate <= 0.3


def test_q_lower_bound_step_i() -> None:
    # q(x) >= p_theta(x) / C(n+O-1, O-1) for every theta: check at the maximum likelihood theta (the worst case).
    rng = np.random.default_rng(0)
    for _ in range(50):
        O = int(rng.integers(2, 6))
        x = rng.integers(0, O, int(rng.integers(1, 60)))
        counts = ref.symbol_counts(x, O)
        lhs = ref.log_laplace_marginal(counts)
        rhs = ref.log_max_likelihood(counts) - float(log_binomial(x.size, O - 1))
        assert lhs >= rhs - 1e-12


# ---------------------------------------------------------------- Adams-MacKay baseline


def test_adams_mackay_restarts_on_change_and_not_on_constant_stream() -> None:
    det = AdamsMacKayBOCPD(2, hazard=1e-3)
    alarms = [t for t, x in enumerate([0] * 300 + [1] * 60) if det.update(x)]
    assert alarms and 300 <= alarms[0] < 330


@pytest.mark.parametrize("variant", ["adams-mackay", "official-python"])
def test_adams_mackay_posterior_matches_brute_force(variant: str) -> None:
    # Unnormalised joint P(run, x_{1:t}) by explicit recursion over all runs, versus the detector's MAP choice.
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, 25)
    h, O = 0.2, 3
    det = AdamsMacKayBOCPD(O, hazard=h, variant=variant)
    runs: list[tuple[float, list[int]]] = [(1.0, [])]  # (weight, symbols seen by the run)
    for xt in x:
        preds = [(seen.count(int(xt)) + 1) / (len(seen) + O) for _, seen in runs]
        if variant == "adams-mackay":
            total = sum(w * p for (w, _), p in zip(runs, preds))
        else:
            total = sum(w for w, _ in runs)
        runs = [((1 - h) * w * p, [*seen, int(xt)]) for (w, seen), p in zip(runs, preds)] + [(h * total, [])]
        fired = det.update(int(xt))
        weights = [w for w, _ in runs]
        assert fired == (int(np.argmax(weights)) != 0)
        if fired:
            runs = [(1.0, [])]


# ---------------------------------------------------------------- helpers and bad inputs


def test_delay_approximation_first_order() -> None:
    assert delay_approximation(10.0, 1.0, 2) == pytest.approx(10.0 + 0.5 * math.log(10.0))
    assert np.all(np.diff(delay_approximation(np.linspace(1, 20, 5), 0.2, 4)) > 0)


def test_piecewise_streams_are_seeded_and_shaped() -> None:
    th = np.array([[0.9, 0.1], [0.1, 0.9]])
    a = piecewise_categorical_streams(th, [100, 50], 4, seed=0)
    b = piecewise_categorical_streams(th, [100, 50], 4, seed=0)
    assert a.shape == (4, 150) and np.array_equal(a, b)
    assert a[:, :100].mean() < 0.3 and a[:, 100:].mean() > 0.7


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(n_symbols=1, threshold=1.0), ValueError),
        (dict(n_symbols=2.0, threshold=1.0), TypeError),
        (dict(n_symbols=2), ValueError),
        (dict(n_symbols=2, threshold=1.0, delta=0.1), ValueError),
        (dict(n_symbols=2, threshold=-1.0), ValueError),
        (dict(n_symbols=2, delta=1.5), ValueError),
        (dict(n_symbols=2, threshold="3"), TypeError),
    ],
)
def test_rbocpd_rejects_bad_arguments(kwargs: dict, err: type[Exception]) -> None:
    with pytest.raises(err):
        RBOCPD(**kwargs)


def test_bad_symbols_are_rejected() -> None:
    det = RBOCPD(3, threshold=2.0)
    with pytest.raises(ValueError, match="x must be"):
        det.update(3)
    with pytest.raises(ValueError, match="x must be"):
        det.update(-1)
    with pytest.raises(TypeError, match="xs must hold integer"):
        det.run(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="streams must"):
        scan_statistics(np.array([[0, 5]]), 3)
    with pytest.raises(ValueError, match="statistic must"):
        first_alarm(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="hazard"):
        AdamsMacKayBOCPD(2, hazard=0.0)
    with pytest.raises(ValueError, match="variant"):
        AdamsMacKayBOCPD(2, hazard=0.1, variant="matlab")
    with pytest.raises(ValueError, match="thetas"):
        piecewise_categorical_streams(np.array([[0.5, 0.5]]), [10, 10], 2, seed=0)
    with pytest.raises(ValueError, match="delta"):
        theory_threshold(1, 10, 3, 0.0)
