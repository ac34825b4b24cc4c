"""Plain, slow references for the chapter's equations: ground truth for the tests.

Nothing here is optimised: each function is the formula as written, with dense solves.
"""

from __future__ import annotations

import math

import numpy as np

from litlib.gp_few_unique.problem import rbf_kernel


def full_posterior(
    X_hist: np.ndarray, y_hist: np.ndarray, X_query: np.ndarray, lengthscale: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """``mu_t(x) = k_t(x)^T (K_t + lam I)^{-1} y_t``, ``sigma_t^2(x) = k(x,x) - k_t(x)^T (K_t + lam I)^{-1} k_t(x)``.

    The history may contain repeated points; every evaluation is its own row (a ``t x t`` system).
    """
    X_hist = np.asarray(X_hist, dtype=float)
    y_hist = np.asarray(y_hist, dtype=float)
    if X_hist.shape[0] == 0:
        n = np.asarray(X_query).shape[0]
        return np.zeros(n), np.ones(n)
    K = rbf_kernel(X_hist, X_hist, lengthscale)
    k = rbf_kernel(X_hist, X_query, lengthscale)
    G = K + lam * np.eye(K.shape[0])
    mu = k.T @ np.linalg.solve(G, y_hist)
    var = 1.0 - np.einsum("ij,ij->j", k, np.linalg.solve(G, k))
    return mu, var


def unique_posterior_plain(
    U: np.ndarray, counts: np.ndarray, ysum: np.ndarray, X_query: np.ndarray, lengthscale: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """The unique-point formulas before symmetrisation: ``(K_q + lam W^{-1})^{-1}`` and means ``W^{-1} ytilde``."""
    w = np.asarray(counts, dtype=float)
    K = rbf_kernel(U, U, lengthscale)
    k = rbf_kernel(U, X_query, lengthscale)
    G = K + lam * np.diag(1.0 / w)
    mu = k.T @ np.linalg.solve(G, np.asarray(ysum, dtype=float) / w)
    var = 1.0 - np.einsum("ij,ij->j", k, np.linalg.solve(G, k))
    return mu, var


def log_det_full(X_hist: np.ndarray, lengthscale: float, lam: float) -> float:
    """``log det(I + K_t / lam)`` from the full ``t x t`` kernel matrix."""
    K = rbf_kernel(np.asarray(X_hist, dtype=float), np.asarray(X_hist, dtype=float), lengthscale)
    sign, value = np.linalg.slogdet(np.eye(K.shape[0]) + K / lam)
    if sign <= 0:
        raise ArithmeticError("I + K/lam must be positive definite")
    return float(value)


def repeat_variance(sigma2: float, repeats: int, lam: float) -> float:
    """The variance at ``x`` after ``repeats`` more evaluations of ``x``: ``s2 / (1 + B s2 / lam)``."""
    return sigma2 / (1.0 + repeats * sigma2 / lam)


def smallest_batch_bruteforce(normalised_var: float, ratio_threshold: float, limit: int = 10**7) -> int:
    """The smallest ``B >= 1`` with ``1 + B * normalised_var > ratio_threshold``, by counting up."""
    B = 1
    while 1.0 + B * normalised_var <= ratio_threshold:
        B += 1
        if limit < B:
            raise ArithmeticError("no B below limit crosses the threshold")
    return B


def expected_improvement_plain(mu: float, sigma: float, incumbent: float, nu: float = 1.0) -> float:
    """``nu sigma tau((mu - incumbent) / (nu sigma))``, ``tau(z) = z Phi(z) + phi(z)``, one point at a time."""
    if sigma <= 0:
        return max(mu - incumbent, 0.0)
    z = (mu - incumbent) / (nu * sigma)
    Phi = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return nu * sigma * (z * Phi + phi)


def gp_ucb_bruteforce(
    candidates: np.ndarray,
    values: np.ndarray,
    noise: np.ndarray,
    lengthscale: float,
    lam: float,
    beta: float,
) -> list[int]:
    """GP-UCB (constant ``beta``) refitting from scratch every step; evaluation ``t`` sees ``noise[t]``."""
    X = np.asarray(candidates, dtype=float)
    hist: list[int] = []
    ys: list[float] = []
    for t in range(len(noise)):
        mu, var = full_posterior(X[hist], np.array(ys), X, lengthscale, lam)
        i = int(np.argmax(mu + beta * np.sqrt(np.maximum(var, 0.0))))
        hist.append(i)
        ys.append(float(values[i] + noise[t]))
    return hist


def mini_gp_ucb_bruteforce(
    candidates: np.ndarray,
    values: np.ndarray,
    noise: np.ndarray,
    lengthscale: float,
    lam: float,
    beta: float,
    ratio_threshold: float,
) -> tuple[list[int], list[int]]:
    """Mini-GP-UCB with a full ``t x t`` refit per epoch and brute-force epoch lengths.

    Returns ``(actions, epoch lengths)``.

    The ``t``-th evaluation (over the whole run) sees ``noise[t]``.
    """
    X = np.asarray(candidates, dtype=float)
    horizon = len(noise)
    hist: list[int] = []
    ys: list[float] = []
    lengths: list[int] = []
    while len(hist) < horizon:
        mu, var = full_posterior(X[hist], np.array(ys), X, lengthscale, lam)
        var = np.maximum(var, 0.0)
        i = int(np.argmax(mu + beta * np.sqrt(var)))
        s2 = var[i] / lam
        B = (
            horizon - len(hist)
            if s2 <= 0
            else min(smallest_batch_bruteforce(s2, ratio_threshold), horizon - len(hist))
        )
        for _ in range(B):
            ys.append(float(values[i] + noise[len(hist)]))
            hist.append(i)
        lengths.append(B)
    return hist, lengths
