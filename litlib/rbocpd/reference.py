"""Plain references for the rbocpd chapter: the equations as written, no speed tricks.

Everything here is deliberately slow and direct (closed forms through ``gammaln``, brute force over policies, a
linear program for the optimistic transition). The tests compare the streaming and vectorised code of
:mod:`litlib.rbocpd.detector` and :mod:`litlib.rbocpd.ucrl` with these functions on tiny instances.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy.optimize import linprog
from scipy.special import gammaln

from litlib.rbocpd._checks import check_int, check_symbols


def symbol_counts(x: np.ndarray, n_symbols: int) -> np.ndarray:
    """Counts ``N(o)`` of each symbol ``o`` in ``x``."""
    return np.bincount(np.asarray(x, dtype=np.int64), minlength=n_symbols).astype(np.float64)


def log_laplace_marginal(counts: np.ndarray) -> float:
    """Closed-form Dirichlet(1,...,1) marginal likelihood, ``log q = log (O-1)! + sum log N(o)! - log (n+O-1)!``.

    Args:
        counts: the symbol counts ``N(o)``, shape ``[O]``.
    """
    c = np.asarray(counts, dtype=np.float64)
    n, O = c.sum(), c.size
    return float(gammaln(O) + gammaln(c + 1).sum() - gammaln(n + O))


def log_laplace_sequential(x: np.ndarray, n_symbols: int) -> float:
    """``-L``: the sum of the log Laplace predictions ``log (N_{<i}(x_i)+1)/(i+O)`` made one symbol at a time."""
    xs = check_symbols("x", x, n_symbols)
    counts = np.zeros(n_symbols)
    total = 0.0
    for i, o in enumerate(xs):
        total += np.log((counts[o] + 1) / (i + n_symbols))
        counts[o] += 1
    return float(total)


def log_bayes_factors(x: np.ndarray, n_symbols: int) -> np.ndarray:
    """Closed-form ``Lambda_{r,t}`` for a segment ``x = x_{s:t}``, for every split ``r`` in ``(s, t]``.

    Entry ``j`` (``j = 1..n-1``, stored at index ``j-1``) is the log Bayes factor of "change before ``x[j]``"
    against "no change": ``log q(x[:j]) + log q(x[j:]) - log q(x)``.
    """
    xs = check_symbols("x", x, n_symbols)
    full = log_laplace_marginal(symbol_counts(xs, n_symbols))
    return np.array(
        [
            log_laplace_marginal(symbol_counts(xs[:j], n_symbols))
            + log_laplace_marginal(symbol_counts(xs[j:], n_symbols))
            - full
            for j in range(1, xs.size)
        ]
    )


def _xlogx_sum(counts: np.ndarray) -> float:
    c = counts[counts > 0]
    return float((c * np.log(c)).sum())


def log_max_likelihood(counts: np.ndarray) -> float:
    """``log p_{theta_hat}(x)``: the maximised categorical log-likelihood ``sum N(o) log(N(o)/n)``."""
    c = np.asarray(counts, dtype=np.float64)
    n = c.sum()
    return _xlogx_sum(c) - (n * np.log(n) if n > 0 else 0.0)


def glr_statistics(x: np.ndarray, n_symbols: int) -> np.ndarray:
    """Plug-in GLR ``n1 KL(th1||th) + n2 KL(th2||th)`` for every split of ``x``, same indexing as
    :func:`log_bayes_factors`."""
    xs = check_symbols("x", x, n_symbols)
    full = log_max_likelihood(symbol_counts(xs, n_symbols))
    return np.array(
        [
            log_max_likelihood(symbol_counts(xs[:j], n_symbols))
            + log_max_likelihood(symbol_counts(xs[j:], n_symbols))
            - full
            for j in range(1, xs.size)
        ]
    )


def reference_restarts(x: np.ndarray, n_symbols: int, threshold: Callable[[int, int], float]) -> list[int]:
    """Brute-force R-BOCPD: after every symbol, recompute all ``Lambda_{r,t}`` from the closed form.

    Args:
        x: the stream.
        n_symbols: alphabet size ``O``.
        threshold: ``threshold(r - s, n_{s:t})`` gives ``beta_{r,s,t}``.

    Returns:
        The indices ``t`` at which the detector fires (the next segment starts at ``t + 1``).
    """
    xs = check_symbols("x", x, n_symbols)
    alarms, start = [], 0
    for t in range(xs.size):
        seg = xs[start : t + 1]
        lam = log_bayes_factors(seg, n_symbols)
        if any(lam[j - 1] > threshold(j, seg.size) for j in range(1, seg.size)):
            alarms.append(t)
            start = t + 1
    return alarms


def kl_categorical(p: np.ndarray, q: np.ndarray) -> float:
    """``KL(p || q) = sum p log(p/q)`` for categorical distributions (``0 log 0 = 0``)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / q[mask])).sum())


def optimistic_value_lp(p_hat: np.ndarray, radius: float, u: np.ndarray) -> float:
    """``max p.u`` over ``{p in simplex : ||p - p_hat||_1 <= radius}``, by a linear program.

    Variables ``(p, d)`` with ``d >= |p - p_hat|``; the optimum is the EVI inner maximum.
    """
    S = p_hat.size
    c = np.concatenate([-u, np.zeros(S)])
    eye = np.eye(S)
    a_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, S)), np.ones((1, S))]])
    b_ub = np.concatenate([p_hat, -p_hat, [radius]])
    a_eq = np.concatenate([np.ones(S), np.zeros(S)])[None, :]
    res = linprog(
        c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=[(0, None)] * (2 * S), method="highs"
    )
    if not res.success:
        raise RuntimeError(f"linear program failed: {res.message}")
    return float(-res.fun)


def policy_gain(transitions: np.ndarray, rewards: np.ndarray, policy: np.ndarray) -> float:
    """Average reward of a stationary deterministic policy on a unichain MDP (stationary distribution)."""
    S = transitions.shape[0]
    P = transitions[np.arange(S), policy]
    r = rewards[np.arange(S), policy]
    # Solve mu (P - I) = 0 with sum(mu) = 1 as a least-squares system (unique for a unichain policy).
    a = np.vstack([(P - np.eye(S)).T, np.ones((1, S))])
    b = np.concatenate([np.zeros(S), [1.0]])
    mu = np.linalg.lstsq(a, b, rcond=None)[0]
    return float(mu @ r)


def brute_force_optimal_gain(transitions: np.ndarray, rewards: np.ndarray) -> float:
    """``rho*`` by enumerating all ``A^S`` deterministic stationary policies (unichain MDPs, tiny sizes)."""
    S, A = rewards.shape
    check_int("A**S", A**S, minimum=1)
    return max(
        policy_gain(transitions, rewards, np.array(pol)) for pol in itertools.product(range(A), repeat=S)
    )
