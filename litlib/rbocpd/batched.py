"""A batched PyTorch simulator: many seeds of UCRL2, oracle-restart UCRL2 or R-BOCPD-UCRL2 in lock-step.

One Python loop over time drives ``B`` independent runs held as tensors: UCRL2 statistics ``[B, S, A(, S)]``,
the per-pair detectors ``[B*S*A, O, capacity]`` and a batched extended value iteration for the runs that start an
episode. The environment consumes, for seed ``b``, the same uniforms as
:class:`~litlib.rbocpd.mdp.PiecewiseStationaryMDP` reset with that seed, so a batched run retraces the NumPy
agents of :mod:`litlib.rbocpd.ucrl` step for step (up to floating-point ties); the tests check this.

Per step the cost is a few dozen tensor operations whatever ``B`` is, so throughput grows with the batch until the
``O(B * n)`` detector updates dominate: the throughput story of the chapter's ``gpu`` scale.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from litlib.rbocpd._checks import check_int, check_positive
from litlib.rbocpd.mdp import PiecewiseStationaryMDP

METHODS = ("ucrl2", "oracle", "scheduled", "sw", "rbocpd")


@dataclass
class BatchResult:
    """Runs of one method for several seeds.

    Attributes:
        regret: cumulative pseudo-regret ``[B, T]`` (NumPy).
        restart_times: per seed, the steps at which the agent restarted.
        seconds: wall time of the whole batch.
    """

    regret: np.ndarray
    restart_times: list[list[int]]
    seconds: float

    @property
    def final_regret(self) -> np.ndarray:
        """Final regret of every seed, ``[B]``."""
        return self.regret[:, -1]


def _optimistic_batch(p_hat: torch.Tensor, radius: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Batched EVI inner maximiser: ``p_hat [K, S, A, S]``, ``radius [K, S, A]``, ``u [K, S]``."""
    K, S, A, _ = p_hat.shape
    order = torch.argsort(-u, dim=-1, stable=True)  # [K, S]
    idx = order[:, None, None, :].expand(K, S, A, S)
    ps = torch.gather(p_hat, -1, idx)
    best = torch.clamp(ps[..., 0] + 0.5 * radius, max=1.0)
    rest = ps[..., 1:]
    excess = best + rest.sum(-1) - 1.0
    worse = torch.flip(torch.cumsum(torch.flip(rest, [-1]), -1), [-1]) - rest
    removed = torch.minimum(torch.clamp(excess[..., None] - worse, min=0.0), rest)
    sorted_p = torch.cat([best[..., None], rest - removed], dim=-1)
    return torch.empty_like(ps).scatter_(-1, idx, sorted_p)


def batched_extended_value_iteration(
    p_hat: torch.Tensor, r_tilde: torch.Tensor, p_radius: torch.Tensor, accuracy: torch.Tensor, max_iter: int
) -> torch.Tensor:
    """Extended value iteration for ``K`` problems at once; each stops at its own span criterion.

    Args:
        p_hat: ``[K, S, A, S]``; r_tilde, p_radius: ``[K, S, A]``; accuracy: ``[K]``.
        max_iter: iteration cap (problems still running then keep their last greedy policy).

    Returns:
        the greedy optimistic policies ``[K, S]``.
    """
    K, S = p_hat.shape[:2]
    u = torch.zeros(K, S, dtype=p_hat.dtype, device=p_hat.device)
    policy = torch.zeros(K, S, dtype=torch.long, device=p_hat.device)
    active = torch.ones(K, dtype=torch.bool, device=p_hat.device)
    for _ in range(max_iter):
        p = _optimistic_batch(p_hat, p_radius, u)
        q = r_tilde + torch.einsum("ksaj,kj->ksa", p, u)
        new = q.amax(-1)
        diff = new - u
        done = (diff.amax(-1) - diff.amin(-1)) < accuracy
        policy = torch.where(active[:, None], q.argmax(-1), policy)
        u = torch.where(active[:, None], new - new.amin(-1, keepdim=True), u)
        active = active & ~done
        if not bool(active.any()):
            break
    return policy


@dataclass(frozen=True)
class _Plan:
    """What distinguishes the methods inside the shared loop."""

    method: str
    restart_at: frozenset[int]  # scheduled global restarts (oracle and scheduled methods)
    ucrl_delta: float  # confidence of the UCRL2 radii
    window: int  # sliding window (0: none)
    beta: float  # constant detector threshold (rbocpd)
    detector_delta: float  # theory-threshold delta per detector (0: constant threshold)


def _scheduled_times(n_changes: int, horizon: int) -> frozenset[int]:
    times, i = set(), 2
    while (tau := math.ceil(i**3 / n_changes**2)) <= horizon:
        if tau >= 2:
            times.add(tau - 1)
        i += 1
    return frozenset(times)


def simulate_batch(
    env: PiecewiseStationaryMDP,
    horizon: int,
    seeds: Sequence[int],
    *,
    method: str = "rbocpd",
    threshold: float | None = None,
    detector_delta: bool = False,
    window: int | None = None,
    n_changes: int | None = None,
    delta: float = 0.05,
    conf_scale: float = 1.0,
    evi_max_iter: int = 1000,
    device: str | torch.device | None = None,
    chunk: int = 4096,
) -> BatchResult:
    """Run ``method`` on ``env`` for every seed in ``seeds`` at once.

    Each method mirrors a NumPy agent of :mod:`litlib.rbocpd.ucrl` with the same arguments: ``"ucrl2"``
    (:class:`~litlib.rbocpd.ucrl.UCRL2`), ``"oracle"`` (restarts at ``env.change_points``), ``"scheduled"``
    (:class:`~litlib.rbocpd.ucrl.ScheduledRestartUCRL2`, needs ``n_changes``), ``"sw"``
    (:class:`~litlib.rbocpd.ucrl.SlidingWindowUCRL2`, needs ``window``) and ``"rbocpd"``
    (:class:`~litlib.rbocpd.ucrl.RBOCPDUCRL2` with global restarts, needs ``threshold`` or ``detector_delta``).

    Args:
        env: the piecewise-stationary MDP.
        horizon: number of steps ``T``.
        seeds: one environment seed per run (the same seed gives the same run as
            :func:`~litlib.rbocpd.ucrl.run_agent`).
        method: one of ``"ucrl2"``, ``"oracle"``, ``"scheduled"``, ``"sw"``, ``"rbocpd"``.
        threshold: constant detector threshold ``beta`` (e.g. ``log T``) for ``"rbocpd"``.
        detector_delta: use the theory threshold with ``delta / (2 O A)`` per detector instead.
        window: window length for ``"sw"``.
        n_changes: known number of changes for ``"scheduled"``.
        delta: overall confidence parameter.
        conf_scale: multiplies both confidence radii.
        evi_max_iter: cap on extended value iteration.
        device: torch device (default CPU).
        chunk: how many steps of uniforms to draw at a time.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not isinstance(env, PiecewiseStationaryMDP):
        raise TypeError(f"env must be a PiecewiseStationaryMDP; got {type(env).__name__}")
    T = check_int("horizon", horizon, minimum=1)
    seed_list = [check_int("seeds[i]", s, minimum=0) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must hold at least one seed")
    d = check_positive("delta", delta, upper=1.0)
    cs = check_positive("conf_scale", conf_scale)
    restart_at: frozenset[int] = frozenset()
    ucrl_delta, win, beta, det_delta = d, 0, 0.0, 0.0
    if method == "oracle":
        restart_at = frozenset(env.change_points)
    elif method == "scheduled":
        ell = check_int("n_changes", n_changes, minimum=1)
        restart_at, ucrl_delta = _scheduled_times(ell, T), d / ell**2
    elif method == "sw":
        win = check_int("window", window, minimum=1)
    elif method == "rbocpd":
        ucrl_delta = d / 2
        if detector_delta:
            det_delta = d / (2 * env.n_states * env.n_actions)
        else:
            beta = check_positive("threshold", threshold)
    plan = _Plan(method, restart_at, ucrl_delta, win, beta, det_delta)
    dev = torch.device(device) if device is not None else torch.device("cpu")

    # The per-step tensors are tiny: on CPU, intra-op threads only add synchronisation (and stall badly on a
    # loaded machine), so run single-threaded and restore the caller's setting afterwards.
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    try:
        return _simulate(env, T, seed_list, plan, cs, evi_max_iter, dev, check_int("chunk", chunk, minimum=1))
    finally:
        torch.set_num_threads(threads)


def _simulate(
    env: PiecewiseStationaryMDP,
    T: int,
    seed_list: list[int],
    plan: _Plan,
    cs: float,
    evi_max_iter: int,
    dev: torch.device,
    chunk: int,
) -> BatchResult:
    f64: dict = dict(dtype=torch.float64, device=dev)
    start = time.perf_counter()
    B, S, A = len(seed_list), env.n_states, env.n_actions
    O = S
    ar = torch.arange(B, device=dev)
    cum = torch.tensor(np.stack([np.cumsum(m.transitions, axis=2) for m in env.mdps]), **f64)  # [L, S, A, S]
    rew = torch.tensor(np.stack([m.rewards for m in env.mdps]), **f64)  # [L, S, A]
    gains = [float(g) for g in env.gains]
    rngs = [np.random.default_rng(s) for s in seed_list]
    changes = list(env.change_points)

    visits = torch.zeros(B, S, A, **f64)
    rsum = torch.zeros(B, S, A, **f64)
    trans = torch.zeros(B, S, A, S, **f64)
    ep_vis = torch.zeros(B, S, A, **f64)
    ep_start = torch.zeros(B, S, A, **f64)
    policy = torch.zeros(B, S, dtype=torch.long, device=dev)
    restart_t = torch.zeros(B, **f64)
    need = torch.ones(B, dtype=torch.bool, device=dev)
    state = torch.zeros(B, dtype=torch.long, device=dev)
    hist = torch.zeros(max(plan.window, 1), B, 3, dtype=torch.long, device=dev)
    hist_r = torch.zeros(max(plan.window, 1), B, **f64)
    loss = torch.zeros(B, T, **f64)
    restarts: list[list[int]] = [[] for _ in range(B)]

    cap = 256
    dcounts = torch.zeros(B * S * A, O, cap, **f64)
    dsuf = torch.zeros(B * S * A, cap, **f64)
    dpre = torch.zeros(B * S * A, cap, **f64)
    dn = torch.zeros(B * S * A, dtype=torch.long, device=dev)

    def clear(rows: torch.Tensor, t_restart: int) -> None:
        for tensor in (visits, rsum, trans, ep_vis, ep_start):
            tensor[rows] = 0.0
        restart_t[rows] = float(t_restart)
        need[rows] = True
        if plan.method == "rbocpd":
            pair_rows = (rows[:, None] * (S * A) + torch.arange(S * A, device=dev)[None, :]).reshape(-1)
            dcounts[pair_rows] = 0.0
            dsuf[pair_rows] = 0.0
            dpre[pair_rows] = 0.0
            dn[pair_rows] = 0

    def start_episodes(rows: torch.Tensor, t: int) -> None:
        n = visits[rows].clamp(min=1.0)
        r_hat = rsum[rows] / n
        p_hat = torch.where(
            visits[rows][..., None] > 0, trans[rows] / n[..., None], torch.full_like(trans[rows], 1 / S)
        )
        tk = t + 1
        d = plan.ucrl_delta
        r_rad = cs * torch.sqrt(7.0 * math.log(2 * S * A * tk / d) / (2.0 * n))
        p_rad = cs * torch.sqrt(14.0 * S * math.log(2 * A * tk / d) / n)
        acc = 1.0 / torch.sqrt(torch.clamp(tk - restart_t[rows], min=1.0))
        r_tilde = torch.clamp(r_hat + r_rad, max=1.0)
        policy[rows] = batched_extended_value_iteration(p_hat, r_tilde, p_rad, acc, evi_max_iter)
        ep_start[rows] = visits[rows]
        ep_vis[rows] = 0.0
        need[rows] = False

    uniforms = torch.zeros(0, B, 2, **f64)
    for t in range(T):
        if t % chunk == 0:
            m = min(chunk, T - t)
            uniforms = torch.tensor(np.stack([r.random((m, 2)) for r in rngs], axis=1), **f64)
        if t in plan.restart_at:
            clear(ar, t)
            for lst in restarts:
                lst.append(t)
        a = policy[ar, state]
        due = ep_vis[ar, state, a] >= torch.clamp(ep_start[ar, state, a], min=1.0)
        need |= due
        if bool(need.any()):
            start_episodes(need.nonzero().squeeze(1), t)
            a = policy[ar, state]
        seg = bisect.bisect_right(changes, t)
        u = uniforms[t % chunk]
        mean_r = rew[seg, state, a]
        reward = (u[:, 0] < mean_r).to(torch.float64)
        nxt = torch.clamp((cum[seg, state, a] <= u[:, 1:2]).sum(-1), max=S - 1)
        loss[:, t] = gains[seg] - mean_r
        if plan.window:
            # Lock-step runs share the ring-buffer slot: drop the transition that leaves every window at once.
            slot = t % plan.window
            if t >= plan.window:
                hs, ha, hn = hist[slot, :, 0], hist[slot, :, 1], hist[slot, :, 2]
                visits[ar, hs, ha] -= 1.0
                rsum[ar, hs, ha] -= hist_r[slot]
                trans[ar, hs, ha, hn] -= 1.0
            hist[slot] = torch.stack([state, a, nxt], dim=1)
            hist_r[slot] = reward
        visits[ar, state, a] += 1.0
        ep_vis[ar, state, a] += 1.0
        rsum[ar, state, a] += reward
        trans[ar, state, a, nxt] += 1.0
        if plan.method == "rbocpd":
            pid = ar * (S * A) + state * A + a
            n = dn[pid]
            if int(n.max()) + 1 > cap:
                grow = cap
                dcounts = torch.cat([dcounts, torch.zeros(B * S * A, O, grow, **f64)], dim=-1)
                dsuf = torch.cat([dsuf, torch.zeros(B * S * A, grow, **f64)], dim=-1)
                dpre = torch.cat([dpre, torch.zeros(B * S * A, grow, **f64)], dim=-1)
                cap += grow
            j = torch.arange(cap, device=dev)[None, :]
            jf = j.to(torch.float64)
            log_gap = torch.log(jf * (jf + 1.0) + (j == 0).to(torch.float64))
            # Create forecaster r = t (position n): prior mass q(x_{s:t-1}) before x_t is absorbed.
            dpre[pid, n] = torch.where(n > 0, dsuf[pid, 0], torch.zeros_like(n, dtype=torch.float64))
            dsuf[pid, n] = 0.0
            dcounts[pid, :, n] = 0.0
            live = j <= n[:, None]
            row = dcounts[pid, nxt, :]
            lengths = torch.clamp(n[:, None] - j, min=0).to(torch.float64)
            inc = torch.log(row + 1.0) - torch.log(lengths + O)
            dsuf[pid] = dsuf[pid] + torch.where(live, inc, torch.zeros_like(inc))
            dcounts[pid, nxt, :] = row + live.to(torch.float64)
            n1 = n + 1
            dn[pid] = n1
            lam = dpre[pid] + dsuf[pid] - dsuf[pid, :1]
            valid = (j >= 1) & (j < n1[:, None])
            if plan.detector_delta:
                # Theory threshold: max_r (Lambda - log(g(g+1))) > log C(n+O-1, O-1) - log(delta').
                lhs = torch.where(valid, lam - log_gap, torch.full_like(lam, -math.inf)).amax(-1)
                n1f = n1.to(torch.float64)
                offset = (
                    torch.lgamma(n1f + O)
                    - math.lgamma(O)
                    - torch.lgamma(n1f + 1)
                    - math.log(plan.detector_delta)
                )
                fired = lhs > offset
            else:
                stat = torch.where(valid, lam, torch.full_like(lam, -math.inf)).amax(-1)
                fired = stat > plan.beta
            if bool(fired.any()):
                rows = fired.nonzero().squeeze(1)
                clear(rows, t + 1)
                for b in rows.tolist():
                    restarts[b].append(t + 1)
        state = nxt
    regret = torch.cumsum(loss, dim=1).cpu().numpy()
    return BatchResult(regret=regret, restart_times=restarts, seconds=time.perf_counter() - start)
