"""Exact GP posteriors on a finite candidate set: over all ``t`` evaluations, or over the ``q`` unique points.

Both classes keep the posterior mean and variance of every candidate up to date and track
``log det(I + K_t / lambda)``, the information gain of the history, by its chain rule.

* :class:`ExactGP` is the textbook baseline: one row per evaluation, updated by an incremental Cholesky step
  that costs ``O(t A)``, so ``O(A T^2)`` over a run.
* :class:`UniquePointGP` stores only unique points, their counts ``w_j`` and summed feedback ``ytilde_j``.
  It is exact (the same posterior as :class:`ExactGP` on the same history) and its cost depends on ``q``,
  not on ``t``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from litlib.gp_few_unique._checks import as_index, as_matrix, as_positive_float, as_positive_int


def _rbf_rows(X: np.ndarray, rows: np.ndarray, lengthscale: float) -> np.ndarray:
    """``k(X[rows], X)`` without validation (hot loop)."""
    diff = X[rows][:, None, :] - X[None, :, :]
    return np.exp(-(diff * diff).sum(-1) / (2.0 * lengthscale * lengthscale))


def _as_observations(observations: object) -> np.ndarray:
    ys = np.atleast_1d(np.asarray(observations, dtype=float)).ravel()
    if ys.size < 1 or not np.all(np.isfinite(ys)):
        raise ValueError("observations must be a non-empty array of finite numbers")
    return ys


def unique_point_posterior(
    K_qq: np.ndarray,
    K_qA: np.ndarray,
    counts: np.ndarray,
    ysum: np.ndarray,
    lam: float,
    prior_var: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The exact GP posterior from unique points, in the numerically stable symmetric form.

    With ``W = diag(counts)``, ``M = W^{1/2} K_qq W^{1/2} + lam I = L L^T``,
    ``b(x) = L^{-1} W^{1/2} k_q(x)`` and ``alpha = L^{-1} W^{-1/2} ysum``: ``mu(x) = b(x)^T alpha`` and ``sigma^2(x) = k(x, x) - ||b(x)||^2``.

    Args:
        K_qq: ``(q, q)`` kernel matrix of the unique points.
        K_qA: ``(q, A)`` kernel between unique points and the query points.
        counts: ``(q,)`` number of evaluations of each unique point (``>= 1``).
        ysum: ``(q,)`` summed feedback of each unique point.
        lam: the regulariser ``lambda > 0`` (the noise variance in the Bayesian reading).
        prior_var: ``k(x, x)`` of the query points (scalar or ``(A,)``), 1 for the RBF kernel.

    Returns:
        ``(mu, var, log_det)``: ``(A,)`` posterior means and variances (clipped at 0) and
        ``log det(I + K_t / lam) = log det(M / lam)``, equal to the full-history value (Sylvester's
        identity).

    Raises:
        ValueError: on inconsistent shapes, counts < 1, or ``lam <= 0``.
    """
    lam = as_positive_float(lam, "lam")
    K_qq = np.asarray(K_qq, dtype=float)
    K_qA = np.asarray(K_qA, dtype=float)
    w = np.asarray(counts, dtype=float)
    ysum = np.asarray(ysum, dtype=float)
    q = w.shape[0] if w.ndim == 1 else -1
    if q < 1 or K_qq.shape != (q, q) or K_qA.ndim != 2 or K_qA.shape[0] != q or ysum.shape != (q,):
        raise ValueError(
            "expected K_qq (q, q), K_qA (q, A), counts (q,), ysum (q,) with q >= 1; got "
            f"{K_qq.shape}, {K_qA.shape}, {w.shape}, {ysum.shape}"
        )
    if np.any(w < 1):
        raise ValueError("counts must all be >= 1")
    root_w = np.sqrt(w)
    M = root_w[:, None] * K_qq * root_w[None, :] + lam * np.eye(q)
    L = cholesky(M, lower=True)
    B = solve_triangular(L, root_w[:, None] * K_qA, lower=True)
    alpha = solve_triangular(L, ysum / root_w, lower=True)
    mu = B.T @ alpha
    var = np.maximum(prior_var - np.einsum("ij,ij->j", B, B), 0.0)
    log_det = float(2.0 * np.log(np.diag(L)).sum() - q * np.log(lam))
    return mu, var, log_det


class ExactGP:
    """Exact GP posterior over all ``t`` evaluations, with an incremental Cholesky update per evaluation.

    The state is ``R = L_t^{-1} K(X_t, A)`` (``t x A``) and ``alpha = L_t^{-1} y_t`` with
    ``K_t + lam I = L_t L_t^T``.
    A new evaluation at candidate ``i`` adds the row ``r = (k(x_i, A) - l^T R) / d`` with ``l = R[:, i]`` and
    ``d^2 = sigma_t^2(x_i) + lam``; then ``mu += alpha_new r`` and ``sigma^2 -= r^2``. Cost ``O(t A)`` per
    evaluation, memory ``O(t A)``.

    Args:
        candidates: ``(A, d)`` candidate points.
        lengthscale: RBF lengthscale.
        lam: regulariser ``lambda > 0``.
        capacity: initial number of rows to allocate (grows by doubling).
    """

    def __init__(self, candidates: np.ndarray, lengthscale: float, lam: float, capacity: int = 256) -> None:
        self.candidates = as_matrix(candidates, "candidates")
        self.lengthscale = as_positive_float(lengthscale, "lengthscale")
        self.lam = as_positive_float(lam, "lam")
        cap = as_positive_int(capacity, "capacity")
        A = self.candidates.shape[0]
        self._R = np.empty((cap, A))
        self._alpha = np.empty(cap)
        self._mu = np.zeros(A)
        self._var = np.ones(A)
        self._observed = np.zeros(A, dtype=bool)
        self.n_observations = 0
        self.log_det = 0.0

    @property
    def mean(self) -> np.ndarray:
        """``(A,)`` posterior mean of every candidate (read-only view)."""
        view = self._mu.view()
        view.flags.writeable = False
        return view

    @property
    def var(self) -> np.ndarray:
        """``(A,)`` posterior variance of every candidate (read-only view)."""
        view = self._var.view()
        view.flags.writeable = False
        return view

    @property
    def observed_indices(self) -> np.ndarray:
        """Indices of the candidates evaluated at least once."""
        return np.flatnonzero(self._observed)

    def _grow(self) -> None:
        cap = 2 * self._R.shape[0]
        R = np.empty((cap, self._R.shape[1]))
        R[: self.n_observations] = self._R[: self.n_observations]
        alpha = np.empty(cap)
        alpha[: self.n_observations] = self._alpha[: self.n_observations]
        self._R, self._alpha = R, alpha

    def observe(self, index: int, observations: np.ndarray | float) -> None:
        """Condition on evaluations of candidate ``index`` (each one a separate row of the exact system).

        Raises:
            ValueError: if ``index`` is out of range or the observations are empty or not finite.
        """
        i = as_index(index, self.candidates.shape[0], "index")
        ys = _as_observations(observations)
        k_row = _rbf_rows(self.candidates, np.array([i]), self.lengthscale)[0]
        for y in ys:
            n = self.n_observations
            if n == self._R.shape[0]:
                self._grow()
            l = self._R[:n, i].copy()
            d2 = self._var[i] + self.lam
            d = np.sqrt(d2)
            r = (k_row - l @ self._R[:n]) / d
            a = (y - l @ self._alpha[:n]) / d
            self._R[n] = r
            self._alpha[n] = a
            self._mu += a * r
            self._var -= r * r
            np.maximum(self._var, 0.0, out=self._var)
            self.log_det += float(np.log(d2 / self.lam))
            self.n_observations = n + 1
        self._observed[i] = True


class UniquePointGP:
    """Exact GP posterior stored as unique points, counts ``w_j`` and summed feedback ``ytilde_j``.

    A point evaluated ``w`` times acts as one point with noise ``lam / w`` and target ``ytilde / w``, so the
    state is ``O(q^2 + q A)`` whatever the number ``t`` of evaluations.

    Two update rules give the same posterior:

    * ``"refit"`` (default): the posterior is recomputed lazily with :func:`unique_point_posterior` (symmetric
      Cholesky form, ``O(q^3 + A q^2)``) the next time it is read. Best when it is read rarely (once per
      epoch).
    * ``"rank_one"``: every call to :meth:`observe` updates ``P = (K_q + lam W^{-1})^{-1}`` by
      Sherman-Morrison (or a block-inverse step for a new point) and the variances by the matching rank-one correction,
      ``O(A q + q^2)``. Best when the posterior is read after every evaluation.

    Args:
        candidates: ``(A, d)`` candidate points.
        lengthscale: RBF lengthscale.
        lam: regulariser ``lambda > 0``.
        update: ``"refit"`` or ``"rank_one"``.
        capacity: initial number of unique points to allocate (grows by doubling).
    """

    def __init__(
        self,
        candidates: np.ndarray,
        lengthscale: float,
        lam: float,
        update: Literal["refit", "rank_one"] = "refit",
        capacity: int = 64,
    ) -> None:
        self.candidates = as_matrix(candidates, "candidates")
        self.lengthscale = as_positive_float(lengthscale, "lengthscale")
        self.lam = as_positive_float(lam, "lam")
        if update not in ("refit", "rank_one"):
            raise ValueError(f"update must be 'refit' or 'rank_one'; got {update!r}")
        self.update: Literal["refit", "rank_one"] = update
        cap = as_positive_int(capacity, "capacity")
        A = self.candidates.shape[0]
        self._unique: list[int] = []
        self._slot: dict[int, int] = {}
        self._counts = np.zeros(cap)
        self._ysum = np.zeros(cap)
        self._K_qA = np.empty((cap, A))
        self._P = np.zeros((cap, cap))
        self._mu = np.zeros(A)
        self._var = np.ones(A)
        self._stale = False
        self.n_observations = 0
        self.log_det = 0.0

    # -- state -------------------------------------------------------------------------------------------
    @property
    def n_unique(self) -> int:
        """The number ``q`` of unique points evaluated so far."""
        return len(self._unique)

    @property
    def unique_indices(self) -> np.ndarray:
        """Candidate indices of the unique points, in order of first evaluation."""
        return np.array(self._unique, dtype=int)

    @property
    def observed_indices(self) -> np.ndarray:
        """Indices of the candidates evaluated at least once (the unique points)."""
        return self.unique_indices

    @property
    def counts(self) -> np.ndarray:
        """``(q,)`` evaluation counts ``w_j`` of the unique points."""
        return self._counts[: self.n_unique].copy()

    @property
    def ysum(self) -> np.ndarray:
        """``(q,)`` summed feedback ``ytilde_j`` of the unique points."""
        return self._ysum[: self.n_unique].copy()

    @property
    def mean(self) -> np.ndarray:
        """``(A,)`` posterior mean of every candidate (read-only view)."""
        self._refresh()
        view = self._mu.view()
        view.flags.writeable = False
        return view

    @property
    def var(self) -> np.ndarray:
        """``(A,)`` posterior variance of every candidate (read-only view)."""
        self._refresh()
        view = self._var.view()
        view.flags.writeable = False
        return view

    # -- updates -----------------------------------------------------------------------------------------
    def _grow(self) -> None:
        old = self._counts.shape[0]
        cap = 2 * old
        counts, ysum = np.zeros(cap), np.zeros(cap)
        counts[:old], ysum[:old] = self._counts, self._ysum
        K = np.empty((cap, self._K_qA.shape[1]))
        K[:old] = self._K_qA
        P = np.zeros((cap, cap))
        P[:old, :old] = self._P
        self._counts, self._ysum, self._K_qA, self._P = counts, ysum, K, P

    def _refresh(self) -> None:
        if not self._stale:
            return
        q = self.n_unique
        idx = self.unique_indices
        K_qA = self._K_qA[:q]
        self._mu, self._var, self.log_det = unique_point_posterior(
            K_qA[:, idx], K_qA, self._counts[:q], self._ysum[:q], self.lam
        )
        self._stale = False

    def _posterior_var_at(self, i: int) -> float:
        """Current posterior variance of candidate ``i``, computed afresh in ``O(q^2)`` (rank-one path)."""
        q = self.n_unique
        if q == 0:
            return 1.0
        k = self._K_qA[:q, i]
        return max(1.0 - float(k @ self._P[:q, :q] @ k), 0.0)

    def observe(self, index: int, observations: np.ndarray | float) -> None:
        """Condition on ``len(observations)`` evaluations of candidate ``index``; keeps only their count and sum.

        Raises:
            ValueError: if ``index`` is out of range or the observations are empty or not finite.
        """
        i = as_index(index, self.candidates.shape[0], "index")
        ys = _as_observations(observations)
        B, s = float(ys.size), float(ys.sum())
        if self.update == "refit":
            s2 = float(self.var[i])  # refreshes if stale; the log-det increment needs the current variance
            self.log_det += float(np.log1p(B * s2 / self.lam))
            self._add_stats(i, B, s)
            self._stale = True
        elif i in self._slot:
            self._rank_one_repeat(i, B, s)
        else:
            self._rank_one_new(i, B, s)
        self.n_observations += int(B)

    def _add_stats(self, i: int, B: float, s: float) -> int:
        j = self._slot.get(i)
        if j is None:  # a new unique point: append its row; re-selecting a point only increments its count
            j = self.n_unique
            if j == self._counts.shape[0]:
                self._grow()
            self._K_qA[j] = _rbf_rows(self.candidates, np.array([i]), self.lengthscale)[0]
            self._slot[i] = j
            self._unique.append(i)
        self._counts[j] += B
        self._ysum[j] += s
        return j

    def _update_mean(self) -> None:
        q = self.n_unique
        ybar = self._ysum[:q] / self._counts[:q]
        self._mu = self._K_qA[:q].T @ (self._P[:q, :q] @ ybar)

    def _rank_one_new(self, i: int, B: float, s: float) -> None:
        q = self.n_unique
        k_row = _rbf_rows(self.candidates, np.array([i]), self.lengthscale)[0]
        Pk = self._P[:q, :q] @ self._K_qA[:q, i]
        cov = k_row - self._K_qA[:q].T @ Pk  # posterior covariance of every candidate with x_i
        s2 = max(float(cov[i]), 0.0)
        v = s2 + self.lam / B  # Schur complement of the grown system K_q + lam W^{-1}
        self._var -= cov * cov / v
        np.maximum(self._var, 0.0, out=self._var)
        self.log_det += float(np.log1p(B * s2 / self.lam))
        j = self._add_stats(i, B, s)
        P = self._P
        P[:q, :q] += np.outer(Pk, Pk) / v
        P[:q, j] = -Pk / v
        P[j, :q] = -Pk / v
        P[j, j] = 1.0 / v
        self._update_mean()

    def _rank_one_repeat(self, i: int, B: float, s: float) -> None:
        q = self.n_unique
        j = self._slot[i]
        s2 = self._posterior_var_at(i)
        self.log_det += float(np.log1p(B * s2 / self.lam))
        w = self._counts[j]
        delta = self.lam / (w + B) - self.lam / w  # change of the j-th diagonal entry of K_q + lam W^{-1}
        Pj = self._P[:q, j].copy()
        denom = 1.0 + delta * Pj[j]
        g = self._K_qA[:q].T @ Pj
        self._var += delta * g * g / denom
        np.maximum(self._var, 0.0, out=self._var)
        self._P[:q, :q] -= delta * np.outer(Pj, Pj) / denom
        self._add_stats(i, B, s)
        self._update_mean()
