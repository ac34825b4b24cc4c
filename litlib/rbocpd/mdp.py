"""Tabular MDPs, piecewise-stationary environments with a ``reset``/``step`` interface, and optimal gains."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from litlib.rbocpd._checks import check_distribution, check_int, check_positive


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP: ``transitions[s, a, s']`` and mean rewards ``rewards[s, a]`` in ``[0, 1]``.

    Raises:
        ValueError: if the shapes disagree, a transition row is not a distribution, or a reward is outside [0, 1].
    """

    transitions: np.ndarray
    rewards: np.ndarray

    def __post_init__(self) -> None:
        P = check_distribution("transitions", self.transitions)
        R = np.asarray(self.rewards, dtype=np.float64)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"transitions must have shape [S, A, S]; got {P.shape}")
        if R.shape != P.shape[:2]:
            raise ValueError(f"rewards must have shape {P.shape[:2]} (states, actions); got {R.shape}")
        if not np.all(np.isfinite(R)) or R.min() < 0 or R.max() > 1:
            raise ValueError("rewards must lie in [0, 1]")
        object.__setattr__(self, "transitions", P)
        object.__setattr__(self, "rewards", R)

    @property
    def n_states(self) -> int:
        """Number of states ``O``."""
        return int(self.transitions.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return int(self.transitions.shape[1])


def flipping_chain(forward_action: int, *, p_forward: float = 0.8, p_stay_top: float = 0.95) -> TabularMDP:
    """The chapter's 4-state, 2-action chain whose "forward" action is ``forward_action``.

    The forward action moves from ``s < 3`` to ``s + 1`` with probability ``p_forward`` (else stays) and, in state
    3, stays with probability ``p_stay_top`` (else jumps to 0); the other action jumps to 0. Reward 1 in state 3.
    With the defaults the optimal gain is ``16/19`` in both regimes.
    """
    if forward_action not in (0, 1):
        raise ValueError(f"forward_action must be 0 or 1; got {forward_action!r}")
    check_positive("p_forward", p_forward, upper=1.0, inclusive_upper=True)
    check_positive("p_stay_top", p_stay_top, upper=1.0)
    S, A = 4, 2
    P = np.zeros((S, A, S))
    P[:, 1 - forward_action, 0] = 1.0
    for s in range(3):
        P[s, forward_action, s + 1] = p_forward
        P[s, forward_action, s] += 1.0 - p_forward
    P[3, forward_action, 3] = p_stay_top
    P[3, forward_action, 0] = 1.0 - p_stay_top
    R = np.zeros((S, A))
    R[3, :] = 1.0
    return TabularMDP(P, R)


def optimal_gain(mdp: TabularMDP, *, tol: float = 1e-12, max_iter: int = 100_000) -> tuple[float, np.ndarray]:
    """Optimal average reward ``rho*`` and a greedy optimal policy, by relative value iteration.

    The aperiodicity transform ``P' = (P + I) / 2`` keeps the gain and the optimal policies but guarantees that
    the span of successive differences converges (Puterman, Sec. 8.5).

    Returns:
        ``(rho_star, policy)``.

    Raises:
        RuntimeError: if the span criterion is not met within ``max_iter`` iterations (e.g. a multichain MDP).
    """
    P = 0.5 * (mdp.transitions + np.eye(mdp.n_states)[:, None, :])
    u = np.zeros(mdp.n_states)
    for _ in range(check_int("max_iter", max_iter, minimum=1)):
        q = mdp.rewards + P @ u
        new = q.max(axis=1)
        diff = new - u
        u = new - new.min()
        if diff.max() - diff.min() < tol:
            return float(0.5 * (diff.max() + diff.min())), q.argmax(axis=1)
    raise RuntimeError(f"relative value iteration did not converge in {max_iter} iterations")


class PiecewiseStationaryMDP:
    """An environment that plays ``mdps[l]`` on the segment ``[starts[l], starts[l+1])``.

    Rewards are Bernoulli with the active MDP's mean. ``reset(seed)`` returns the initial state (0) and
    ``step(action)`` returns ``(next_state, reward)``; ``time`` counts steps since the reset.

    Args:
        mdps: the segment MDPs (same numbers of states and actions).
        change_points: the times ``c_1 < c_2 < ...`` (0-based step indices, > 0) at which segments 2, 3, ... start;
            ``len(change_points) == len(mdps) - 1``.
    """

    def __init__(self, mdps: Sequence[TabularMDP], change_points: Sequence[int]) -> None:
        if not mdps or not all(isinstance(m, TabularMDP) for m in mdps):
            raise TypeError("mdps must be a non-empty sequence of TabularMDP")
        shapes = {m.transitions.shape for m in mdps}
        if len(shapes) != 1:
            raise ValueError(f"all mdps must share (states, actions); got shapes {sorted(shapes)}")
        cps = [check_int("change_points[i]", c, minimum=1) for c in change_points]
        if len(cps) != len(mdps) - 1 or any(b <= a for a, b in itertools.pairwise(cps)):
            raise ValueError(
                f"change_points must be {len(mdps) - 1} increasing positive times; got {list(change_points)}"
            )
        self.mdps = list(mdps)
        self.change_points = cps
        self.n_states, self.n_actions = self.mdps[0].n_states, self.mdps[0].n_actions
        self._cum = [np.cumsum(m.transitions, axis=2) for m in self.mdps]
        self.gains = np.array([optimal_gain(m)[0] for m in self.mdps])
        self._rng = np.random.default_rng(0)
        self.time = 0
        self.state = 0

    def segment_at(self, t: int) -> int:
        """Index of the segment active at step ``t``."""
        return int(np.searchsorted(self.change_points, t, side="right"))

    def reset(self, seed: int | None = None) -> int:
        """Restart the clock and the random stream; return the initial state 0."""
        self._rng = np.random.default_rng(seed)
        self.time = 0
        self.state = 0
        self._segment = 0
        return self.state

    def step(self, action: int) -> tuple[int, float]:
        """Play ``action`` in the current state; return ``(next_state, reward)``."""
        if not 0 <= action < self.n_actions:
            raise ValueError(f"action must be in [0, {self.n_actions}); got {action!r}")
        while self._segment < len(self.change_points) and self.time >= self.change_points[self._segment]:
            self._segment += 1
        m = self.mdps[self._segment]
        u = self._rng.random(2)
        reward = float(u[0] < m.rewards[self.state, action])
        nxt = int(np.searchsorted(self._cum[self._segment][self.state, action], u[1], side="right"))
        self.state = min(nxt, self.n_states - 1)
        self.time += 1
        return self.state, reward

    def mean_reward(self, t: int, state: int, action: int) -> float:
        """Mean reward of ``(state, action)`` at step ``t`` (for pseudo-regret)."""
        return float(self.mdps[self.segment_at(t)].rewards[state, action])


def random_dirichlet_mdp(
    n_states: int, n_actions: int, *, seed: int, concentration: float = 0.3, good_reward: float = 0.6
) -> TabularMDP:
    """A random MDP: rows ``theta(.|s,a) ~ Dirichlet(concentration)``, small rewards and one rewarding state.

    Rewards are ``U(0, 0.2)`` except in one state, drawn uniformly, where every action pays
    ``U(good_reward, 1)``; a small ``concentration`` makes sparse, clearly different kernels.

    Args:
        n_states: number of states ``O >= 2``.
        n_actions: number of actions ``A >= 1``.
        seed: random seed.
        concentration: Dirichlet parameter of every transition row, > 0.
        good_reward: lower end of the rewarding state's rewards, in ``(0, 1]``.
    """
    S = check_int("n_states", n_states, minimum=2)
    A = check_int("n_actions", n_actions, minimum=1)
    conc = check_positive("concentration", concentration)
    low = check_positive("good_reward", good_reward, upper=1.0, inclusive_upper=True)
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, conc), size=(S, A))
    R = 0.2 * rng.random((S, A))
    R[rng.integers(S), :] = rng.uniform(low, 1.0)
    return TabularMDP(P, R)


def river_swim(n_states: int = 6) -> TabularMDP:
    """RiverSwim: a chain where swimming right (action 1) against the current eventually pays 1 at the far end.

    Action 0 moves left deterministically and pays 0.005 in state 0. Action 1 moves right with probability 0.35,
    stays with 0.6 and drifts left with 0.05 inside the chain (0.6 right / 0.4 stay in state 0, 0.6 stay / 0.4 left
    in the last state, where it pays 1).
    """
    n = check_int("n_states", n_states, minimum=2)
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        if s == 0:
            P[s, 1, 0], P[s, 1, 1] = 0.4, 0.6
        elif s == n - 1:
            P[s, 1, s], P[s, 1, s - 1] = 0.6, 0.4
        else:
            P[s, 1, s + 1], P[s, 1, s], P[s, 1, s - 1] = 0.35, 0.6, 0.05
    R[0, 0] = 0.005
    R[n - 1, 1] = 1.0
    return TabularMDP(P, R)
