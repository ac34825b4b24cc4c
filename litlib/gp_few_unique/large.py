"""Mini-GP-UCB/EI for large candidate sets in PyTorch: a streamed posterior + acquisition + argmax per epoch.

Once per epoch, for all ``A`` candidates, the hot loop computes the kernel row ``k_q(x)`` against the ``q`` unique
points, ``b(x) = L^{-1} W^{1/2} k_q(x)`` (a GEMM with a precomputed ``q x q`` matrix), ``mu = b^T alpha``,
``sigma^2 = 1 - ||b||^2``, the acquisition and an argmax. Processing the candidates in chunks keeps the
intermediate at ``chunk x q`` instead of ``A x q`` (2 GB in fp32 at ``A = 10^6, q = 500``). Runs on any torch device;
the NumPy implementation in :mod:`litlib.gp_few_unique.optimize` is its reference.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from litlib.gp_few_unique._checks import as_nonnegative_float, as_positive_float, as_positive_int
from litlib.gp_few_unique.acquisition import epoch_length
from litlib.gp_few_unique.optimize import RunResult, noise_rng

_INV_SQRT_2PI = 0.3989422804014327


def _rbf(X: torch.Tensor, Y: torch.Tensor, lengthscale: float) -> torch.Tensor:
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * (X @ Y.T)
    return torch.exp(-sq.clamp_min(0.0) / (2.0 * lengthscale * lengthscale))


def _scores(
    mu: torch.Tensor, var: torch.Tensor, acquisition: str, beta: float, nu: float, incumbent: float
) -> torch.Tensor:
    sd = var.sqrt()
    if acquisition == "ucb":
        return mu + beta * sd
    scale = nu * sd
    gap = mu - incumbent
    z = gap / scale.clamp_min(1e-300)
    ei = scale * (z * torch.special.ndtr(z) + _INV_SQRT_2PI * torch.exp(-0.5 * z * z))
    return torch.where(scale > 0, ei, gap.clamp_min(0.0))


@torch.no_grad()
def streamed_argmax(
    candidates: torch.Tensor,
    unique_idx: torch.Tensor,
    counts: torch.Tensor,
    ysum: torch.Tensor,
    lengthscale: float,
    lam: float,
    *,
    acquisition: str = "ucb",
    beta: float = 1.0,
    nu: float = 1.0,
    chunk_size: int = 65536,
) -> tuple[int, float]:
    """argmax of the acquisition over all candidates on the unique-point posterior, streamed in chunks.

    Args:
        candidates: ``(A, d)`` candidates on the compute device.
        unique_idx: ``(q,)`` long indices of the unique points (``q = 0`` means the prior).
        counts: ``(q,)`` evaluation counts (same dtype/device as ``candidates``).
        ysum: ``(q,)`` summed feedback.
        lengthscale: RBF lengthscale.
        lam: regulariser ``lambda``.
        acquisition: ``"ucb"`` or ``"ei"``.
        beta: UCB width on ``sigma``.
        nu: EI exploration scale.
        chunk_size: candidates processed at once (memory ``O(chunk_size * q)``).

    Returns:
        ``(index, var)``: the first index attaining the maximum and its posterior variance.

    Raises:
        ValueError: on an unknown acquisition or mismatched shapes.
    """
    if acquisition not in ("ucb", "ei"):
        raise ValueError(f"acquisition must be 'ucb' or 'ei'; got {acquisition!r}")
    if candidates.ndim != 2:
        raise ValueError(f"candidates must be (A, d); got shape {tuple(candidates.shape)}")
    q = int(unique_idx.numel())
    if counts.shape != (q,) or ysum.shape != (q,):
        raise ValueError(
            f"counts and ysum must have shape ({q},); got {tuple(counts.shape)}, {tuple(ysum.shape)}"
        )
    chunk = as_positive_int(chunk_size, "chunk_size")
    A = candidates.shape[0]
    if q == 0:  # prior: mu = 0, var = 1 everywhere, so every candidate ties and the first one wins
        return 0, 1.0
    U = candidates[unique_idx]
    root_w = counts.sqrt()
    eye = torch.eye(q, dtype=candidates.dtype, device=candidates.device)
    L = torch.linalg.cholesky(root_w[:, None] * _rbf(U, U, lengthscale) * root_w[None, :] + lam * eye)
    G = torch.linalg.solve_triangular(L, torch.diag(root_w), upper=False)  # L^{-1} W^{1/2}
    alpha = torch.linalg.solve_triangular(L, (ysum / root_w)[:, None], upper=False)[:, 0]
    incumbent = 0.0
    if acquisition == "ei":
        incumbent = float(((_rbf(U, U, lengthscale) @ G.T) @ alpha).max())
    best_val, best_idx, best_var = -float("inf"), 0, 1.0
    for start in range(0, A, chunk):
        Bc = _rbf(candidates[start : start + chunk], U, lengthscale) @ G.T  # (chunk, q): rows are b(x)^T
        var = (1.0 - (Bc * Bc).sum(1)).clamp_min(0.0)
        score = _scores(Bc @ alpha, var, acquisition, beta, nu, incumbent)
        j = int(torch.argmax(score))
        val = float(score[j])
        if val > best_val:  # strict: earlier chunks win ties, as a global argmax would
            best_val, best_idx, best_var = val, start + j, float(var[j])
    return best_idx, best_var


def run_mini_torch(
    candidates: torch.Tensor,
    values: np.ndarray,
    noise_sd: float,
    horizon: int,
    *,
    acquisition: str = "ucb",
    ratio_threshold: float = 2.0,
    lengthscale: float = 0.2,
    lam: float | None = None,
    beta: float = 1.0,
    nu: float = 1.0,
    seed: int = 0,
    chunk_size: int = 65536,
) -> RunResult:
    """Mini-GP-UCB/EI with the streamed posterior of :func:`streamed_argmax` (any torch device, any ``A``).

    The sufficient statistics (unique indices, counts, sums) live on the host; per epoch only ``O(q)`` numbers move
    to the device. The evaluation noise is drawn exactly as in :func:`litlib.gp_few_unique.run_mini`
    (same :func:`~litlib.gp_few_unique.noise_rng` stream), so on the same problem both make the same decisions up to
    round-off.

    Args:
        candidates: ``(A, d)`` candidates (device and dtype used for the posterior).
        values: ``(A,)`` true function values on the host (the oracle and the regret).
        noise_sd: evaluation noise ``xi``.
        horizon: number of evaluations ``T``.
        acquisition: ``"ucb"`` or ``"ei"``.
        ratio_threshold: ``C > 1``.
        lengthscale: RBF lengthscale.
        lam: regulariser (default ``noise_sd ** 2``).
        beta: UCB width on ``sigma``.
        nu: EI exploration scale.
        seed: seed of the evaluation noise.
        chunk_size: candidates per chunk.

    Returns:
        a :class:`~litlib.gp_few_unique.RunResult` (``log_det`` is the chain-rule sum).
    """
    if not isinstance(candidates, torch.Tensor) or candidates.ndim != 2:
        raise TypeError("candidates must be a 2-D torch.Tensor (A, d)")
    vals = np.asarray(values, dtype=float)
    A = candidates.shape[0]
    if vals.shape != (A,):
        raise ValueError(f"values must have shape ({A},); got {vals.shape}")
    T = as_positive_int(horizon, "horizon")
    xi = as_nonnegative_float(noise_sd, "noise_sd")
    lam_v = as_positive_float(xi**2 if lam is None else lam, "lam")
    C = as_positive_float(ratio_threshold, "ratio_threshold")
    if C <= 1:
        raise ValueError(f"ratio_threshold must be > 1; got {ratio_threshold}")
    rng = noise_rng(seed)
    slot: dict[int, int] = {}
    uniq: list[int] = []
    counts: list[float] = []
    sums: list[float] = []
    actions = np.empty(T, dtype=int)
    ys = np.empty(T)
    starts: list[int] = []
    lengths: list[int] = []
    s2s: list[float] = []
    dev, dt = candidates.device, candidates.dtype
    t = 0
    start = time.perf_counter()
    while t < T:
        i, var = streamed_argmax(
            candidates,
            torch.tensor(uniq, dtype=torch.long, device=dev),
            torch.tensor(counts, dtype=dt, device=dev),
            torch.tensor(sums, dtype=dt, device=dev),
            lengthscale,
            lam_v,
            acquisition=acquisition,
            beta=beta,
            nu=nu,
            chunk_size=chunk_size,
        )
        s2 = var / lam_v
        B = epoch_length(s2, C, T - t)
        y = vals[i] + xi * rng.standard_normal(B)
        if i not in slot:  # a re-selected point only gets its count incremented
            slot[i] = len(uniq)
            uniq.append(i)
            counts.append(0.0)
            sums.append(0.0)
        counts[slot[i]] += B
        sums[slot[i]] += float(y.sum())
        actions[t : t + B], ys[t : t + B] = i, y
        starts.append(t)
        lengths.append(B)
        s2s.append(s2)
        t += B
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    lengths_a, s2_a = np.array(lengths), np.array(s2s)
    return RunResult(
        method="mini-gp-" + acquisition,
        actions=actions,
        observations=ys,
        instant_regret=vals.max() - vals[actions],
        epoch_starts=np.array(starts),
        epoch_lengths=lengths_a,
        epoch_normalised_var=s2_a,
        log_det=float(np.log1p(lengths_a * s2_a).sum()),
        n_unique=len(uniq),
        seconds=seconds,
    )
