"""UCRL2 with extended value iteration, its restarted and sliding-window variants, and R-BOCPD-UCRL2.

All agents share one interface: ``act(state, t) -> action`` and ``observe(state, action, reward, next_state, t)``;
:func:`run_agent` plays one of them against a :class:`~litlib.rbocpd.mdp.PiecewiseStationaryMDP` and records the
pseudo-regret against the active segment's optimal gain.

* :class:`UCRL2`: Jaksch, Ortner & Auer (2010); ``conf_scale`` multiplies both confidence radii (1 = faithful).
* :class:`OracleRestartUCRL2`: restarts at given times (the true change points).
* :class:`ScheduledRestartUCRL2`: restarts at ``ceil(i^3 / l^2)`` with confidence ``delta / l^2`` (Jaksch et al.,
  Sec. 6), ``l`` the known number of changes.
* :class:`SlidingWindowUCRL2`: statistics over the last ``W`` steps only (Gajane, Ortner & Auer 2018).
* :class:`RBOCPDUCRL2`: one multinomial :class:`~litlib.rbocpd.detector.RBOCPD` per state-action pair on the next
  states; an alarm restarts UCRL2 (globally by default, the reading consistent with the regret bound; the
  restart scope is our reconstruction).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from litlib.rbocpd._checks import check_int, check_positive
from litlib.rbocpd.detector import RBOCPD
from litlib.rbocpd.mdp import PiecewiseStationaryMDP


def optimistic_transitions(p_hat: np.ndarray, radius: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The EVI inner maximiser ``argmax {p.u : p in simplex, ||p - p_hat||_1 <= radius}`` for all pairs at once.

    Put ``min(1, p_hat(s_1) + radius/2)`` on the best state ``s_1`` (largest ``u``) and remove the excess mass from
    the worst states first. Vectorised over the leading axes of ``p_hat`` (e.g. ``[S, A, S]``).

    Args:
        p_hat: empirical distributions, shape ``[..., S]``, each summing to 1.
        radius: L1 radii, shape ``[...]``.
        u: values, shape ``[S]``.
    """
    order = np.argsort(-u, kind="stable")
    ps = p_hat[..., order]
    best = np.minimum(1.0, ps[..., 0] + 0.5 * radius)
    rest = ps[..., 1:]
    excess = best + rest.sum(axis=-1) - 1.0
    # Mass strictly worse than each position: removal starts at the worst state.
    worse = np.cumsum(rest[..., ::-1], axis=-1)[..., ::-1] - rest
    removed = np.clip(excess[..., None] - worse, 0.0, rest)
    out = np.empty_like(ps)
    out[..., order] = np.concatenate([best[..., None], rest - removed], axis=-1)
    return out


@dataclass
class EVIResult:
    """Output of :func:`extended_value_iteration`.

    Attributes:
        policy: greedy optimistic policy ``[S]``.
        values: last value vector, shifted so that its minimum is 0.
        gain: optimistic gain estimate, the midpoint of ``u_{i+1} - u_i``.
        iterations: iterations run.
        converged: whether the span criterion was met.
    """

    policy: np.ndarray
    values: np.ndarray
    gain: float
    iterations: int
    converged: bool


def extended_value_iteration(
    p_hat: np.ndarray,
    r_tilde: np.ndarray,
    p_radius: np.ndarray,
    accuracy: float,
    *,
    max_iter: int = 1000,
) -> EVIResult:
    """Extended value iteration: ``u_{i+1}(s) = max_a {r~(s,a) + max_{p in P(s,a)} p.u_i}``.

    Stops when ``span(u_{i+1} - u_i) < accuracy`` (or after ``max_iter`` iterations, reported as not converged);
    the returned policy is greedy in the last iteration.

    Args:
        p_hat: empirical transitions ``[S, A, S]``.
        r_tilde: optimistic rewards ``[S, A]``.
        p_radius: L1 radii of the transition confidence sets ``[S, A]``.
        accuracy: stopping threshold on the span, > 0.
        max_iter: iteration cap.
    """
    check_positive("accuracy", accuracy)
    u = np.zeros(p_hat.shape[0])
    q, diff = r_tilde.copy(), np.zeros(p_hat.shape[0])
    for i in range(1, check_int("max_iter", max_iter, minimum=1) + 1):
        p = optimistic_transitions(p_hat, p_radius, u)
        q = r_tilde + p @ u
        new = q.max(axis=1)
        diff = new - u
        u = new - new.min()  # values only matter up to a constant; keeps them bounded
        if diff.max() - diff.min() < accuracy:
            return EVIResult(q.argmax(axis=1), u, 0.5 * float(diff.max() + diff.min()), i, True)
    return EVIResult(q.argmax(axis=1), u, 0.5 * float(diff.max() + diff.min()), max_iter, False)


class UCRL2:
    """UCRL2 for average-reward MDPs, with an explicit :meth:`restart` hook for the non-stationary variants.

    Args:
        n_states: number of states ``O``.
        n_actions: number of actions ``A``.
        delta: confidence parameter in ``(0, 1)``.
        conf_scale: multiplies both confidence radii (1.0 = faithful; smaller = less exploration).
        evi_max_iter: cap on extended value iteration per episode.
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        delta: float = 0.05,
        conf_scale: float = 1.0,
        evi_max_iter: int = 1000,
    ) -> None:
        self.n_states = check_int("n_states", n_states, minimum=1)
        self.n_actions = check_int("n_actions", n_actions, minimum=1)
        self.delta = check_positive("delta", delta, upper=1.0)
        self.conf_scale = check_positive("conf_scale", conf_scale)
        self.evi_max_iter = check_int("evi_max_iter", evi_max_iter, minimum=1)
        self.restart_times: list[int] = []
        self.n_episodes = 0
        self.evi_unconverged = 0
        self._restart_t = 0
        self._clear()

    def _clear(self) -> None:
        S, A = self.n_states, self.n_actions
        self._visits = np.zeros((S, A))  # visits used for the estimates (since the last restart)
        self._reward_sum = np.zeros((S, A))
        self._trans = np.zeros((S, A, S))
        self._episode_visits = np.zeros((S, A))
        self._episode_start_visits = np.zeros((S, A))
        self._policy = np.zeros(S, dtype=np.int64)
        self._need_episode = True

    def restart(self, t: int) -> None:
        """Forget every statistic and start a fresh episode at step ``t``."""
        self.restart_times.append(t)
        self._restart_t = t
        self._clear()

    def _confidence_delta(self) -> float:
        return self.delta

    def _start_episode(self, t: int) -> None:
        S, A = self.n_states, self.n_actions
        tk = t + 1  # global time inside the log terms (conservative after restarts)
        n = np.maximum(1.0, self._visits)
        d = self._confidence_delta()
        r_hat = self._reward_sum / n
        p_hat = np.where(self._visits[..., None] > 0, self._trans / n[..., None], 1.0 / S)
        r_rad = self.conf_scale * np.sqrt(7.0 * math.log(2 * S * A * tk / d) / (2.0 * n))
        p_rad = self.conf_scale * np.sqrt(14.0 * S * math.log(2 * A * tk / d) / n)
        accuracy = 1.0 / math.sqrt(max(1, t + 1 - self._restart_t))
        res = extended_value_iteration(
            p_hat, np.minimum(1.0, r_hat + r_rad), p_rad, accuracy, max_iter=self.evi_max_iter
        )
        self.evi_unconverged += not res.converged
        self._policy = res.policy
        self._episode_start_visits = self._visits.copy()
        self._episode_visits[:] = 0.0
        self._need_episode = False
        self.n_episodes += 1

    def act(self, state: int, t: int) -> int:
        """The action at step ``t``: start a new episode first when the current pair's count has doubled."""
        if not self._need_episode:
            a = self._policy[state]
            if self._episode_visits[state, a] >= max(1.0, self._episode_start_visits[state, a]):
                self._need_episode = True
        if self._need_episode:
            self._start_episode(t)
        return int(self._policy[state])

    def observe(self, state: int, action: int, reward: float, next_state: int, t: int) -> None:
        """Record the transition ``(state, action) -> next_state`` with ``reward`` at step ``t``."""
        self._visits[state, action] += 1.0
        self._episode_visits[state, action] += 1.0
        self._reward_sum[state, action] += reward
        self._trans[state, action, next_state] += 1.0


class OracleRestartUCRL2(UCRL2):
    """UCRL2 restarted at known times (the true change points): the target R-BOCPD-UCRL2 should approach.

    Args:
        restart_at: the steps at which to restart.
        **kwargs: as for :class:`UCRL2`.
    """

    def __init__(self, n_states: int, n_actions: int, *, restart_at: Sequence[int], **kwargs: float) -> None:
        super().__init__(n_states, n_actions, **kwargs)  # type: ignore[arg-type]
        self._restart_at = {check_int("restart_at[i]", t, minimum=1) for t in restart_at}

    def act(self, state: int, t: int) -> int:
        """As :meth:`UCRL2.act`, restarting first at the scheduled times."""
        if t in self._restart_at:
            self.restart(t)
        return super().act(state, t)


class ScheduledRestartUCRL2(OracleRestartUCRL2):
    """UCRL2 restarted at ``ceil(i^3 / l^2)`` (1-based times) with confidence ``delta / l^2``, ``l`` changes known.

    Args:
        n_changes: the number of changes ``l >= 1`` (known in advance).
        horizon: last step to schedule.
        **kwargs: as for :class:`UCRL2` (``delta`` is the overall confidence).
    """

    def __init__(
        self, n_states: int, n_actions: int, *, n_changes: int, horizon: int, **kwargs: float
    ) -> None:
        ell = check_int("n_changes", n_changes, minimum=1)
        T = check_int("horizon", horizon, minimum=1)
        times, i = set(), 2
        while (tau := math.ceil(i**3 / ell**2)) <= T:
            if tau >= 2:
                times.add(tau - 1)  # 1-based time tau is the 0-based step tau - 1
            i += 1
        super().__init__(n_states, n_actions, restart_at=sorted(times), **kwargs)
        self.delta = self.delta / ell**2


class SlidingWindowUCRL2(UCRL2):
    """UCRL2 whose estimates use only the last ``window`` transitions (SW-UCRL).

    Args:
        window: window length ``W >= 1``.
        **kwargs: as for :class:`UCRL2`.
    """

    def __init__(self, n_states: int, n_actions: int, *, window: int, **kwargs: float) -> None:
        super().__init__(n_states, n_actions, **kwargs)  # type: ignore[arg-type]
        self.window = check_int("window", window, minimum=1)
        self._history = np.zeros((self.window, 3), dtype=np.int64)
        self._history_r = np.zeros(self.window)
        self._seen = 0

    def observe(self, state: int, action: int, reward: float, next_state: int, t: int) -> None:
        """Record the transition and drop the one that left the window."""
        slot = self._seen % self.window
        if self._seen >= self.window:
            s, a, s2 = self._history[slot]
            self._visits[s, a] -= 1.0
            self._reward_sum[s, a] -= self._history_r[slot]
            self._trans[s, a, s2] -= 1.0
        self._history[slot] = (state, action, next_state)
        self._history_r[slot] = reward
        self._seen += 1
        super().observe(state, action, reward, next_state, t)


class RBOCPDUCRL2(UCRL2):
    """UCRL2 driven by one multinomial R-BOCPD detector per state-action pair on the next states.

    ``delta`` is split in half: UCRL2 gets ``delta / 2``; with ``detector_delta=True`` each of the ``O A``
    detectors uses the theory threshold with ``delta / (2 O A)``, otherwise the constant ``threshold`` (e.g.
    ``log T``). An alarm restarts everything (``restart_scope="global"``) or only the alarmed pair (``"pair"``,
    an ablation).

    Args:
        threshold: constant detector threshold ``beta`` (ignored with ``detector_delta=True``).
        detector_delta: use the theory threshold instead.
        restart_scope: ``"global"`` or ``"pair"``.
        **kwargs: as for :class:`UCRL2`.
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        threshold: float | None = None,
        detector_delta: bool = False,
        restart_scope: str = "global",
        **kwargs: float,
    ) -> None:
        super().__init__(n_states, n_actions, **kwargs)  # type: ignore[arg-type]
        if restart_scope not in ("global", "pair"):
            raise ValueError(f"restart_scope must be 'global' or 'pair'; got {restart_scope!r}")
        if not detector_delta and threshold is None:
            raise ValueError("give threshold (e.g. log T) or set detector_delta=True")
        self.restart_scope = restart_scope
        self.alarms: list[tuple[int, int, int]] = []  # (t, state, action)
        if detector_delta:
            d = self.delta / (2 * self.n_states * self.n_actions)
            self._make = lambda: RBOCPD(self.n_states, delta=d)
        else:
            beta = check_positive("threshold", threshold)
            self._make = lambda: RBOCPD(self.n_states, threshold=beta)
        self._detectors = [[self._make() for _ in range(self.n_actions)] for _ in range(self.n_states)]

    def _confidence_delta(self) -> float:
        return self.delta / 2

    def observe(self, state: int, action: int, reward: float, next_state: int, t: int) -> None:
        """Record the transition, feed the pair's detector and restart on an alarm."""
        super().observe(state, action, reward, next_state, t)
        if self._detectors[state][action].update(next_state):
            self.alarms.append((t, state, action))
            if self.restart_scope == "global":
                self.restart(t + 1)
                self._detectors = [
                    [self._make() for _ in range(self.n_actions)] for _ in range(self.n_states)
                ]
            else:
                self._visits[state, action] = 0.0
                self._reward_sum[state, action] = 0.0
                self._trans[state, action] = 0.0
                self._need_episode = True


@dataclass
class RunResult:
    """One run of an agent.

    Attributes:
        regret: cumulative pseudo-regret after each step, ``[T]``.
        restart_times: steps at which the agent restarted.
        n_episodes: UCRL2 episodes started.
        seconds: wall time of the run.
        states: visited states ``s_t``, ``[T]``.
        actions: played actions ``a_t``, ``[T]``.
        alarms: ``(t, state, action)`` of each detector alarm (R-BOCPD-UCRL2 only).
    """

    regret: np.ndarray
    restart_times: list[int]
    n_episodes: int
    seconds: float
    states: np.ndarray
    actions: np.ndarray
    alarms: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def final_regret(self) -> float:
        """Cumulative pseudo-regret at the horizon."""
        return float(self.regret[-1])


def run_agent(env: PiecewiseStationaryMDP, agent: UCRL2, horizon: int, *, seed: int) -> RunResult:
    """Play ``agent`` for ``horizon`` steps; pseudo-regret ``sum_t rho*_{l(t)} - rbar_{l(t)}(s_t, a_t)``.

    Args:
        env: the environment (reset here with ``seed``).
        agent: a fresh agent (any :class:`UCRL2` subclass).
        horizon: number of steps ``T >= 1``.
        seed: the environment's random seed.
    """
    if not isinstance(agent, UCRL2):
        raise TypeError(f"agent must be a UCRL2 (or subclass); got {type(agent).__name__}")
    if (agent.n_states, agent.n_actions) != (env.n_states, env.n_actions):
        raise ValueError("agent and env disagree on the numbers of states and actions")
    T = check_int("horizon", horizon, minimum=1)
    start = time.perf_counter()
    state = env.reset(seed)
    seg_of_t = np.searchsorted(np.asarray(env.change_points, dtype=np.int64), np.arange(T), side="right")
    mean_r = np.stack([m.rewards for m in env.mdps])  # [L, S, A]
    loss = np.empty(T)
    states = np.empty(T, dtype=np.int64)
    actions = np.empty(T, dtype=np.int64)
    for t in range(T):
        a = agent.act(state, t)
        states[t], actions[t] = state, a
        nxt, r = env.step(a)
        agent.observe(state, a, r, nxt, t)
        seg = seg_of_t[t]
        loss[t] = env.gains[seg] - mean_r[seg, state, a]
        state = nxt
    return RunResult(
        regret=np.cumsum(loss),
        restart_times=list(agent.restart_times),
        n_episodes=agent.n_episodes,
        seconds=time.perf_counter() - start,
        states=states,
        actions=actions,
        alarms=list(getattr(agent, "alarms", [])),
    )
