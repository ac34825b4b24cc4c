"""The fused Triton kernel of M1 (interpreter on CPU, compiled on GPU): noise structure, exactness, invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from litlib.dp_continual import (
    PrivacyBudget,
    binary_tree_max,
    binary_tree_max_fused,
    max_sums,
    planted_max_stream,
    tree_height,
)
from litlib.dp_continual.reference import tree_noise_covariance
from litlib.kernels import triton_usable

BUDGET = PrivacyBudget(1.0, 1e-6)
pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(
        not triton_usable("cpu") and not torch.cuda.is_available(), reason="Triton cannot run here"
    ),
]


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def test_kernel_noise_has_the_tree_covariance() -> None:
    from litlib.dp_continual.triton import tree_max_tile

    T, d, sigma = 32, 2048, 1.5
    counts = torch.zeros((T, d), dtype=torch.int32, device=_device())
    values, index, noisy = tree_max_tile(counts, sigma, 11, 0, d, tree_height(T), block_d=128, write_all=True)
    assert noisy is not None
    N = noisy.double().cpu().numpy()
    exact = tree_noise_covariance(T, sigma)
    emp = N @ N.T / d
    # variance: relative s.e. sqrt(2/d) = 3.1%; allow 5 s.e. over the 32 times
    assert np.abs(np.diag(emp) / np.diag(exact) - 1).max() < 5 * np.sqrt(2 / d)
    V = np.diag(exact)
    z = np.abs(emp - exact) / np.sqrt((np.outer(V, V) + exact**2) / d)
    assert z.max() < 5.0
    np.testing.assert_allclose(values.cpu().numpy(), N.max(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(index.cpu().numpy(), N.argmax(axis=1))


def test_kernel_without_noise_returns_exact_max() -> None:
    from litlib.dp_continual.triton import tree_max_tile

    x = planted_max_stream(77, 45, seed=4, p=0.3)
    counts = torch.from_numpy(x).to(_device()).cumsum(0, dtype=torch.int32)
    values, index, _ = tree_max_tile(counts, 0.0, 0, 0, 45, tree_height(77), block_t=16, block_d=16)
    np.testing.assert_array_equal(values.cpu().numpy(), max_sums(x))
    S = np.cumsum(x, axis=0)
    np.testing.assert_array_equal(S[np.arange(77), index.cpu().numpy()], max_sums(x))


def test_fused_output_does_not_depend_on_chunking_or_tiles() -> None:
    x = planted_max_stream(50, 21, seed=1)
    a = binary_tree_max_fused(x, BUDGET, 3, mode="triton", device=_device(), chunk=8, block_t=16, block_d=16)
    b = binary_tree_max_fused(x, BUDGET, 3, mode="triton", device=_device(), chunk=64, block_t=64, block_d=32)
    np.testing.assert_array_equal(a.max_sum, b.max_sum)
    np.testing.assert_array_equal(a.select, b.select)
    c = binary_tree_max_fused(x, BUDGET, 4, mode="triton", device=_device(), chunk=64)
    assert not np.array_equal(a.max_sum, c.max_sum)  # the seed matters


def test_fused_torch_mode_is_the_torch_path_and_inputs_are_checked() -> None:
    x = planted_max_stream(40, 6, seed=0)
    a = binary_tree_max_fused(x, BUDGET, 2, mode="torch", device="cpu")
    b = binary_tree_max(x, BUDGET, 2)
    np.testing.assert_array_equal(a.max_sum, b.max_sum)
    with pytest.raises(ValueError, match="epsilon, delta"):
        binary_tree_max_fused(x, PrivacyBudget(1.0), 0)
    with pytest.raises(ValueError, match="powers of two"):
        binary_tree_max_fused(x, BUDGET, 0, block_d=24)
    with pytest.raises(ValueError, match="mode"):
        binary_tree_max_fused(x, BUDGET, 0, mode="cuda-please")
