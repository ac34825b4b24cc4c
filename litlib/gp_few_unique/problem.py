"""The objective side: the RBF kernel, finite candidate problems and the chapter's synthetic function."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from litlib.gp_few_unique._checks import as_index, as_matrix, as_positive_float, as_positive_int


def rbf_kernel(X: np.ndarray, Y: np.ndarray, lengthscale: float) -> np.ndarray:
    """Squared-exponential kernel ``k(x, y) = exp(-||x - y||^2 / (2 lengthscale^2))`` (so ``k(x, x) = 1``).

    Args:
        X: ``(n, d)`` points.
        Y: ``(m, d)`` points.
        lengthscale: the kernel's lengthscale, ``> 0``.

    Returns:
        the ``(n, m)`` Gram matrix.

    Raises:
        ValueError: if the arrays are not 2-D, finite, or disagree in ``d``; if ``lengthscale <= 0``.
    """
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same number of columns; got {X.shape[1]} and {Y.shape[1]}")
    ell = as_positive_float(lengthscale, "lengthscale")
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * (X @ Y.T)
    np.maximum(sq, 0.0, out=sq)  # round-off can make a tiny squared distance negative
    return np.exp(-sq / (2.0 * ell * ell))


@dataclass(frozen=True)
class FiniteProblem:
    """A noisy black-box function on a finite candidate set: ``y = values[i] + N(0, noise_sd^2)``.

    Attributes:
        candidates: ``(A, d)`` candidate points.
        values: ``(A,)`` the true function values (used only to score regret; the optimiser never reads them).
        noise_sd: standard deviation ``xi`` of the Gaussian evaluation noise.
    """

    candidates: np.ndarray
    values: np.ndarray
    noise_sd: float

    def __post_init__(self) -> None:
        cand = as_matrix(self.candidates, "candidates")
        vals = np.asarray(self.values, dtype=float)
        if vals.shape != (cand.shape[0],) or not np.all(np.isfinite(vals)):
            raise ValueError(
                f"values must be a finite array of shape ({cand.shape[0]},); got shape {vals.shape}"
            )
        if not np.isfinite(self.noise_sd) or self.noise_sd < 0:
            raise ValueError(f"noise_sd must be a finite number >= 0; got {self.noise_sd!r}")
        object.__setattr__(self, "candidates", cand)
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "noise_sd", float(self.noise_sd))

    @property
    def n_candidates(self) -> int:
        """The number ``A`` of candidates."""
        return int(self.candidates.shape[0])

    @property
    def best_value(self) -> float:
        """``f* = max_x f(x)``."""
        return float(self.values.max())

    def evaluate(self, index: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
        """Evaluate candidate ``index`` ``repeats`` times; returns the ``(repeats,)`` noisy observations.

        Raises:
            ValueError: if ``index`` is out of range or ``repeats < 1``.
        """
        i = as_index(index, self.n_candidates, "index")
        n = as_positive_int(repeats, "repeats")
        return self.values[i] + self.noise_sd * rng.standard_normal(n)


def make_synthetic_problem(
    seed: int,
    *,
    n_candidates: int = 500,
    dim: int = 2,
    n_centres: int = 20,
    lengthscale: float = 0.2,
    noise_sd: float = 0.1,
) -> FiniteProblem:
    """The chapter's test function: a random kernel expansion on uniform candidates, scaled to ``[0, 1]``.

    ``A`` candidates and ``n_centres`` centres ``z_m`` are uniform in ``[0, 1]^dim``;
    ``f(x) = sum_m a_m k(x, z_m)`` with ``a_m ~ N(0, 1)`` and the RBF kernel of ``lengthscale``; ``f`` is then
    min-max normalised over the candidates.
    Everything is drawn from ``numpy.random.default_rng(seed)``.

    Raises:
        TypeError: if ``seed`` is not an int.
        ValueError: for non-positive sizes, lengthscale, or a negative noise level.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"seed must be a non-negative int; got {seed!r}")
    A = as_positive_int(n_candidates, "n_candidates")
    if A < 2:
        raise ValueError(f"n_candidates must be >= 2; got {A}")
    d = as_positive_int(dim, "dim")
    m = as_positive_int(n_centres, "n_centres")
    rng = np.random.default_rng(int(seed))
    X = rng.uniform(size=(A, d))
    Z = rng.uniform(size=(m, d))
    a = rng.standard_normal(m)
    f = rbf_kernel(X, Z, lengthscale) @ a
    spread = f.max() - f.min()
    if spread <= 0:  # a degenerate draw (all-zero weights cannot happen in practice); keep it well defined
        spread = 1.0
    return FiniteProblem(candidates=X, values=(f - f.min()) / spread, noise_sd=noise_sd)
