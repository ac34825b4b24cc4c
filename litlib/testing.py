"""Helpers for comparing fast paths and kernels with their references."""

from __future__ import annotations

import torch


def error_ratio(actual: torch.Tensor, expected: torch.Tensor, abs_floor: float = 1e-6) -> float:
    """Relative RMS error ``rms(actual - expected) / max(rms(expected), abs_floor)``.

    The floor keeps the ratio meaningful when the reference is (near) zero.
    """
    diff = (actual.detach().double() - expected.detach().double()).pow(2).mean().sqrt()
    scale = expected.detach().double().pow(2).mean().sqrt().clamp_min(abs_floor)
    return float(diff / scale)


def default_tolerance(dtype: torch.dtype, length: int = 1) -> float:
    """A dtype-aware relative tolerance that grows with the length of a sequential reduction."""
    eps = torch.finfo(dtype).eps
    return max(50.0 * eps * max(length, 1) ** 0.5, 10 * eps)


def assert_close(
    name: str,
    actual: torch.Tensor,
    expected: torch.Tensor,
    rtol: float | None = None,
    abs_floor: float = 1e-6,
) -> float:
    """Assert ``actual`` matches ``expected`` in relative RMS error; NaN anywhere fails.

    Args:
        name: what is compared, for the message.
        actual: the fast path's output.
        expected: the reference output.
        rtol: allowed :func:`error_ratio`; default :func:`default_tolerance` of ``expected.dtype``.
        abs_floor: floor of the reference's RMS in the ratio.

    Returns:
        the measured ratio.
    """
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {tuple(actual.shape)} != expected {tuple(expected.shape)}")
    if torch.isnan(actual).any():
        raise AssertionError(f"{name}: output contains NaN (unwritten or invalid entries)")
    if torch.isnan(expected).any():
        raise AssertionError(f"{name}: reference contains NaN")
    tol = default_tolerance(expected.dtype) if rtol is None else rtol
    ratio = error_ratio(actual, expected, abs_floor)
    if not ratio <= tol:
        raise AssertionError(f"{name}: relative RMS error {ratio:.3e} > tolerance {tol:.3e}")
    return ratio


def nan_like(t: torch.Tensor) -> torch.Tensor:
    """A tensor shaped like ``t`` filled with NaN, to catch outputs a kernel forgot to write."""
    return torch.full_like(t, float("nan"))
