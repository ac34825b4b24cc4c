r"""M1: a binary-tree (dyadic) counter on every column, then a max (MaxSum) or an argmax (SelectSum).

Each column keeps the classical tree counter (Dwork, Naor, Pitassi & Rothblum 2010; Chan, Shi & Song 2011):
every dyadic block :math:`((m-1)2^h, m2^h]` of level ``h`` gets its column sum plus independent noise, and the
prefix :math:`[1, t]` is the sum of the ``popcount(t)`` blocks given by the set bits of ``t`` (the block of
bit ``h`` is node :math:`\lfloor t/2^h \rfloor` of level ``h``). The released noisy count therefore has noise
:math:`\sum_{h \in \mathrm{bits}(t)} Z_{h, \lfloor t/2^h\rfloor}`, of variance :math:`\sigma^2
\mathrm{popcount}(t)`.

The vectorised path never materialises node *values*: a prefix of node values equals the exact running count
plus the prefix of node *noises*, so it adds the ``H`` levels' noise to the exact counts, ``chunk`` columns at
a time, and keeps a running max (and argmax) over the chunks. Memory is ``O(T * chunk)`` whatever ``d`` is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from litlib.dp_continual.privacy import PrivacyBudget, gaussian_sigma_zcdp
from litlib.dp_continual.streams import check_stream


def tree_height(T: int) -> int:
    r"""Number of levels :math:`H = \lceil \log_2 T \rceil + 1` of the dyadic tree over ``T`` steps.

    Every ``t <= T`` has at most ``T.bit_length() <= H`` set bits, so ``H`` levels cover every prefix.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: if ``T`` is not an int >= 1.
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"T must be an int; got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T must be >= 1; got {T}")
    return math.ceil(math.log2(int(T))) + 1


def tree_noise_scale(T: int, d: int, budget: PrivacyBudget, noise: str = "gaussian") -> float:
    r"""Per-node noise scale that makes M1 private for ``d`` columns over ``T`` steps.

    One row changes one node per level in each column: ``dH`` node values, each by at most 1. So the
    :math:`\ell_2` sensitivity is :math:`\sqrt{dH}` (Gaussian noise, calibrated through zCDP, needs
    ``budget.delta``) and the :math:`\ell_1` sensitivity is :math:`dH` (Laplace noise of scale
    :math:`dH/\epsilon`, pure DP).

    Returns:
        the Gaussian standard deviation :math:`\sigma`, or the Laplace scale :math:`b`.

    Raises:
        ValueError: if Gaussian noise is asked for with a pure-DP budget, or ``noise`` is unknown.
    """
    H = tree_height(T)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be an int >= 1; got {d!r}")
    if noise == "gaussian":
        if budget.delta is None:
            raise ValueError("noise='gaussian' needs an (epsilon, delta) budget; got delta=None")
        return gaussian_sigma_zcdp(math.sqrt(d * H), budget.epsilon, budget.delta)
    if noise == "laplace":
        return d * H / budget.epsilon
    raise ValueError(f"noise must be 'gaussian' or 'laplace'; got {noise!r}")


def sample_node_noise(
    T: int,
    d: int,
    scale: float,
    generator: torch.Generator,
    noise: str = "gaussian",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> list[torch.Tensor]:
    r"""Independent noise for every node of the tree, one ``(T // 2**h + 1, d)`` tensor per level ``h``.

    Row ``m`` of level ``h`` is the noise of block :math:`((m-1)2^h, m2^h]`; row 0 is unused (kept so that
    node :math:`\lfloor t/2^h \rfloor` indexes directly).

    Raises:
        ValueError: if ``scale`` is negative or ``noise`` unknown.
    """
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0; got {scale}")
    levels = []
    for h in range(tree_height(T)):
        shape = (T // 2**h + 1, d)
        if noise == "gaussian":
            z = torch.randn(shape, generator=generator, dtype=dtype, device=device)
        elif noise == "laplace":  # difference of two unit exponentials is Laplace(1)
            e1 = torch.empty(shape, dtype=dtype, device=device).exponential_(generator=generator)
            e2 = torch.empty(shape, dtype=dtype, device=device).exponential_(generator=generator)
            z = e1 - e2
        else:
            raise ValueError(f"noise must be 'gaussian' or 'laplace'; got {noise!r}")
        levels.append(z.mul_(scale))
    return levels


def _level_rows(T: int, device: torch.device | str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For each level ``h``: the rows ``t - 1`` whose ``t`` has bit ``h`` set, and their nodes ``t >> h``."""
    t = torch.arange(1, T + 1, device=device)
    out = []
    for h in range(tree_height(T)):
        rows = torch.nonzero((t >> h) & 1, as_tuple=True)[0]
        out.append((rows, t[rows] >> h))
    return out


def _row_max(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and argmax of every row. On CPU through NumPy: torch's CPU ``max(dim=1)`` has a large fixed cost."""
    if values.device.type != "cpu":
        val, idx = values.max(dim=1)
        return val, idx
    arr = values.numpy()
    idx_np = arr.argmax(axis=1)
    return torch.from_numpy(arr[np.arange(arr.shape[0]), idx_np]), torch.from_numpy(idx_np)


def _add_level(buf: torch.Tensor, level: torch.Tensor, h: int) -> None:
    """Add level ``h``'s node noise to every row ``t`` of ``buf`` whose bit ``h`` is set, without a gather.

    Rows with bit ``h`` set come in runs of ``2**h`` (the odd-numbered groups), and run ``q`` uses node
    ``2q + 1``: viewing ``buf`` as ``(groups, 2, 2**h, width)`` makes this one broadcast add.
    """
    padded, width = buf.shape
    groups = padded >> (h + 1)
    if groups == 0:  # no t < padded has bit h set (H can exceed T.bit_length() by one)
        return
    odd_nodes = level[1::2][:groups]
    view = buf.view(groups, 2, 1 << h, width)
    view[: odd_nodes.shape[0], 1] += odd_nodes[:, None, :]


def _check_node_noise(node_noise: list[torch.Tensor], T: int, d: int | None) -> int:
    """Validate pre-drawn node noise (one tensor per level, of shape ``(T // 2**h + 1, d)``); return ``d``."""
    H = tree_height(T)
    if not isinstance(node_noise, (list, tuple)) or not all(isinstance(v, torch.Tensor) for v in node_noise):
        raise TypeError("node_noise must be a list of torch tensors, one per tree level")
    if len(node_noise) != H:
        raise ValueError(f"node_noise must have H={H} levels for T={T}; got {len(node_noise)}")
    if d is None:
        d = node_noise[0].shape[1] if node_noise[0].ndim == 2 else -1
    for h, level in enumerate(node_noise):
        if level.ndim != 2 or tuple(level.shape) != (T // 2**h + 1, d):
            raise ValueError(
                f"node_noise[{h}] must have shape ({T // 2**h + 1}, {d}); got {tuple(level.shape)}"
            )
    return int(d)


def prefix_noise(node_noise: list[torch.Tensor], T: int) -> torch.Tensor:
    """The ``(T, d)`` noise of every noisy prefix count: the sum of its blocks' node noises.

    Args:
        node_noise: one tensor per level as returned by :func:`sample_node_noise` (or any values of that
            shape).
        T: the stream length.

    Raises:
        ValueError: if the list does not have :func:`tree_height` levels of the expected shapes.
    """
    d = _check_node_noise(node_noise, T, None)
    out = torch.zeros((T, d), dtype=node_noise[0].dtype, device=node_noise[0].device)
    for (rows, nodes), level in zip(_level_rows(T, out.device), node_noise):
        out.index_add_(0, rows, level[nodes])
    return out


@dataclass(frozen=True)
class TreeRelease:
    r"""What M1 releases over the whole stream, and how it was calibrated.

    Attributes:
        max_sum: ``(T,)`` the MaxSum release :math:`\hat y_t = \max_j \tilde s_t[j]`.
        select: ``(T,)`` the SelectSum release :math:`\hat j_t = \arg\max_j \tilde s_t[j]`.
        scale: the per-node noise scale (Gaussian sigma or Laplace b).
        height: the number of tree levels ``H``.
    """

    max_sum: np.ndarray
    select: np.ndarray
    scale: float
    height: int


def binary_tree_max(
    stream: ArrayLike,
    budget: PrivacyBudget,
    seed: int,
    *,
    noise: str = "gaussian",
    chunk: int = 256,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    node_noise: list[torch.Tensor] | None = None,
    calibration_d: int | None = None,
) -> TreeRelease:
    r"""Run M1: a noisy tree counter per column, then the max and argmax over columns at every step.

    Args:
        stream: ``(T, d)`` 0/1 array, one record per step.
        budget: the privacy target; Gaussian noise needs ``budget.delta``, Laplace noise is pure DP.
        seed: seed of the mechanism's noise (keep it separate from the stream's seed).
        noise: ``"gaussian"`` (approximate DP, error :math:`\tilde O(\sqrt d)`) or ``"laplace"`` (pure DP,
            error :math:`\tilde O(d)`).
        chunk: columns processed at a time (memory ``O(T * chunk)``); the noise, hence the output,
            depends on it.
        dtype: floating dtype of the computation (float32 by default: several times faster on CPU, and its
            rounding, below 0.01 for counts up to 2**17, is far below the privacy noise).
        device: where to compute (``"cuda"`` for large runs).
        node_noise: optional pre-drawn node noise for all ``d`` columns (as :func:`sample_node_noise` returns,
            already scaled); replaces the sampling, for common random numbers and tests.
        calibration_d: the number of columns the privacy calibration covers (default: ``d``). A shard that
            holds some columns of a larger table passes the table's full width, so that every shard uses the
            noise scale of the whole table; it must be at least ``d``.

    Returns:
        a :class:`TreeRelease`.

    Raises:
        TypeError: on an argument of the wrong type.
        ValueError: on a bad stream, budget, seed or chunk.
    """
    data = check_stream(stream)
    if not isinstance(budget, PrivacyBudget):
        raise TypeError(f"budget must be a PrivacyBudget; got {type(budget).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1; got {chunk!r}")
    T, d = data.shape
    if calibration_d is None:
        calibration_d = d
    if (
        isinstance(calibration_d, bool)
        or not isinstance(calibration_d, (int, np.integer))
        or calibration_d < d
    ):
        raise ValueError(f"calibration_d must be an int >= d = {d}; got {calibration_d!r}")
    scale = tree_noise_scale(T, int(calibration_d), budget, noise)
    if node_noise is not None:
        _check_node_noise(node_noise, T, d)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    H = tree_height(T)
    padded = 1 << T.bit_length()  # rows for t = 0..padded-1, a power of two above T
    best = torch.full((T,), -math.inf, dtype=dtype, device=device)
    best_idx = torch.zeros((T,), dtype=torch.int64, device=device)
    for start in range(0, d, chunk):
        stop = min(start + chunk, d)
        width = stop - start
        buf = torch.zeros((padded, width), dtype=dtype, device=device)  # row t holds time t; row 0 unused
        buf[1 : T + 1] = torch.from_numpy(data[:, start:stop]).to(device=device, dtype=dtype).cumsum(0)
        if node_noise is None:
            levels = sample_node_noise(T, width, scale, gen, noise, dtype, device)
        else:
            levels = [lv[:, start:stop].to(device=device, dtype=dtype) for lv in node_noise]
        for h in range(H):
            _add_level(buf, levels[h], h)
        val, idx = _row_max(buf[1 : T + 1])
        better = val > best
        best = torch.where(better, val, best)
        best_idx = torch.where(better, idx + start, best_idx)
    return TreeRelease(
        max_sum=best.cpu().numpy(), select=best_idx.cpu().numpy(), scale=scale, height=tree_height(T)
    )


def binary_tree_max_fused(
    stream: ArrayLike,
    budget: PrivacyBudget,
    seed: int,
    *,
    mode: str = "auto",
    device: torch.device | str | None = None,
    chunk: int = 4096,
    block_t: int = 64,
    block_d: int = 64,
) -> TreeRelease:
    """M1 with Gaussian noise through the fused Triton kernel (``litlib.dp_continual.triton``) where it runs.

    The kernel draws each node's noise from Philox keyed by (level, node, column), so it never stores node noise
    and writes only ``T`` values per column block. Its random numbers differ from :func:`binary_tree_max`'s: the
    two agree in distribution, not bitwise, and with ``mode="torch"`` (or where Triton cannot run) this function
    simply calls :func:`binary_tree_max`.

    Args:
        stream: ``(T, d)`` 0/1 array.
        budget: an :math:`(\\epsilon, \\delta)` budget (the kernel implements Gaussian noise only).
        seed: noise seed; the output does not depend on ``chunk``, ``block_t`` or ``block_d``.
        mode: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"torch"`` or ``"triton"`` (CPU needs
            ``TRITON_INTERPRET=1``); see ``litlib.kernels.resolve_mode``.
        device: where to compute (default: CUDA if available).
        chunk: columns whose exact running counts are formed at a time (memory ``4 T chunk`` bytes).
        block_t: steps per Triton program (power of two).
        block_d: columns per Triton program (power of two).

    Raises:
        ValueError: on a pure-DP budget, bad sizes, or an unknown ``mode``.
    """
    from litlib.kernels import next_power_of_2, resolve_mode
    from litlib.runtime import get_device

    data = check_stream(stream)
    if not isinstance(budget, PrivacyBudget):
        raise TypeError(f"budget must be a PrivacyBudget; got {type(budget).__name__}")
    if budget.delta is None:
        raise ValueError(
            "binary_tree_max_fused implements Gaussian noise and needs an (epsilon, delta) budget"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    for name, value in (("chunk", chunk), ("block_t", block_t), ("block_d", block_d)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    if next_power_of_2(block_t) != block_t or next_power_of_2(block_d) != block_d:
        raise ValueError(f"block_t and block_d must be powers of two; got {block_t}, {block_d}")
    dev = get_device(device)
    chosen = resolve_mode("binary_tree_max_fused", mode, dev)
    if chosen != "triton":
        return binary_tree_max(data, budget, int(seed), device=dev)
    from litlib.dp_continual.triton import tree_max_tile

    T, d = data.shape
    sigma = tree_noise_scale(T, d, budget, "gaussian")
    H = tree_height(T)
    best = torch.full((T,), -math.inf, dtype=torch.float32, device=dev)
    best_idx = torch.zeros((T,), dtype=torch.int64, device=dev)
    for start in range(0, d, chunk):
        stop = min(start + chunk, d)
        counts = torch.from_numpy(data[:, start:stop]).to(dev).cumsum(0, dtype=torch.int32)
        val, idx, _ = tree_max_tile(counts, sigma, int(seed), start, d, H, block_t=block_t, block_d=block_d)
        better = val > best
        best = torch.where(better, val, best)
        best_idx = torch.where(better, idx, best_idx)
    return TreeRelease(max_sum=best.cpu().numpy(), select=best_idx.cpu().numpy(), scale=sigma, height=H)
