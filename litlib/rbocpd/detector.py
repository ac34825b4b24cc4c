"""Multinomial restarted Bayesian online change-point detection (R-BOCPD) and two detector baselines.

* :class:`RBOCPD`: the streaming detector. Forecaster ``r`` models the segment ``x_{r:t}`` with the Laplace
  (Dirichlet(1)) predictive and carries the prior mass ``q(x_{s:r-1})`` frozen when it was created; the detector
  restarts when a log Bayes factor ``Lambda_{r,t}`` crosses its threshold. Everything is in log space and
  vectorised over the live forecasters (cost ``O(n_{s:t})`` per symbol).
* :func:`scan_statistics`: the same statistics for many equal-length streams at once, without restarts, as the
  running maximum that decides the *first* alarm for every threshold in one pass (false-alarm and delay curves).
* :class:`AdamsMacKayBOCPD`: Adams & MacKay's run-length posterior with a constant hazard, restarting when the
  most probable run is no longer the one started at the last restart.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from litlib.rbocpd._checks import check_int, check_positive, check_symbols


def log_binomial(n: np.ndarray | int, k: int) -> np.ndarray:
    """``log C(n + k, k)``, elementwise in ``n`` (used as ``log C(n + O - 1, O - 1)``)."""
    n_arr = np.asarray(n, dtype=np.float64)
    return gammaln(n_arr + k + 1) - gammaln(k + 1) - gammaln(n_arr + 1)


def theory_threshold(gap: np.ndarray | int, n: int, n_symbols: int, delta: float) -> np.ndarray:
    """The false-alarm-controlling threshold derived in the chapter.

    ``beta_{r,s,t} = log C(n_{s:t} + O - 1, O - 1) + log((r - s)(r - s + 1) / delta)``; with it, a stationary
    stream raises an alarm with probability at most ``delta`` (Ville's inequality and a union bound over ``r``).

    Args:
        gap: ``r - s >= 1`` (array or int).
        n: ``n_{s:t}``, the number of symbols since the last restart.
        n_symbols: alphabet size ``O``.
        delta: false-alarm probability, in ``(0, 1)``.
    """
    check_positive("delta", delta, upper=1.0)
    g = np.asarray(gap, dtype=np.float64)
    return log_binomial(n, n_symbols - 1) + np.log(g * (g + 1)) - math.log(delta)


class RBOCPD:
    """Streaming multinomial R-BOCPD detector on a stream of symbols in ``{0, ..., O-1}``.

    Exactly one of ``threshold`` (a constant ``beta``, e.g. ``log T``: the official code's analogue, fast but with
    no false-alarm guarantee) and ``delta`` (the theory threshold of :func:`theory_threshold`) must be given.

    Args:
        n_symbols: alphabet size ``O >= 2``.
        threshold: constant threshold ``beta > 0`` on the log Bayes factors.
        delta: false-alarm probability for the theory threshold, in ``(0, 1)``.

    Example:
        >>> det = RBOCPD(2, threshold=math.log(1000))
        >>> alarms = [t for t, x in enumerate([0] * 300 + [1] * 300) if det.update(x)]
        >>> 300 < alarms[0] < 320
        True
    """

    def __init__(self, n_symbols: int, *, threshold: float | None = None, delta: float | None = None) -> None:
        self.n_symbols = check_int("n_symbols", n_symbols, minimum=2)
        if (threshold is None) == (delta is None):
            raise ValueError("give exactly one of threshold (constant beta) and delta (theory threshold)")
        self.threshold = None if threshold is None else check_positive("threshold", threshold)
        self.delta = None if delta is None else check_positive("delta", delta, upper=1.0)
        self.time = 0  # symbols seen in total
        self.restart_times: list[int] = []  # indices t of the symbols at which the detector fired
        self._allocate(64)
        self.reset()

    def _allocate(self, capacity: int) -> None:
        self._counts = np.zeros((self.n_symbols, capacity))  # row o: N_{r:t}(o) for each live forecaster r
        self._log_suffix = np.zeros(capacity)  # log q(x_{r:t})
        self._log_prefix = np.zeros(capacity)  # log q(x_{s:r-1}), frozen at creation
        # _log_den[L - 1 - k] = log(k): forecaster i = r - s predicts with denominator n - i + O, so the
        # denominators of forecasters 0..n form a contiguous, increasing-index slice ending at log(O).
        self._log_den = np.log(np.maximum(np.arange(capacity + self.n_symbols + 1), 1.0))[::-1].copy()
        self._log_gap = np.log(np.arange(capacity) * (np.arange(capacity) + 1.0) + (np.arange(capacity) == 0))
        self._buf = np.empty(capacity)

    def _grow(self) -> None:
        n = self.n_observations
        old = (self._counts[:, :n].copy(), self._log_suffix[:n].copy(), self._log_prefix[:n].copy())
        self._allocate(2 * self._counts.shape[1])
        self._counts[:, :n], self._log_suffix[:n], self._log_prefix[:n] = old

    def reset(self) -> None:
        """Forget the current segment (a restart without recording an alarm)."""
        self.n_observations = 0  # n_{s:t}

    def update(self, x: int) -> bool:
        """Absorb one symbol; return True (and restart) if some ``Lambda_{r,t}`` exceeds its threshold."""
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x < self.n_symbols:
            raise ValueError(f"x must be an int symbol in [0, {self.n_symbols}); got {x!r}")
        n = self.n_observations
        if n + 1 > self._counts.shape[1]:
            self._grow()
        # Create forecaster r = t: empty counts, prior mass q(x_{s:t-1}) taken before x_t is absorbed.
        self._counts[:, n] = 0.0
        self._log_suffix[n] = 0.0
        self._log_prefix[n] = self._log_suffix[0] if n > 0 else 0.0
        # Every live forecaster i (= r - s) has seen n - i symbols; it predicts (N_i(x)+1) / (n - i + O).
        row = self._counts[x, : n + 1]
        buf = self._buf[: n + 1]  # in-place arithmetic: this is the hot loop of the MDP agent
        np.add(row, 1.0, out=buf)
        np.log(buf, out=buf)
        top = self._log_den.size - 1 - self.n_symbols  # index of log(O)
        buf -= self._log_den[top - n : top + 1]
        self._log_suffix[: n + 1] += buf
        row += 1.0
        self.n_observations = n = n + 1
        self.time += 1
        if n < 2:
            return False
        # max_r Lambda_{r,t} = max_r (prefix_r + suffix_r) - suffix_s, with the theory threshold's r-dependent
        # part moved to the left-hand side.
        lam_plus = np.add(self._log_prefix[1:n], self._log_suffix[1:n], out=self._buf[1:n])
        if self.threshold is not None:
            fired = bool(lam_plus.max() - self._log_suffix[0] > self.threshold)
        else:
            assert self.delta is not None
            lam_plus -= self._log_gap[1:n]
            offset = float(log_binomial(n, self.n_symbols - 1)) - math.log(self.delta)
            fired = bool(lam_plus.max() - self._log_suffix[0] > offset)
        if fired:
            self.restart_times.append(self.time - 1)
            self.reset()
        return fired

    def log_bayes_factors(self) -> np.ndarray:
        """``Lambda_{r,t}`` for ``r = s+1, ..., t`` after the last update (empty right after a restart)."""
        n = self.n_observations
        return self._log_prefix[1:n] + self._log_suffix[1:n] - self._log_suffix[0]

    def run(self, xs: np.ndarray) -> list[int]:
        """Feed a whole stream; return the indices at which the detector fired during this call."""
        arr = check_symbols("xs", xs, self.n_symbols)
        return [t for t, x in zip(range(self.time, self.time + arr.size), arr.tolist()) if self.update(x)]


class ScanStatistics(NamedTuple):
    """Per-step running maxima of three change statistics on a batch of streams (no restarts).

    Each array has shape ``[B, n]``; entry ``[b, t]`` is the largest value the statistic reached over
    ``t' <= t`` and ``r in (0, t']``. A detector with level ``c`` fires first at the first ``t`` with entry ``> c``.

    Attributes:
        bayes_factor: ``max Lambda_{r,t'}`` (constant threshold ``beta``: level ``beta``).
        theory: ``max Lambda_{r,t'} - log C(t'+O, O-1) - log(r(r+1))`` (theory threshold: level ``log(1/delta)``).
        glr: ``max GLR_{r,t'}``, the plug-in generalised likelihood ratio (zeros unless requested).
    """

    bayes_factor: np.ndarray
    theory: np.ndarray
    glr: np.ndarray


def _xlogx(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0, v * np.log(np.maximum(v, 1.0)), 0.0)


def scan_statistics(streams: np.ndarray, n_symbols: int, *, glr: bool = False) -> ScanStatistics:
    """Running-maximum change statistics for a batch of equal-length streams, all starting at ``s = 0``.

    Vectorised over the batch and over the split points ``r``: ``O(B n^2)`` work in ``n`` NumPy steps. Matches
    :class:`RBOCPD` up to its first alarm, which is all a false-alarm or detection-delay measurement needs.

    Args:
        streams: integer array ``[B, n]`` (or ``[n]``) of symbols in ``[0, n_symbols)``.
        n_symbols: alphabet size ``O >= 2``.
        glr: also compute the plug-in GLR scan statistic.
    """
    O = check_int("n_symbols", n_symbols, minimum=2)
    xs = check_symbols("streams", streams, O)
    if xs.ndim == 1:
        xs = xs[None, :]
    if xs.ndim != 2 or xs.shape[1] == 0:
        raise ValueError(f"streams must have shape [B, n] with n >= 1; got {tuple(np.shape(streams))}")
    B, n = xs.shape
    rows = np.arange(B)
    counts = np.zeros((B, O, n))  # [b, o, r]: N_{r:t}(o)
    log_suffix = np.zeros((B, n))
    log_prefix = np.zeros((B, n))
    log_int = np.log(np.maximum(np.arange(n + O + 1), 1.0))
    log_gap = np.log(np.arange(n) * (np.arange(n) + 1.0) + (np.arange(n) == 0))
    out_bf = np.full((B, n), -np.inf)
    out_th = np.full((B, n), -np.inf)
    out_glr = np.full((B, n), -np.inf) if glr else np.zeros((B, n))
    ml_post = np.zeros((B, n))  # sum_o N2 log N2 for the suffix of each split (GLR bookkeeping)
    ml_pre = np.zeros((B, n))  # frozen sum_o N1 log N1 - n1 log n1 for the prefix
    best_bf = np.full(B, -np.inf)
    best_th = np.full(B, -np.inf)
    best_glr = np.full(B, -np.inf)
    for t in range(n):
        x = xs[:, t]
        if t > 0:
            log_prefix[:, t] = log_suffix[:, 0]
            if glr:
                ml_pre[:, t] = ml_post[:, 0] - t * math.log(t)
        row = counts[rows, x, : t + 1]  # [B, t+1]: N_{r:t-1}(x_t)
        log_suffix[:, : t + 1] += np.log(row + 1.0) - log_int[O : O + t + 1][::-1]
        if glr:
            ml_post[:, : t + 1] += _xlogx(row + 1.0) - _xlogx(row)
        counts[rows, x, : t + 1] = row + 1.0
        if t >= 1:
            lam = log_prefix[:, 1 : t + 1] + log_suffix[:, 1 : t + 1] - log_suffix[:, :1]
            best_bf = np.maximum(best_bf, lam.max(axis=1))
            th = (lam - log_gap[1 : t + 1]).max(axis=1) - float(log_binomial(t + 1, O - 1))
            best_th = np.maximum(best_th, th)
            if glr:
                post_len = np.arange(t, 0, -1, dtype=np.float64)  # n_{r:t} for r = 1..t
                stat = (
                    ml_pre[:, 1 : t + 1]
                    + ml_post[:, 1 : t + 1]
                    - post_len * np.log(post_len)
                    - (ml_post[:, 0] - (t + 1) * math.log(t + 1))[:, None]
                )
                best_glr = np.maximum(best_glr, stat.max(axis=1))
        out_bf[:, t], out_th[:, t] = best_bf, best_th
        if glr:
            out_glr[:, t] = best_glr
    return ScanStatistics(out_bf, out_th, out_glr)


def first_alarm(statistic: np.ndarray, level: float) -> np.ndarray:
    """Index of the first step whose running-maximum ``statistic`` exceeds ``level``; ``-1`` where none does.

    Args:
        statistic: array ``[B, n]`` from :func:`scan_statistics` (non-decreasing along the last axis).
        level: the detector's level (``beta``, or ``log(1/delta)`` for the theory statistic).
    """
    stat = np.asarray(statistic)
    if stat.ndim != 2:
        raise ValueError(f"statistic must have shape [B, n]; got {stat.shape}")
    above = stat > level
    return np.where(above.any(axis=1), above.argmax(axis=1), -1)


class AdamsMacKayBOCPD:
    """Adams–MacKay run-length posterior (Dirichlet(1) predictive, constant hazard) with a MAP restart rule.

    After each symbol, every run ``i`` grows with mass ``(1 - h) w_i pred_i(x_t)`` and a new run (starting at the
    next symbol) receives ``h * sum_i w_i pred_i(x_t)``. The detector fires, and restarts, when the most probable
    run is no longer the one started at the last restart: the rule of the official R-BOCPD Python code.

    With ``variant="official-python"`` the new run instead receives ``h * sum_i w_i`` (the total weight *before*
    the current symbol), the recursion of the official R-BOCPD Python code; in both variants the new run is not
    charged for the symbol at which it is created. Kept as an ablation of the closed form of :class:`RBOCPD`.

    Args:
        n_symbols: alphabet size ``O >= 2``.
        hazard: prior change probability per step ``h`` in ``(0, 1)``, e.g. ``1 / T``.
        variant: ``"adams-mackay"`` or ``"official-python"``.
    """

    def __init__(self, n_symbols: int, *, hazard: float, variant: str = "adams-mackay") -> None:
        self.n_symbols = check_int("n_symbols", n_symbols, minimum=2)
        self.hazard = check_positive("hazard", hazard, upper=1.0)
        if variant not in ("adams-mackay", "official-python"):
            raise ValueError(f"variant must be 'adams-mackay' or 'official-python'; got {variant!r}")
        self.variant = variant
        self.time = 0
        self.restart_times: list[int] = []
        self._counts = np.zeros((self.n_symbols, 64))
        self._log_w = np.zeros(64)
        self._lengths = np.zeros(64)
        self.reset()

    def reset(self) -> None:
        """Forget the current segment."""
        self._n_runs = 1
        self._counts[:, 0] = 0.0
        self._log_w[0] = 0.0
        self._lengths[0] = 0.0

    def update(self, x: int) -> bool:
        """Absorb one symbol; return True (and restart) if the MAP run moved away from the restart run."""
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x < self.n_symbols:
            raise ValueError(f"x must be an int symbol in [0, {self.n_symbols}); got {x!r}")
        m = self._n_runs
        if m + 1 > self._log_w.size:
            cap = 2 * self._log_w.size
            self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)], axis=1)[:, :cap]
            self._log_w = np.concatenate([self._log_w, np.zeros_like(self._log_w)])
            self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
        log_pred = np.log(self._counts[x, :m] + 1.0) - np.log(self._lengths[:m] + self.n_symbols)
        joint = self._log_w[:m] + log_pred
        top = joint.max()
        # Mass handed to the new run: total after the symbol (Adams-MacKay) or before it (official code).
        carried = joint if self.variant == "adams-mackay" else self._log_w[:m]
        top_c = carried.max()
        log_total = top_c + math.log(np.exp(carried - top_c).sum())
        self._log_w[:m] = joint + math.log1p(-self.hazard) - top  # renormalise by a common constant
        self._log_w[m] = math.log(self.hazard) + log_total - top
        self._counts[x, :m] += 1.0
        self._lengths[:m] += 1.0
        self._counts[:, m] = 0.0
        self._lengths[m] = 0.0
        self._n_runs = m + 1
        self.time += 1
        fired = int(np.argmax(self._log_w[: m + 1])) != 0
        if fired:
            self.restart_times.append(self.time - 1)
            self.reset()
        return fired


def piecewise_categorical_streams(
    thetas: np.ndarray, lengths: list[int] | tuple[int, ...], n_streams: int, *, seed: int
) -> np.ndarray:
    """Sample ``n_streams`` independent streams whose segment ``l`` has ``lengths[l]`` symbols drawn from
    ``thetas[l]``.

    Args:
        thetas: array ``[L, O]`` of categorical distributions (or ``[L, B, O]``: one per stream).
        lengths: segment lengths, ``len(lengths) == L``.
        n_streams: number of streams ``B >= 1``.
        seed: random seed.

    Returns:
        int64 array ``[B, sum(lengths)]``.
    """
    th = np.asarray(thetas, dtype=np.float64)
    B = check_int("n_streams", n_streams, minimum=1)
    if th.ndim == 2:
        th = np.broadcast_to(th[:, None, :], (th.shape[0], B, th.shape[1]))
    if th.ndim != 3 or th.shape[0] != len(lengths) or th.shape[1] != B:
        raise ValueError(
            f"thetas must have shape [L, O] or [L, B, O] with L = len(lengths); got {np.shape(thetas)}"
        )
    if np.any(th < 0) or not np.allclose(th.sum(-1), 1.0):
        raise ValueError("every row of thetas must be a probability vector")
    rng = np.random.default_rng(seed)
    parts = []
    for seg, m in enumerate(lengths):
        m = check_int("lengths[l]", m, minimum=0)
        cdf = np.cumsum(th[seg], axis=-1)  # [B, O]
        u = rng.random((B, m))
        idx = (u[:, :, None] >= cdf[:, None, :-1]).sum(axis=-1)
        parts.append(idx)
    return np.concatenate(parts, axis=1).astype(np.int64)


def delay_approximation(beta: np.ndarray | float, kl: float, n_symbols: int) -> np.ndarray:
    """First-order detection delay ``(beta + (O-1)/2 log(beta/KL)) / KL`` (in post-change symbols).

    Derived in the chapter for a long pre-change segment; a guide, not a bound (it overestimates small-KL delays).
    """
    k = check_positive("kl", kl)
    b = np.asarray(beta, dtype=np.float64)
    return (b + 0.5 * (n_symbols - 1) * np.log(np.maximum(b / k, 1.0))) / k
