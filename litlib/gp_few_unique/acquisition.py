"""Acquisition functions (UCB, EI), the theoretical UCB multiplier, and the epoch-length rule."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from litlib.gp_few_unique._checks import as_finite_float, as_nonnegative_float, as_positive_float

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _mean_var(mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, dtype=float)
    var = np.asarray(var, dtype=float)
    if mu.ndim != 1 or mu.shape != var.shape:
        raise ValueError(f"mu and var must be 1-D arrays of the same shape; got {mu.shape} and {var.shape}")
    if np.any(var < 0) or not (np.all(np.isfinite(mu)) and np.all(np.isfinite(var))):
        raise ValueError("mu must be finite and var finite and >= 0")
    return mu, var


def ucb(mu: np.ndarray, var: np.ndarray, beta: float) -> np.ndarray:
    """Upper confidence bound ``mu(x) + beta * sigma(x)`` of every candidate.

    Raises:
        ValueError: on mismatched shapes, negative variances or ``beta < 0``.
    """
    mu, var = _mean_var(mu, var)
    return mu + as_nonnegative_float(beta, "beta") * np.sqrt(var)


def expected_improvement(mu: np.ndarray, var: np.ndarray, incumbent: float, nu: float = 1.0) -> np.ndarray:
    """Expected improvement ``nu sigma tau((mu - incumbent) / (nu sigma))``, ``tau(z) = z Phi(z) + phi(z)``.

    Where ``sigma = 0`` the limit ``max(mu - incumbent, 0)`` is returned.

    Args:
        mu: ``(A,)`` posterior means.
        var: ``(A,)`` posterior variances.
        incumbent: ``mu^+``, the best posterior mean among the evaluated points (0, the prior mean, before
            any evaluation).
        nu: exploration scale ``> 0`` (1 is plain EI).

    Raises:
        ValueError: on mismatched shapes, negative variances, non-finite incumbent or ``nu <= 0``.
    """
    mu, var = _mean_var(mu, var)
    inc = as_finite_float(incumbent, "incumbent")
    scale = as_positive_float(nu, "nu") * np.sqrt(var)
    gap = mu - inc
    out = np.maximum(gap, 0.0)
    pos = scale > 0
    z = gap[pos] / scale[pos]
    out[pos] = scale[pos] * (z * ndtr(z) + _INV_SQRT_2PI * np.exp(-0.5 * z * z))
    return out


def theoretical_beta(log_det: float, lam: float, norm_bound: float, noise_sd: float, delta: float) -> float:
    """The self-normalised confidence width ``sqrt(lam) F + xi sqrt(log det(I + K_t/lam) + 2 log(1/delta))``.

    It multiplies the *normalised* standard deviation ``sigma_t(x) / sqrt(lam)``: with probability
    ``1 - delta``, ``|f(x) - mu_t(x)| <= beta_t sigma_t(x) / sqrt(lam)`` for all ``t`` and ``x`` when
    ``||f||_k <= F`` and the noise is ``xi``-sub-Gaussian (Abbasi-Yadkori et al. 2011; Chowdhury and Gopalan 2017).

    Raises:
        ValueError: for negative ``log_det``/``norm_bound``/``noise_sd``, ``lam <= 0`` or ``delta`` not in
            (0, 1).
    """
    ld = as_nonnegative_float(log_det, "log_det")
    lam = as_positive_float(lam, "lam")
    F = as_nonnegative_float(norm_bound, "norm_bound")
    xi = as_nonnegative_float(noise_sd, "noise_sd")
    d = as_positive_float(delta, "delta")
    if d >= 1:
        raise ValueError(f"delta must be in (0, 1); got {delta}")
    return math.sqrt(lam) * F + xi * math.sqrt(ld + 2.0 * math.log(1.0 / d))


def epoch_length(normalised_var: float, ratio_threshold: float, remaining: int) -> int:
    """The smallest ``B >= 1`` with ``1 + B * normalised_var > ratio_threshold``, capped at ``remaining``.

    Repeating ``x`` ``B`` times divides its variance by ``1 + B sigma~^2(x)``; the epoch stops at the first
    ``B`` whose shrink ratio exceeds ``C = ratio_threshold``: ``B = floor((C - 1) / sigma~^2) + 1``. A zero variance
    (nothing left to learn at ``x``) gives ``remaining``.

    Raises:
        ValueError: if ``normalised_var < 0``, ``ratio_threshold <= 1`` or ``remaining < 1``.
    """
    s2 = as_nonnegative_float(normalised_var, "normalised_var")
    C = as_positive_float(ratio_threshold, "ratio_threshold")
    if C <= 1:
        raise ValueError(f"ratio_threshold must be > 1; got {ratio_threshold}")
    if isinstance(remaining, bool) or not isinstance(remaining, (int, np.integer)) or remaining < 1:
        raise ValueError(f"remaining must be an int >= 1; got {remaining!r}")
    if s2 == 0.0:
        return int(remaining)
    raw = math.floor((C - 1.0) / s2) + 1.0 if (C - 1.0) / s2 < remaining else float(remaining)
    B = int(min(raw, remaining))
    # Guard the floor against round-off: the rule must give the smallest B whose ratio exceeds C.
    while B > 1 and 1.0 + (B - 1) * s2 > C:
        B -= 1
    while remaining > B and 1.0 + B * s2 <= C:
        B += 1
    return B
