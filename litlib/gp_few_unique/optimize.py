"""GP-UCB / GP-EI that update every step, and their rarely-switching versions mini-GP-UCB / mini-GP-EI."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from litlib.gp_few_unique._checks import as_nonnegative_float, as_positive_float, as_positive_int
from litlib.gp_few_unique.acquisition import epoch_length, expected_improvement, ucb
from litlib.gp_few_unique.posterior import ExactGP, UniquePointGP
from litlib.gp_few_unique.problem import FiniteProblem

Acquisition = Literal["ucb", "ei"]
PosteriorKind = Literal["exact", "unique"]
METHODS = ("gp-ucb", "gp-ei", "gp-ucb-unique", "mini-gp-ucb", "mini-gp-ei")


@dataclass(frozen=True)
class RunResult:
    """What one optimisation run did.

    Attributes:
        method: the method's name (one of ``METHODS``).
        actions: ``(T,)`` candidate index evaluated at each step.
        observations: ``(T,)`` the noisy feedback.
        instant_regret: ``(T,)`` ``f* - f(x_t)``.
        epoch_starts: ``(H,)`` step ``t_h`` at which each epoch starts (every step for per-step methods).
        epoch_lengths: ``(H,)`` ``B_h`` (all 1 for per-step methods).
        epoch_normalised_var: ``(H,)`` ``sigma~^2_{t_h}(x_h) = sigma^2_{t_h}(x_h) / lam`` of each epoch's
            candidate.
        log_det: ``log det(I + K_T / lam)`` of the whole history, tracked by the posterior.
        n_unique: number of distinct candidates evaluated.
        seconds: wall-clock of the optimisation loop.
    """

    method: str
    actions: np.ndarray
    observations: np.ndarray
    instant_regret: np.ndarray
    epoch_starts: np.ndarray
    epoch_lengths: np.ndarray
    epoch_normalised_var: np.ndarray
    log_det: float
    n_unique: int
    seconds: float

    @property
    def horizon(self) -> int:
        """The number ``T`` of evaluations."""
        return int(self.actions.shape[0])

    @property
    def cumulative_regret(self) -> np.ndarray:
        """``(T,)`` ``R_t`` for ``t = 1..T``."""
        return np.cumsum(self.instant_regret)

    @property
    def regret(self) -> float:
        """``R_T``."""
        return float(self.instant_regret.sum())

    @property
    def switches(self) -> int:
        """Number of steps with ``x_t != x_{t-1}``."""
        return int(np.count_nonzero(self.actions[1:] != self.actions[:-1]))

    @property
    def n_epochs(self) -> int:
        """Number ``H`` of epochs (posterior updates)."""
        return int(self.epoch_lengths.shape[0])

    @property
    def log_det_chain_rule(self) -> float:
        """``sum_h log(1 + B_h sigma~^2_{t_h}(x_h))``: equals ``log_det`` (chain rule of the log det)."""
        return float(np.log1p(self.epoch_lengths * self.epoch_normalised_var).sum())


def _validate(
    problem: FiniteProblem,
    horizon: int,
    acquisition: str,
    lengthscale: float,
    lam: float | None,
    beta: float,
    nu: float,
    seed: int,
) -> tuple[int, float, float, float, float]:
    if not isinstance(problem, FiniteProblem):
        raise TypeError(f"problem must be a FiniteProblem; got {type(problem).__name__}")
    T = as_positive_int(horizon, "horizon")
    if acquisition not in ("ucb", "ei"):
        raise ValueError(f"acquisition must be 'ucb' or 'ei'; got {acquisition!r}")
    ell = as_positive_float(lengthscale, "lengthscale")
    if lam is None:
        if problem.noise_sd <= 0:
            raise ValueError("lam must be given when problem.noise_sd is 0 (the default is noise_sd**2)")
        lam = problem.noise_sd**2
    lam_v = as_positive_float(lam, "lam")
    b = as_nonnegative_float(beta, "beta")
    n = as_positive_float(nu, "nu")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int; got {seed!r}")
    return T, ell, lam_v, b, n


def _select(acquisition: str, gp: ExactGP | UniquePointGP, beta: float, nu: float) -> int:
    """argmax of the acquisition on the current posterior (first index on exact ties)."""
    mu, var = gp.mean, gp.var
    if acquisition == "ucb":
        return int(np.argmax(ucb(mu, var, beta)))
    observed = gp.observed_indices
    incumbent = float(mu[observed].max()) if observed.size else 0.0  # prior mean before the first evaluation
    return int(np.argmax(expected_improvement(mu, var, incumbent, nu)))


def noise_rng(seed: int) -> np.random.Generator:
    """The evaluation-noise stream of a run with ``seed`` (independent of the problem's own stream)."""
    return np.random.default_rng([int(seed), 1])


def run_per_step(
    problem: FiniteProblem,
    horizon: int,
    *,
    acquisition: Acquisition = "ucb",
    posterior: PosteriorKind = "exact",
    lengthscale: float = 0.2,
    lam: float | None = None,
    beta: float = 1.0,
    nu: float = 1.0,
    seed: int = 0,
) -> RunResult:
    """GP-UCB or GP-EI: update the posterior and re-optimise the acquisition after every evaluation.

    Args:
        problem: the candidates and the noisy oracle.
        horizon: number of evaluations ``T``.
        acquisition: ``"ucb"`` (``mu + beta sigma``, constant ``beta``) or ``"ei"`` (expected improvement).
        posterior: ``"exact"`` (:class:`ExactGP`, one row per evaluation, ``O(t A)`` per step) or ``"unique"``
            (:class:`UniquePointGP` with rank-one updates, ``O(q A)`` per step: the same decisions, a
            cheaper state).
        lengthscale: RBF lengthscale.
        lam: regulariser (default ``problem.noise_sd ** 2``).
        beta: UCB width multiplying ``sigma_t`` (the practical constant choice).
        nu: EI exploration scale.
        seed: seed of the evaluation noise (:func:`noise_rng`).

    Returns:
        a :class:`RunResult` with one epoch per step.
    """
    T, ell, lam_v, b, n = _validate(problem, horizon, acquisition, lengthscale, lam, beta, nu, seed)
    if posterior not in ("exact", "unique"):
        raise ValueError(f"posterior must be 'exact' or 'unique'; got {posterior!r}")
    rng = noise_rng(seed)
    gp: ExactGP | UniquePointGP
    if posterior == "exact":
        gp = ExactGP(problem.candidates, ell, lam_v, capacity=T)
    else:
        gp = UniquePointGP(problem.candidates, ell, lam_v, update="rank_one")
    actions = np.empty(T, dtype=int)
    ys = np.empty(T)
    s2 = np.empty(T)
    start = time.perf_counter()
    for t in range(T):
        i = _select(acquisition, gp, b, n)
        s2[t] = gp.var[i] / lam_v
        y = problem.evaluate(i, 1, rng)
        gp.observe(i, y)
        actions[t], ys[t] = i, y[0]
    seconds = time.perf_counter() - start
    name = {"ucb": "gp-ucb", "ei": "gp-ei"}[acquisition] + ("-unique" if posterior == "unique" else "")
    return RunResult(
        method=name,
        actions=actions,
        observations=ys,
        instant_regret=problem.best_value - problem.values[actions],
        epoch_starts=np.arange(T),
        epoch_lengths=np.ones(T, dtype=int),
        epoch_normalised_var=s2,
        log_det=gp.log_det,
        n_unique=int(np.unique(actions).size),
        seconds=seconds,
    )


def run_mini(
    problem: FiniteProblem,
    horizon: int,
    *,
    acquisition: Acquisition = "ucb",
    ratio_threshold: float = 2.0,
    lengthscale: float = 0.2,
    lam: float | None = None,
    beta: float = 1.0,
    nu: float = 1.0,
    seed: int = 0,
) -> RunResult:
    """Mini-GP-UCB / mini-GP-EI: pick ``x_h`` once per epoch and evaluate it ``B_h`` times before switching.

    ``B_h`` is the smallest number of repeats whose variance-shrink ratio ``1 + B sigma~^2_{t_h}(x_h)``
    exceeds ``C = ratio_threshold`` (:func:`epoch_length`), capped at the remaining budget. The posterior is the exact
    unique-point posterior (:class:`UniquePointGP`, refitted once per epoch).

    Args:
        problem: the candidates and the noisy oracle.
        horizon: number of evaluations ``T``.
        acquisition: ``"ucb"`` or ``"ei"``.
        ratio_threshold: ``C > 1`` (2: "repeat until the variance of ``x_h`` has halved").
        lengthscale: RBF lengthscale.
        lam: regulariser (default ``problem.noise_sd ** 2``); the same ``lam`` normalises the variance.
        beta: UCB width multiplying ``sigma_t``.
        nu: EI exploration scale.
        seed: seed of the evaluation noise (:func:`noise_rng`).

    Returns:
        a :class:`RunResult` with one entry per epoch in the ``epoch_*`` arrays.
    """
    T, ell, lam_v, b, n = _validate(problem, horizon, acquisition, lengthscale, lam, beta, nu, seed)
    C = as_positive_float(ratio_threshold, "ratio_threshold")
    if C <= 1:
        raise ValueError(f"ratio_threshold must be > 1; got {ratio_threshold}")
    rng = noise_rng(seed)
    gp = UniquePointGP(problem.candidates, ell, lam_v, update="refit")
    actions = np.empty(T, dtype=int)
    ys = np.empty(T)
    starts: list[int] = []
    lengths: list[int] = []
    s2s: list[float] = []
    t = 0
    start = time.perf_counter()
    while t < T:
        i = _select(acquisition, gp, b, n)
        s2 = float(gp.var[i]) / lam_v
        B = epoch_length(s2, C, T - t)
        y = problem.evaluate(i, B, rng)  # the B repeats are known in advance: they could run in parallel
        gp.observe(i, y)
        actions[t : t + B], ys[t : t + B] = i, y
        starts.append(t)
        lengths.append(B)
        s2s.append(s2)
        t += B
    seconds = time.perf_counter() - start
    return RunResult(
        method="mini-gp-" + acquisition,
        actions=actions,
        observations=ys,
        instant_regret=problem.best_value - problem.values[actions],
        epoch_starts=np.array(starts),
        epoch_lengths=np.array(lengths),
        epoch_normalised_var=np.array(s2s),
        log_det=gp.log_det,
        n_unique=gp.n_unique,
        seconds=seconds,
    )


def optimize(problem: FiniteProblem, horizon: int, method: str, **kwargs: object) -> RunResult:
    """Run one of ``METHODS`` by name; keyword arguments go to :func:`run_per_step` or :func:`run_mini`.

    Raises:
        ValueError: for an unknown method.
    """
    if method == "gp-ucb":
        return run_per_step(problem, horizon, acquisition="ucb", posterior="exact", **kwargs)  # type: ignore[arg-type]
    if method == "gp-ei":
        return run_per_step(problem, horizon, acquisition="ei", posterior="exact", **kwargs)  # type: ignore[arg-type]
    if method == "gp-ucb-unique":
        return run_per_step(problem, horizon, acquisition="ucb", posterior="unique", **kwargs)  # type: ignore[arg-type]
    if method == "mini-gp-ucb":
        return run_mini(problem, horizon, acquisition="ucb", **kwargs)  # type: ignore[arg-type]
    if method == "mini-gp-ei":
        return run_mini(problem, horizon, acquisition="ei", **kwargs)  # type: ignore[arg-type]
    raise ValueError(f"method must be one of {METHODS}; got {method!r}")
