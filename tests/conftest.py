"""Test configuration: kernels run under the Triton interpreter on CPU unless compiled runs are asked for."""

import os

# Must happen before anything imports triton (litlib imports it lazily, torch does not on CPU).
if os.environ.get("LITLIB_KERNELS_COMPILED") != "1":
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("LITLIB_SCALE", "smoke")

import pytest
import torch


@pytest.fixture
def device() -> torch.device:
    """CUDA for compiled kernel runs, CPU otherwise."""
    compiled = os.environ.get("LITLIB_KERNELS_COMPILED") == "1" and torch.cuda.is_available()
    return torch.device("cuda" if compiled else "cpu")
