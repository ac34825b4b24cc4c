r"""M2 and M3: sparse-vector re-release for MaxSum and SelectSum (our reconstruction of the T^{1/3} branch).

Both mechanisms keep their last release and watch a sensitivity-bounded *staleness* query with AboveThreshold;
when it fires they pay for one fresh release and start a fresh AboveThreshold instance (new threshold noise).
At most ``cap`` rounds run, composed through zCDP, after which the release freezes.

* M2 (MaxSum): staleness :math:`q_t = M_t - v` (sensitivity 1, :math:`v` is public), release
  :math:`v \leftarrow M_t + \mathrm{Lap}(1/\epsilon_2)`.
* M3 (SelectSum): staleness :math:`q_t = M_t - s_t[\hat j]` (sensitivity 2), release
  :math:`\hat j \leftarrow` report-noisy-max with :math:`\mathrm{Lap}(2/\epsilon_2)` noise.

Noise is drawn once up front: every step is examined by exactly one AboveThreshold round, so one query-noise
draw per step (``T`` in all), one threshold draw and one release draw per round are exactly the mechanism's
randomness. The search for the next firing step is vectorised over geometrically growing windows, so a run
costs ``O(T + rounds * window)`` instead of the ``O(T * rounds)`` of redrawing noise for the whole remaining
stream at each round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litlib.dp_continual.privacy import PrivacyBudget, per_round_epsilon
from litlib.dp_continual.streams import check_stream, column_sums


@dataclass(frozen=True)
class SVTParameters:
    r"""Calibration of a sparse-vector continual mechanism.

    Attributes:
        theta: the threshold on the staleness query (sets the target error).
        cap: the maximum number of AboveThreshold rounds (releases after the start).
        epsilon0: the pure-DP budget of one round (:math:`\epsilon_1 + \epsilon_2`).
        threshold_scale: Laplace scale of the threshold noise, :math:`2\Delta/\epsilon_1`.
        query_scale: Laplace scale of the per-step query noise, :math:`4\Delta/\epsilon_1`.
        release_scale: Laplace scale of a release: :math:`1/\epsilon_2` (MaxSum) or :math:`2/\epsilon_2`
            (report-noisy-max for SelectSum).
        sensitivity: the staleness query's sensitivity :math:`\Delta` (1 for MaxSum, 2 for SelectSum).
    """

    theta: float
    cap: int
    epsilon0: float
    threshold_scale: float
    query_scale: float
    release_scale: float
    sensitivity: int


def default_cap(T: int, theta: float) -> int:
    r"""The round cap :math:`c = \lceil 2T/\theta \rceil + 1`.

    While the noise stays below :math:`\theta/2` each round needs a true rise of :math:`\theta/2`, and
    :math:`M_T \le T`; the factor 2 is the slack that keeps noise-triggered early rounds from freezing the
    output.
    """
    return math.ceil(2 * T / theta) + 1


def svt_parameters(
    T: int,
    theta: float,
    budget: PrivacyBudget,
    *,
    cap: int | None = None,
    select: bool = False,
) -> SVTParameters:
    r"""Calibrate M2 (``select=False``) or M3 (``select=True``) for ``T`` steps.

    Each round is an :math:`\epsilon_1`-DP AboveThreshold plus an :math:`\epsilon_2`-DP release, with
    :math:`\epsilon_1 = \epsilon_2 = \epsilon_0/2`; ``cap`` rounds (plus M3's initial selection) compose to
    the budget by zCDP (basic composition for a pure-DP budget), see
    :func:`litlib.dp_continual.per_round_epsilon`.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if ``T`` or ``cap`` is not an int >= 1, ``theta`` is not > 0, or the budget is
            not a :class:`PrivacyBudget`.
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an int >= 1; got {T!r}")
    if isinstance(theta, bool) or not isinstance(theta, (int, float, np.number)):
        raise TypeError(f"theta must be a real number; got {type(theta).__name__}")
    if not math.isfinite(theta) or theta <= 0:
        raise ValueError(f"theta must be a finite number > 0; got {theta}")
    if not isinstance(budget, PrivacyBudget):
        raise TypeError(f"budget must be a PrivacyBudget; got {type(budget).__name__}")
    if cap is None:
        cap = default_cap(int(T), float(theta))
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
        raise ValueError(f"cap must be an int >= 1; got {cap!r}")
    rounds = int(cap) + (1 if select else 0)
    eps0 = per_round_epsilon(budget.epsilon, budget.delta, rounds)
    eps1 = eps2 = eps0 / 2
    sens = 2 if select else 1
    return SVTParameters(
        theta=float(theta),
        cap=int(cap),
        epsilon0=eps0,
        threshold_scale=2 * sens / eps1,
        query_scale=4 * sens / eps1,
        release_scale=(2.0 if select else 1.0) / eps2,
        sensitivity=sens,
    )


@dataclass(frozen=True)
class SVTNoise:
    """Unit-scale Laplace noise for one run (scaled by :class:`SVTParameters` at use).

    Attributes:
        query: ``(T,)`` one draw per step.
        threshold: ``(cap,)`` one draw per round.
        release: ``(cap,)`` for MaxSum; ``(cap + 1, d)`` for SelectSum (row 0 is the initial selection).
    """

    query: np.ndarray
    threshold: np.ndarray
    release: np.ndarray

    @classmethod
    def draw(cls, T: int, cap: int, seed: int, d: int | None = None) -> SVTNoise:
        """Draw the noise of one run from ``seed`` (``d`` given: the SelectSum shape)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an int >= 0; got {seed!r}")
        rng = np.random.default_rng(int(seed))
        query = rng.laplace(size=T)
        threshold = rng.laplace(size=cap)
        release = rng.laplace(size=cap) if d is None else rng.laplace(size=(cap + 1, d))
        return cls(query=query, threshold=threshold, release=release)

    def check(self, T: int, cap: int, d: int | None = None) -> None:
        """Raise ``ValueError`` unless the arrays have the shapes a run with these sizes needs."""
        want_release = (cap,) if d is None else (cap + 1, d)
        for name, arr, want in (
            ("query", self.query, (T,)),
            ("threshold", self.threshold, (cap,)),
            ("release", self.release, want_release),
        ):
            if np.shape(arr) != want:
                raise ValueError(f"noise.{name} must have shape {want}; got {np.shape(arr)}")


@dataclass(frozen=True)
class SVTRelease:
    r"""What a sparse-vector mechanism released.

    Attributes:
        values: ``(T,)`` the released values :math:`\hat y_t` (M2) or indices :math:`\hat j_t` (M3).
        fire_times: 1-based steps at which a round fired (a fresh release).
        capped: whether all ``cap`` rounds were used, so the release froze before the end.
        params: the calibration used.
    """

    values: np.ndarray
    fire_times: np.ndarray
    capped: bool
    params: SVTParameters

    @property
    def rounds(self) -> int:
        """Number of rounds that fired."""
        return len(self.fire_times)


def first_at_least(
    values: NDArray[np.float64] | Callable[[int, int], NDArray[np.float64]],
    start: int,
    level: float,
    window: int,
    length: int | None = None,
) -> int:
    """Index of the first ``values[i] >= level`` with ``i >= start``, or ``-1``; windows double from
    ``window``.

    Looking ahead in doubling windows costs ``O(distance + window)`` and never scans the whole remainder when
    the crossing is near. ``values`` may be an array or a function ``segment(i, k)`` returning ``values[i:k]``
    (then ``length`` is required), so that a round computes only the part of its query it looks at.
    """
    if callable(values):
        if length is None:
            raise ValueError("length is required when values is a function")
        segment, n = values, int(length)
    else:
        array = values
        segment, n = (lambda i, k: array[i:k]), len(array)
    i, width = start, max(1, int(window))
    while i < n:
        hit = segment(i, min(i + width, n)) >= level
        if hit.any():
            return i + int(hit.argmax())
        i += width
        width *= 2
    return -1


def check_max_sum_target(max_sum: ArrayLike) -> NDArray[np.float64]:
    """Validate a MaxSum target sequence: 1-D, starts in {0, 1}, and rises by 0 or 1 per step.

    Raises:
        ValueError: if the sequence cannot be :math:`M_t` of a binary stream.
    """
    M = np.asarray(max_sum)
    if M.ndim != 1 or M.size < 1:
        raise ValueError(f"max_sum must be a non-empty 1-D sequence; got shape {M.shape}")
    steps = np.diff(np.concatenate([[0], M]))
    if not np.all((steps == 0) | (steps == 1)):
        raise ValueError(
            "max_sum must start at 0 or 1 and rise by 0 or 1 per step (a running max of 0/1 counts)"
        )
    return M.astype(np.float64)


def sparse_vector_max_sum_from_target(
    max_sum: ArrayLike,
    theta: float,
    budget: PrivacyBudget,
    seed: int,
    *,
    cap: int | None = None,
    noise: SVTNoise | None = None,
) -> SVTRelease:
    """M2 given :math:`M_1..M_T` directly: the same mechanism, since M2 reads nothing else of the stream.

    Args:
        max_sum: ``(T,)`` the exact :math:`M_t`.
        theta: threshold on :math:`M_t - v`.
        budget: privacy target.
        seed: noise seed (ignored when ``noise`` is given).
        cap: round cap; default :func:`default_cap`.
        noise: optional pre-drawn unit noise (:meth:`SVTNoise.draw`), for common random numbers and tests.

    Returns:
        an :class:`SVTRelease` with the released values.
    """
    M = check_max_sum_target(max_sum)
    T = len(M)
    params = svt_parameters(T, theta, budget, cap=cap)
    if noise is None:
        noise = SVTNoise.draw(T, params.cap, seed)
    noise.check(T, params.cap)
    noisy_query = M + params.query_scale * noise.query  # q_t + noise = (M_t + nu_t) - v
    out = np.empty(T)
    fires: list[int] = []
    v, t0 = 0.0, 0
    for r in range(params.cap):
        level = v + params.theta + params.threshold_scale * noise.threshold[r]
        t = first_at_least(noisy_query, t0, level, window=2 * int(params.theta) + 1)
        if t < 0:
            break
        out[t0:t] = v
        v = M[t] + params.release_scale * noise.release[r]
        out[t] = v
        fires.append(t + 1)
        t0 = t + 1
    out[t0:] = v
    capped = len(fires) == params.cap
    return SVTRelease(values=out, fire_times=np.array(fires, dtype=np.int64), capped=capped, params=params)


def sparse_vector_max_sum(
    stream: ArrayLike,
    theta: float,
    budget: PrivacyBudget,
    seed: int,
    *,
    cap: int | None = None,
    noise: SVTNoise | None = None,
) -> SVTRelease:
    r"""M2: continual MaxSum by sparse-vector re-release (error :math:`\tilde O(T^{1/3})` for a tuned
    ``theta``).

    Args:
        stream: ``(T, d)`` 0/1 array.
        theta: threshold; the error is about ``theta`` plus the noise, the number of rounds about
            ``2T/theta``.
        budget: privacy target (``delta=None`` composes the rounds by basic composition).
        seed: noise seed.
        cap: round cap; default :math:`\lceil 2T/\theta \rceil + 1`.
        noise: optional pre-drawn noise.

    Returns:
        an :class:`SVTRelease`.
    """
    data = check_stream(stream)
    return sparse_vector_max_sum_from_target(
        column_sums(data).max(axis=1), theta, budget, seed, cap=cap, noise=noise
    )


def sparse_vector_select_sum(
    stream: ArrayLike,
    theta: float,
    budget: PrivacyBudget,
    seed: int,
    *,
    cap: int | None = None,
    noise: SVTNoise | None = None,
) -> SVTRelease:
    r"""M3: continual SelectSum; keep an index, re-select it by report-noisy-max when its gap grows past
    ``theta``.

    The staleness query is the gap :math:`M_t - s_t[\hat j]` (sensitivity 2 under row replacement, so the
    AboveThreshold noise scales double); a fresh index is chosen by report-noisy-max with
    :math:`\mathrm{Lap}(2/\epsilon_2)`. The initial index at ``t = 1`` costs one extra round of budget.

    Returns:
        an :class:`SVTRelease` whose ``values`` are the selected (0-based) column indices.
    """
    S = column_sums(stream).astype(np.float64)
    T, d = S.shape
    params = svt_parameters(T, theta, budget, cap=cap, select=True)
    if noise is None:
        noise = SVTNoise.draw(T, params.cap, seed, d=d)
    noise.check(T, params.cap, d)
    M = S.max(axis=1)
    columns = np.ascontiguousarray(S.T)
    query_noise = params.query_scale * noise.query
    out = np.empty(T, dtype=np.int64)
    j = int(np.argmax(S[0] + params.release_scale * noise.release[0]))
    fires: list[int] = []
    t0 = 0
    for r in range(params.cap):
        level = params.theta + params.threshold_scale * noise.threshold[r]
        column = columns[j]

        def noisy_gap(i: int, k: int, column: NDArray[np.float64] = column) -> NDArray[np.float64]:
            return M[i:k] - column[i:k] + query_noise[i:k]  # the current index's gap, plus per-step noise

        t = first_at_least(noisy_gap, t0, level, window=2 * int(params.theta) + 1, length=T)
        if t < 0:
            break
        out[t0:t] = j
        j = int(np.argmax(S[t] + params.release_scale * noise.release[r + 1]))
        out[t] = j
        fires.append(t + 1)
        t0 = t + 1
    out[t0:] = j
    capped = len(fires) == params.cap
    return SVTRelease(values=out, fire_times=np.array(fires, dtype=np.int64), capped=capped, params=params)


def theta_grid(T: int, exponents: range = range(2, 12)) -> NDArray[np.float64]:
    """The thresholds :math:`T 2^{-j}` swept to tune M2 (default ``j = 2..11``), dropping any below 1."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an int >= 1; got {T!r}")
    grid = np.array([T / 2**j for j in exponents], dtype=np.float64)
    return grid[grid >= 1.0]


def max_sum_error_sweep(
    max_sum: ArrayLike,
    thetas: ArrayLike,
    budget: PrivacyBudget,
    seeds: ArrayLike,
) -> NDArray[np.float64]:
    """Worst-case error of M2 for every threshold and noise seed: a ``(len(thetas), len(seeds))`` array.

    Picking the best threshold from this table is *non-private* tuning (it looks at the data); the chapter
    does it on separate tuning seeds and says so.
    """
    M = check_max_sum_target(max_sum)
    theta_list = [float(th) for th in np.atleast_1d(np.asarray(thetas, dtype=np.float64))]
    seed_list = [int(s) for s in np.atleast_1d(np.asarray(seeds))]
    errors = np.empty((len(theta_list), len(seed_list)))
    for a, theta in enumerate(theta_list):
        for b, seed in enumerate(seed_list):
            release = sparse_vector_max_sum_from_target(M, theta, budget, seed)
            errors[a, b] = float(np.max(np.abs(release.values - M)))
    return errors
