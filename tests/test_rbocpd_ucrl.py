"""Tests of the MDP environments, extended value iteration and the UCRL2 family (litlib.rbocpd)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.rbocpd import (
    RBOCPDUCRL2,
    UCRL2,
    OracleRestartUCRL2,
    PiecewiseStationaryMDP,
    ScheduledRestartUCRL2,
    SlidingWindowUCRL2,
    TabularMDP,
    extended_value_iteration,
    flipping_chain,
    optimal_gain,
    optimistic_transitions,
    random_dirichlet_mdp,
    river_swim,
    run_agent,
)
from litlib.rbocpd import reference as ref


def random_mdp(rng: np.random.Generator, S: int, A: int) -> TabularMDP:
    return TabularMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A)))


# ---------------------------------------------------------------- optimistic transitions and EVI


@given(st.integers(2, 6), st.floats(0.0, 2.5), st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_optimistic_transition_solves_the_lp(S: int, radius: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_hat = rng.dirichlet(np.full(S, 0.7))
    u = rng.normal(size=S)
    if seed % 3 == 0:
        u[: S // 2] = u[0]  # ties
    p = optimistic_transitions(p_hat[None], np.array([radius]), u)[0]
    assert np.all(p >= -1e-12) and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.abs(p - p_hat).sum() <= radius + 1e-9
    assert p @ u == pytest.approx(ref.optimistic_value_lp(p_hat, radius, u), abs=1e-7)


def test_optimistic_transitions_vectorised_over_pairs() -> None:
    rng = np.random.default_rng(1)
    p_hat = rng.dirichlet(np.ones(5), size=(3, 2))
    radius = rng.random((3, 2))
    u = rng.normal(size=5)
    batched = optimistic_transitions(p_hat, radius, u)
    for s in range(3):
        for a in range(2):
            single = optimistic_transitions(p_hat[s, a][None], radius[s, a : a + 1], u)[0]
            np.testing.assert_allclose(batched[s, a], single, atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_evi_with_zero_radius_is_value_iteration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, 3, 2)
    res = extended_value_iteration(mdp.transitions, mdp.rewards, np.zeros((3, 2)), 1e-10)
    assert res.converged
    rho = ref.brute_force_optimal_gain(mdp.transitions, mdp.rewards)
    assert res.gain == pytest.approx(rho, abs=1e-8)
    assert ref.policy_gain(mdp.transitions, mdp.rewards, res.policy) == pytest.approx(rho, abs=1e-8)


def test_evi_optimism_is_monotone_in_the_radius() -> None:
    rng = np.random.default_rng(5)
    mdp = random_mdp(rng, 4, 2)
    gains = [
        extended_value_iteration(mdp.transitions, mdp.rewards, np.full((4, 2), r), 1e-9).gain
        for r in (0.0, 0.2, 0.5, 2.0)
    ]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(gains))
    assert gains[-1] == pytest.approx(mdp.rewards.max(), abs=1e-6)  # radius 2 reaches any distribution


@pytest.mark.parametrize("seed", range(4))
def test_optimal_gain_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(10 + seed)
    mdp = random_mdp(rng, 3, 3)
    rho, policy = optimal_gain(mdp)
    assert rho == pytest.approx(ref.brute_force_optimal_gain(mdp.transitions, mdp.rewards), abs=1e-8)
    assert ref.policy_gain(mdp.transitions, mdp.rewards, policy) == pytest.approx(rho, abs=1e-8)


@pytest.mark.parametrize("forward", [0, 1])
def test_flipping_chain_gain_is_16_over_19(forward: int) -> None:
    mdp = flipping_chain(forward)
    rho, policy = optimal_gain(mdp)
    assert rho == pytest.approx(16 / 19, abs=1e-9)
    assert np.all(policy == forward)
    assert ref.brute_force_optimal_gain(mdp.transitions, mdp.rewards) == pytest.approx(16 / 19, abs=1e-9)


def test_river_swim_prefers_swimming_right() -> None:
    mdp = river_swim(6)
    rho, policy = optimal_gain(mdp)
    assert np.all(policy == 1)
    assert rho == pytest.approx(ref.brute_force_optimal_gain(mdp.transitions, mdp.rewards), abs=1e-8)
    assert rho > 0.005  # better than idling in state 0


def test_random_dirichlet_mdp_is_seeded_and_valid() -> None:
    a, b = random_dirichlet_mdp(5, 3, seed=2), random_dirichlet_mdp(5, 3, seed=2)
    assert np.array_equal(a.transitions, b.transitions) and np.array_equal(a.rewards, b.rewards)
    assert a.transitions.shape == (5, 3, 5) and np.allclose(a.transitions.sum(-1), 1.0)
    assert a.rewards.max() >= 0.6 and a.rewards.min() >= 0.0
    with pytest.raises(ValueError, match="concentration"):
        random_dirichlet_mdp(5, 3, seed=0, concentration=0.0)


# ---------------------------------------------------------------- environment


def test_environment_is_seeded_and_switches_segments() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [500])
    traces = []
    for _ in range(2):
        env.reset(seed=3)
        traces.append([env.step(0)[0] for _ in range(1000)])
    assert traces[0] == traces[1]
    # Action 0 is "forward" before the change (the chain climbs) and "jump to 0" after it.
    assert max(traces[0][:500]) == 3
    assert set(traces[0][510:]) == {0}
    assert env.segment_at(499) == 0 and env.segment_at(500) == 1


def test_environment_transition_frequencies() -> None:
    rng = np.random.default_rng(2)
    mdp = random_mdp(rng, 3, 2)
    env = PiecewiseStationaryMDP([mdp], [])
    env.reset(seed=0)
    counts = np.zeros((3, 3))
    for _ in range(6000):
        s = env.state
        s2, _ = env.step(1)
        counts[s, s2] += 1
    freq = counts / counts.sum(axis=1, keepdims=True)
    assert np.abs(freq - mdp.transitions[:, 1]).max() < 0.05


# ---------------------------------------------------------------- agents


class FixedAction(UCRL2):
    def act(self, state: int, t: int) -> int:
        return 1


def test_pseudo_regret_is_gain_minus_mean_reward() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(1), flipping_chain(0)], [300])
    res = run_agent(env, FixedAction(4, 2), 600, seed=0)
    env.reset(seed=0)
    expected, s = 0.0, 0
    for t in range(600):
        expected += env.gains[env.segment_at(t)] - env.mean_reward(t, s, 1)
        s, _ = env.step(1)
    assert res.final_regret == pytest.approx(expected, abs=1e-9)


def test_ucrl2_is_deterministic_and_learns_a_stationary_chain() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0)], [])
    a = run_agent(env, UCRL2(4, 2, conf_scale=0.3), 3000, seed=1)
    b = run_agent(env, UCRL2(4, 2, conf_scale=0.3), 3000, seed=1)
    assert np.array_equal(a.regret, b.regret)
    # Sub-linear: the second half costs much less than the first.
    assert a.regret[-1] - a.regret[1499] < 0.5 * a.regret[1499]


def test_oracle_and_scheduled_restart_times() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [700])
    res = run_agent(env, OracleRestartUCRL2(4, 2, restart_at=[700], conf_scale=0.3), 1000, seed=0)
    assert res.restart_times == [700]
    agent = ScheduledRestartUCRL2(4, 2, n_changes=2, horizon=1000, delta=0.05)
    expected = sorted({math.ceil(i**3 / 4) - 1 for i in range(2, 20) if 2 <= math.ceil(i**3 / 4) <= 1000})
    assert sorted(agent._restart_at) == expected
    assert agent.delta == pytest.approx(0.05 / 4)


def test_sliding_window_counts_are_the_last_w_transitions() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [400])
    agent = SlidingWindowUCRL2(4, 2, window=150, conf_scale=0.3)
    log: list[tuple[int, int, int]] = []
    state = env.reset(seed=2)
    for t in range(900):
        a = agent.act(state, t)
        nxt, r = env.step(a)
        agent.observe(state, a, r, nxt, t)
        log.append((state, a, nxt))
        state = nxt
        if t % 97 == 0 or t == 899:
            trans = np.zeros((4, 2, 4))
            for s, aa, s2 in log[-150:]:
                trans[s, aa, s2] += 1
            np.testing.assert_array_equal(agent._trans, trans)
            np.testing.assert_array_equal(agent._visits, trans.sum(axis=2))


def test_rbocpd_ucrl2_detects_the_flip_quickly() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [2000])
    agent = RBOCPDUCRL2(4, 2, threshold=math.log(4000), conf_scale=0.3)
    res = run_agent(env, agent, 4000, seed=0)
    assert res.restart_times, "no restart"
    assert 2000 < res.restart_times[0] <= 2050
    oracle = run_agent(env, OracleRestartUCRL2(4, 2, restart_at=[2000], conf_scale=0.3), 4000, seed=0)
    plain = run_agent(env, UCRL2(4, 2, conf_scale=0.3), 4000, seed=0)
    assert res.final_regret < plain.final_regret
    assert res.final_regret < 2.0 * oracle.final_regret


def test_pair_scope_restart_only_clears_the_alarmed_pair() -> None:
    env = PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [1500])
    agent = RBOCPDUCRL2(4, 2, threshold=math.log(3000), conf_scale=0.3, restart_scope="pair")
    run_agent(env, agent, 3000, seed=0)
    assert agent.alarms and agent.restart_times == []


# ---------------------------------------------------------------- bad inputs


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="transitions"):
        TabularMDP(np.ones((2, 1, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="rewards"):
        TabularMDP(np.full((2, 1, 2), 0.5), np.full((2, 1), 2.0))
    with pytest.raises(ValueError, match="forward_action"):
        flipping_chain(2)
    with pytest.raises(ValueError, match="change_points"):
        PiecewiseStationaryMDP([flipping_chain(0), flipping_chain(1)], [5, 9])
    with pytest.raises(TypeError, match="mdps"):
        PiecewiseStationaryMDP([np.eye(2)], [])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="delta"):
        UCRL2(4, 2, delta=1.0)
    with pytest.raises(ValueError, match="conf_scale"):
        UCRL2(4, 2, conf_scale=0.0)
    with pytest.raises(ValueError, match="restart_scope"):
        RBOCPDUCRL2(4, 2, threshold=3.0, restart_scope="local")
    with pytest.raises(ValueError, match="threshold"):
        RBOCPDUCRL2(4, 2)
    with pytest.raises(ValueError, match="window"):
        SlidingWindowUCRL2(4, 2, window=0)
    env = PiecewiseStationaryMDP([flipping_chain(0)], [])
    with pytest.raises(ValueError, match="disagree"):
        run_agent(env, UCRL2(3, 2), 10, seed=0)
    with pytest.raises(TypeError, match="agent"):
        run_agent(env, object(), 10, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="action"):
        env.step(5)
    with pytest.raises(ValueError, match="accuracy"):
        extended_value_iteration(np.full((2, 1, 2), 0.5), np.zeros((2, 1)), np.zeros((2, 1)), 0.0)
