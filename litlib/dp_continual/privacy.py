r"""Privacy accounting for the continual-release mechanisms: validation, Gaussian calibration, zCDP
composition.

Every mechanism in :mod:`litlib.dp_continual` is calibrated here, through one route: compute the
zero-concentrated DP (zCDP) parameter :math:`\rho` that the target :math:`(\epsilon, \delta)` allows, spend
it, and convert back once with :math:`\epsilon = \rho + 2\sqrt{\rho \ln(1/\delta)}` (Bun & Steinke 2016). That
conversion is valid for every :math:`\epsilon > 0`, unlike the classical Gaussian formula, which is stated for
:math:`\epsilon < 1`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def check_epsilon(epsilon: float, name: str = "epsilon") -> float:
    """Validate a privacy parameter epsilon: a finite real number > 0.

    Raises:
        TypeError: if ``epsilon`` is not a real number.
        ValueError: if ``epsilon`` is not finite and positive.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise TypeError(f"{name} must be a real number; got {type(epsilon).__name__}")
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {epsilon}")
    return float(epsilon)


def check_delta(delta: float, name: str = "delta") -> float:
    """Validate a privacy parameter delta: a real number strictly between 0 and 1.

    Raises:
        TypeError: if ``delta`` is not a real number.
        ValueError: if ``delta`` is not in the open interval (0, 1).
    """
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise TypeError(f"{name} must be a real number; got {type(delta).__name__}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1); got {delta}")
    return float(delta)


def _check_positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return float(value)


@dataclass(frozen=True)
class PrivacyBudget:
    r"""A validated :math:`(\epsilon, \delta)` target; ``delta=None`` asks for pure :math:`\epsilon`-DP.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if either parameter is out of range (see ``check_epsilon``,
            ``check_delta``).
    """

    epsilon: float
    delta: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", check_epsilon(self.epsilon))
        if self.delta is not None:
            object.__setattr__(self, "delta", check_delta(self.delta))

    @property
    def pure(self) -> bool:
        """Whether this is a pure-DP budget (``delta is None``)."""
        return self.delta is None


def zcdp_to_epsilon(rho: float, delta: float) -> float:
    r"""The :math:`\epsilon` at which :math:`\rho`-zCDP implies :math:`(\epsilon, \delta)`-DP.

    Uses :math:`\epsilon = \rho + 2\sqrt{\rho \ln(1/\delta)}`.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if ``rho <= 0`` or ``delta`` is not in (0, 1).
    """
    rho = _check_positive(rho, "rho")
    delta = check_delta(delta)
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def epsilon_to_zcdp(epsilon: float, delta: float) -> float:
    r"""The largest :math:`\rho` whose zCDP guarantee converts to :math:`(\epsilon, \delta)`-DP.

    Solves :math:`\rho + 2\sqrt{\rho L} = \epsilon` with :math:`L = \ln(1/\delta)`: a quadratic in :math:`a =
    \sqrt\rho`, so :math:`a = \sqrt{L + \epsilon} - \sqrt{L}`.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if ``epsilon <= 0`` or ``delta`` is not in (0, 1).
    """
    epsilon = check_epsilon(epsilon)
    log_term = math.log(1.0 / check_delta(delta))
    # sqrt(L + eps) - sqrt(L) written without cancellation.
    root = epsilon / (math.sqrt(log_term + epsilon) + math.sqrt(log_term))
    return root * root


def gaussian_sigma_zcdp(l2_sensitivity: float, epsilon: float, delta: float) -> float:
    r"""Noise standard deviation for a Gaussian mechanism that is :math:`(\epsilon, \delta)`-DP via zCDP.

    A Gaussian mechanism with :math:`\ell_2` sensitivity :math:`\Delta` and noise :math:`\sigma` is
    :math:`\Delta^2 / (2\sigma^2)`-zCDP, so :math:`\sigma = \Delta / \sqrt{2\rho}` with :math:`\rho` =
    :func:`epsilon_to_zcdp`.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: on a non-positive sensitivity or out-of-range privacy parameters.
    """
    sens = _check_positive(l2_sensitivity, "l2_sensitivity")
    return sens / math.sqrt(2.0 * epsilon_to_zcdp(epsilon, delta))


def gaussian_sigma_classic(l2_sensitivity: float, epsilon: float, delta: float) -> float:
    r"""The classical Gaussian-mechanism noise :math:`\sigma = \sqrt{2\ln(1.25/\delta)}\,\Delta/\epsilon`.

    Only valid for :math:`\epsilon < 1` (Dwork & Roth, Theorem A.1); kept for comparison with the zCDP route.

    Raises:
        ValueError: if ``epsilon >= 1`` (outside the formula's range) or any argument is out of range.
    """
    sens = _check_positive(l2_sensitivity, "l2_sensitivity")
    epsilon = check_epsilon(epsilon)
    if epsilon >= 1.0:
        raise ValueError(f"epsilon must be < 1 for the classical Gaussian formula; got {epsilon}")
    delta = check_delta(delta)
    return math.sqrt(2.0 * math.log(1.25 / delta)) * sens / epsilon


def per_round_epsilon(epsilon: float, delta: float | None, rounds: int) -> float:
    r"""The pure-DP budget :math:`\epsilon_0` of each of ``rounds`` rounds so that they compose to the target.

    With ``delta`` given, each :math:`\epsilon_0`-DP round is :math:`\epsilon_0^2/2`-zCDP, ``rounds`` rounds
    are :math:`\rho = c\,\epsilon_0^2/2`-zCDP, and :math:`\rho` = :func:`epsilon_to_zcdp`; so
    :math:`\epsilon_0 = \sqrt{2\rho / c} = \Theta(\epsilon / \sqrt{c \ln(1/\delta)})`. With ``delta=None``
    (pure DP) basic composition gives :math:`\epsilon_0 = \epsilon / c`.

    Raises:
        TypeError: if ``rounds`` is not an int.
        ValueError: if ``rounds < 1`` or the privacy parameters are out of range.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int):
        raise TypeError(f"rounds must be an int; got {type(rounds).__name__}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}")
    epsilon = check_epsilon(epsilon)
    if delta is None:
        return epsilon / rounds
    return math.sqrt(2.0 * epsilon_to_zcdp(epsilon, delta) / rounds)


def composed_epsilon(epsilon0: float, rounds: int, delta: float | None) -> float:
    r"""The overall :math:`\epsilon` of ``rounds`` :math:`\epsilon_0`-DP rounds (the inverse of
    :func:`per_round_epsilon`): zCDP composition when ``delta`` is given, basic composition otherwise."""
    epsilon0 = check_epsilon(epsilon0, "epsilon0")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an int >= 1; got {rounds!r}")
    if delta is None:
        return rounds * epsilon0
    return zcdp_to_epsilon(rounds * epsilon0**2 / 2.0, delta)
