"""Tests of litlib.paging: FitF against brute force, the algorithms' guarantees as properties, the batched
simulator against the plain one, the exhaustive checks of the chapter, and bad inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import litlib.paging as pg
from litlib.paging.analysis import _faults_on_all_inputs
from litlib.paging.reference import exact_opt, furthest_in_future, phases_by_definition

FAST = settings(max_examples=60, deadline=None)


@st.composite
def instances(draw: st.DrawFn, max_k: int = 4, max_T: int = 30) -> tuple[np.ndarray, np.ndarray, int]:
    """A random (requests, bits, k) with a small universe, so that faults and evictions are frequent."""
    k = draw(st.integers(1, max_k))
    n_pages = draw(st.integers(1, k + 3))
    T = draw(st.integers(0, max_T))
    req = np.array(draw(st.lists(st.integers(0, n_pages - 1), min_size=T, max_size=T)), dtype=np.int64)
    bits = np.array(draw(st.lists(st.booleans(), min_size=T, max_size=T)), dtype=bool)
    return req, bits, k


# --- FitF, phases and bookkeeping against their definitions


@FAST
@given(instances(max_k=3, max_T=12))
def test_belady_equals_brute_force_opt(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    req, _, k = inst
    assert pg.belady(req, k).faults == exact_opt(req, k)


@FAST
@given(instances())
def test_belady_bits_match_quadratic_fitf(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    req, _, k = inst
    faults, discard = furthest_in_future(req, k)
    res = pg.belady(req, k)
    assert res.faults == faults
    np.testing.assert_array_equal(res.discard, discard)


def test_belady_known_case() -> None:
    # k = 2 on a b c a b: FitF evicts b at c (a is needed first), then faults on b -> 4 faults
    res = pg.belady([0, 1, 2, 0, 1], 2)
    assert res.faults == 4
    np.testing.assert_array_equal(res.discard, [0, 1, 1, 1, 1])


@FAST
@given(instances())
def test_phases_match_definition(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    req, _, k = inst
    ph = pg.k_phases(req, k)
    by_def = phases_by_definition(req, k)
    assert ph.count == len(by_def)
    for i, idx in enumerate(by_def):
        assert (ph.phase_of[idx] == i).all()
        assert ph.pages[i] == frozenset(req[idx].tolist())
    assert all(len(p) <= k for p in ph.pages)
    assert all(len(p) == k for p in ph.pages[:-1])  # every phase but the last is full


@FAST
@given(instances())
def test_next_occurrence(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    req, _, _ = inst
    nxt = pg.next_occurrence(req)
    T = len(req)
    for t in range(T):
        later = [s for s in range(t + 1, T) if req[s] == req[t]]
        assert nxt[t] == (later[0] if later else T)


def test_flip_modes_separate_error_types() -> None:
    truth = np.random.default_rng(0).random(2000) < 0.2
    only_alarms = pg.flip_bits(truth, 0.3, 1, "0to1")
    only_missed = pg.flip_bits(truth, 0.3, 1, "1to0")
    assert (
        pg.prediction_errors(only_alarms, truth)[0] == 0 and pg.prediction_errors(only_alarms, truth)[1] > 0
    )
    assert (
        pg.prediction_errors(only_missed, truth)[1] == 0 and pg.prediction_errors(only_missed, truth)[0] > 0
    )
    np.testing.assert_array_equal(pg.flip_bits(truth, 0.0, 3), truth)
    np.testing.assert_array_equal(pg.flip_bits(truth, 1.0, 3), ~truth)


def test_workload_is_deterministic_and_in_range() -> None:
    a = pg.drifting_zipf(5000, 50, rng=7)
    np.testing.assert_array_equal(a, pg.drifting_zipf(5000, 50, rng=7))
    assert a.min() >= 0 and a.max() < 50
    assert not np.array_equal(a, pg.drifting_zipf(5000, 50, rng=8))


# --- the algorithms' guarantees ---------------------------------------------------------------------------


@FAST
@given(instances(), st.integers(0, 100))
def test_ftp_mark_consistency(inst: tuple[np.ndarray, np.ndarray, int], seed: int) -> None:
    """Perfect discard bits: both FtP-Mark variants pay exactly OPT (Derivation 1)."""
    req, _, k = inst
    opt = pg.belady(req, k)
    assert pg.ftp_mark(req, opt.discard, k) == opt.faults
    assert pg.ftp_mark(req, opt.discard, k, randomized=True, seed=seed) == opt.faults


@settings(max_examples=150, deadline=None)
@given(instances())
def test_ftp_mark_smoothness_bound(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    """Deterministic FtP-Mark: ALG <= OPT + (k-1) eta0 + eta1 on arbitrary bits."""
    req, bits, k = inst
    opt = pg.belady(req, k)
    eta0, eta1 = pg.prediction_errors(bits, opt.discard)
    assert pg.ftp_mark(req, bits, k) <= opt.faults + (k - 1) * eta0 + eta1


@FAST
@given(instances(), st.integers(0, 100))
def test_ftp_rand_without_missed_discards(inst: tuple[np.ndarray, np.ndarray, int], seed: int) -> None:
    """With eta0 = 0 the fallback never fires, so every run of randomized FtP-Mark pays <= OPT + eta1."""
    req, bits, k = inst
    opt = pg.belady(req, k)
    bits = bits | opt.discard  # only false alarms
    eta0, eta1 = pg.prediction_errors(bits, opt.discard)
    assert eta0 == 0
    assert pg.ftp_mark(req, bits, k, randomized=True, seed=seed) <= opt.faults + eta1


@FAST
@given(instances(), st.integers(0, 100))
def test_marking_rules_pay_at_most_k_per_phase(inst: tuple[np.ndarray, np.ndarray, int], seed: int) -> None:
    req, bits, k = inst
    n_phases = pg.k_phases(req, k).count
    for policy in ("marking", "marking_lru", "phase_det", "phase_rand"):
        assert pg.simulate(policy, req, k, bits, seed=seed) <= k * n_phases
    assert pg.lru(req, k) <= k * max(pg.belady(req, k).faults, 1)


@FAST
@given(instances(), st.booleans())
def test_phase_mark_with_perfect_bits_pays_sum_c(
    inst: tuple[np.ndarray, np.ndarray, int], rand: bool
) -> None:
    """Perfect phase bits: PhaseMark pays sum_i c_i <= 2 OPT (Derivation 4a)."""
    req, _, k = inst
    sum_c = int(pg.k_phases(req, k).new_pages.sum())
    assert pg.phase_mark(req, pg.phase_truth(req, k), k, randomized=rand, seed=1) == sum_c
    assert sum_c <= 2 * pg.belady(req, k).faults


def test_phase_gadget_bits_are_identical() -> None:
    """a b c d a and a b c d b have the same phase bits (all 0); exact OPT is impossible with phase bits."""
    for seq in ([0, 1, 2, 3, 0], [0, 1, 2, 3, 1]):
        assert not pg.phase_truth(seq, 2).any()
        assert pg.belady(seq, 2).faults == 4
    assert pg.phase_exact_optimality(2, 4, 5) is False
    assert pg.phase_exact_optimality(2, 3, 6) is True  # positive control: the search can say yes


@FAST
@given(instances(), st.booleans())
def test_combiner_is_consistent_and_follows_ftp(inst: tuple[np.ndarray, np.ndarray, int], rand: bool) -> None:
    req, bits, k = inst
    opt = pg.belady(req, k)
    perfect = pg.combined(req, opt.discard, k, randomized=rand, seed=3)
    assert perfect.switches == 0 and perfect.faults == opt.faults
    res = pg.combined(req, bits, k)
    if res.switches == 0:
        assert res.faults == res.cost_ftp == pg.ftp_mark(req, bits, k)


@settings(max_examples=150, deadline=None)
@given(instances(max_T=60), st.sampled_from([1.1, 2.0, 3.0]))
def test_combiner_robustness_bound(inst: tuple[np.ndarray, np.ndarray, int], factor: float) -> None:
    """ALG <= (lambda^2 / (lambda - 1) + lambda) min(c_F, c_R) + k * switches (the chapter's combiner
    theorem)."""
    req, bits, k = inst
    res = pg.combined(req, bits, k, factor=factor)
    lead = factor**2 / (factor - 1) + factor
    assert res.faults <= lead * min(res.cost_ftp, res.cost_partner) + k * res.switches
    assert res.cost_partner == pg.lru(req, k)


def test_combiner_switches_on_inverted_bits() -> None:
    req = pg.drifting_zipf(4000, 100, rng=0)
    opt = pg.belady(req, 8)
    res = pg.combined(req, ~opt.discard, 8)
    assert res.switches >= 1
    assert res.faults < res.cost_ftp


def test_adversary_numbers_of_the_brief() -> None:
    for k, alg, opt in ((3, 603, 203), (5, 605, 125), (8, 608, 83)):
        req, bits = pg.adversarial_sequence("ftp_det", k, 600, bit=False)
        res = pg.belady(req, k)
        assert pg.ftp_mark(req, bits, k) == alg == len(req)
        assert res.faults == opt
        assert pg.prediction_errors(bits, res.discard) == (opt, 0)


def test_exhaustive_smoothness_and_negative_control() -> None:
    ok = pg.exhaustive_smoothness(2, 3, 7)  # the brief's 279,936 cases
    assert ok.cases == 3**7 * 2**7 == 279_936 and ok.violations == 0 and ok.tight_cases > 0
    bad = pg.exhaustive_smoothness(2, 3, 6, "naive_mru")
    assert bad.violations > 0 and bad.max_excess > 0


def test_tree_enumeration_matches_direct_simulation() -> None:
    k, n, T = 2, 3, 4
    grid = _faults_on_all_inputs(pg.get_rule("ftp_det"), k, n, T)
    seqs = list(itertools.product(range(n), repeat=T))
    bitvecs = list(itertools.product((0, 1), repeat=T))
    for i, s in enumerate(seqs):
        for j, b in enumerate(bitvecs):
            assert grid[i, j] == pg.ftp_mark(np.array(s), np.array(b), k)


# --- batched simulator ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["lru", "marking_lru", "ftp_det", "phase_det", "naive_mru"])
@pytest.mark.parametrize(("k", "n_pages", "T"), [(1, 3, 17), (3, 5, 41), (4, 9, 33)])
def test_batched_matches_plain_for_deterministic_rules(policy: str, k: int, n_pages: int, T: int) -> None:
    rng = np.random.default_rng(k * 100 + T)
    req = rng.integers(0, n_pages, (37, T))
    bits = rng.random((37, T)) < 0.3
    got = pg.simulate_batch(policy, torch.from_numpy(req), k, torch.from_numpy(bits)).numpy()
    want = [pg.simulate(policy, req[i], k, bits[i]) for i in range(37)]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("policy", ["marking", "ftp_rand", "phase_rand"])
def test_batched_randomized_rules_agree_in_distribution(policy: str) -> None:
    rng = np.random.default_rng(5)
    req = rng.integers(0, 6, 60)
    bits = rng.random(60) < 0.3
    mean_batched = pg.expected_faults(policy, req, 4, bits, runs=2000, seed=0)
    plain = np.array([pg.simulate(policy, req, 4, bits, seed=s) for s in range(2000)])
    se = plain.std() / np.sqrt(2000) * np.sqrt(2) + 1e-9
    assert abs(mean_batched - plain.mean()) < 5 * se


def test_randomized_is_deterministic_under_a_seed() -> None:
    req = pg.drifting_zipf(800, 60, rng=1)
    bits = pg.flip_bits(pg.discard_truth(req, 6), 0.2, 0)
    assert pg.ftp_mark(req, bits, 6, True, seed=4) == pg.ftp_mark(req, bits, 6, True, seed=4)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    r = torch.from_numpy(req[None].repeat(3, 0))
    assert torch.equal(
        pg.simulate_batch("marking", r, 6, generator=g1), pg.simulate_batch("marking", r, 6, generator=g2)
    )


def test_noise_sweep_rows() -> None:
    rows = pg.noise_sweep([0], [0.0, 0.2], ("both", "1to0"), T=1500, n_pages=60, k=5)
    assert len(rows) == 4
    perfect = rows[0]
    assert perfect.p == 0.0 and perfect.eta0 == perfect.eta1 == 0
    for a in ("ftp_det", "ftp_rand", "combined_det", "combined_rand"):
        assert perfect.costs[a] == perfect.opt
    assert perfect.costs["phase_det"] == perfect.sum_c
    assert all(r.eta1 == 0 for r in rows if r.mode == "1to0")


# --- bad inputs -------------------------------------------------------------------------------------------


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        pg.lru([0, 1], 0)
    with pytest.raises(TypeError, match="k must be an int"):
        pg.lru([0, 1], 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="k must be an int"):
        pg.lru([0, 1], True)
    with pytest.raises(ValueError, match="requests must hold page ids >= 0"):
        pg.lru([0, -1], 2)
    with pytest.raises(ValueError, match="1-D"):
        pg.belady([[0, 1]], 2)
    with pytest.raises(TypeError, match="integer page ids"):
        pg.belady([0.5, 1.0], 2)
    with pytest.raises(ValueError, match="bits is required"):
        pg.simulate("ftp_det", [0, 1], 2)
    with pytest.raises(ValueError, match="shape"):
        pg.ftp_mark([0, 1, 2], [0, 1], 2)
    with pytest.raises(ValueError, match="0/1"):
        pg.ftp_mark([0, 1], [0, 2], 2)
    with pytest.raises(ValueError, match="policy must be one of"):
        pg.simulate("fifo", [0, 1], 2)
    with pytest.raises(TypeError, match="policy must be"):
        pg.simulate(3, [0, 1], 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="factor must be > 1"):
        pg.combined([0, 1], [0, 0], 2, factor=1.0)
    with pytest.raises(ValueError, match="p must be a probability"):
        pg.flip_bits([0, 1], 1.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        pg.flip_bits([0, 1], 0.5, mode="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="drift"):
        pg.drifting_zipf(10, drift=2.0)
    with pytest.raises(ValueError, match="deterministic"):
        pg.exhaustive_smoothness(2, 3, 3, "marking")
    with pytest.raises(ValueError, match="n_requests"):
        pg.adversarial_sequence("lru", 2, -1)


def test_bad_batched_inputs() -> None:
    req = torch.zeros((2, 3), dtype=torch.long)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        pg.simulate_batch("lru", np.zeros((2, 3), dtype=np.int64), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \[B, T\]"):
        pg.simulate_batch("lru", req[0], 2)
    with pytest.raises(TypeError, match="integer page ids"):
        pg.simulate_batch("lru", req.float(), 2)
    with pytest.raises(ValueError, match="bits is required"):
        pg.simulate_batch("ftp_det", req, 2)
    with pytest.raises(TypeError, match="bool"):
        pg.simulate_batch("ftp_det", req, 2, req)
    with pytest.raises(ValueError, match="page ids >= 0"):
        pg.simulate_batch("lru", req - 1, 2)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_fault_classes_obey_their_charges(inst: tuple[np.ndarray, np.ndarray, int]) -> None:
    """Each class of the smoothness proof stays within its own charge: i <= OPT, ii <= eta1, iii <= (k-1) eta0."""
    req, bits, k = inst
    opt = pg.belady(req, k)
    eta0, eta1 = pg.prediction_errors(bits, opt.discard)
    c = pg.fault_types(req, bits, k)
    assert sum(c.values()) == pg.ftp_mark(req, bits, k)
    assert c["i"] <= opt.faults and c["ii"] <= eta1 and c["iii"] <= (k - 1) * eta0


# --- next-arrival predictions (contrast baseline) ---------------------------------------------------------


@FAST
@given(instances(), st.integers(0, 50))
def test_predictive_marker_with_perfect_predictions(
    inst: tuple[np.ndarray, np.ndarray, int], seed: int
) -> None:
    """Perfect next-arrival times: the Predictive Marker pays sum_i c_i; following them blindly pays OPT."""
    req, _, k = inst
    perfect = pg.next_arrival_predictions(req, 0.0)
    assert pg.predictive_marker(req, perfect, k, seed=seed) == int(pg.k_phases(req, k).new_pages.sum())
    assert pg.follow_predictions(req, perfect, k) == pg.belady(req, k).faults


@FAST
@given(instances(), st.floats(0.0, 5.0), st.integers(0, 50))
def test_predictive_marker_is_a_marking_algorithm(
    inst: tuple[np.ndarray, np.ndarray, int], sigma: float, seed: int
) -> None:
    req, _, k = inst
    noisy = pg.next_arrival_predictions(req, sigma, seed)
    n_phases = pg.k_phases(req, k).count
    for chains in (True, False):
        assert pg.predictive_marker(req, noisy, k, seed=seed, chains=chains) <= k * n_phases


def test_predictive_marker_bad_inputs() -> None:
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        pg.next_arrival_predictions([0, 1], -1.0)
    with pytest.raises(ValueError, match="predicted_next must have shape"):
        pg.predictive_marker([0, 1, 2], [1.0, 2.0], 2)
    with pytest.raises(ValueError, match="NaN"):
        pg.follow_predictions([0, 1], [1.0, float("nan")], 2)


@settings(max_examples=150, deadline=None)
@given(instances(max_T=40))
def test_alive_missed_discard_sees_at_most_k_minus_1_bad_evictions(
    inst: tuple[np.ndarray, np.ndarray, int],
) -> None:
    """The key lemma of the smoothness proof."""
    req, bits, k = inst
    assert pg.witness_charges(req, bits, k) <= k - 1


def test_witness_lemma_is_tight_somewhere() -> None:
    """The lemma's k - 1 is reached (so the check is not vacuous): search small random instances."""
    rng = np.random.default_rng(0)
    best = 0
    for _ in range(3000):
        req = rng.integers(0, 4, 14)
        best = max(best, pg.witness_charges(req, rng.random(14) < 0.3, 3))
    assert best == 2
