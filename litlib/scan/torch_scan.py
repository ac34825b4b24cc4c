"""Parallel scans in plain PyTorch: Hillis–Steele (log depth) and a chunked two-level scan.

Both compute ``y_t = A_t y_{t-1} + b_t`` forward in time, ``y_0 = h0``, for the structures of
:mod:`litlib.scan.reference`. They also return the cumulative matrices ``P_t = A_t ... A_1``, which a caller
needs to carry a state into a later chunk (``y_t`` given ``h0`` is ``y_t(0) + P_t h0``).
"""

from __future__ import annotations

import torch

from litlib.scan.reference import apply, compose, time_dim


def hillis_steele(A: torch.Tensor, b: torch.Tensor, structure: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan by recursive doubling: after sweep ``i`` position ``t`` has absorbed ``t - 2^i + 1 .. t``.

    Sweep with stride ``s`` combines every ``t >= s`` with ``t - s``, reading only pre-sweep values (the
    out-of-place ``cat`` guarantees this). ``ceil(log2 L)`` sweeps, ``O(L log L)`` work.

    Returns:
        ``(P, y)``: cumulative products ``P_t = A_t...A_1`` and states with ``h0 = 0``.
    """
    tdim = time_dim(b, structure)
    L = b.shape[tdim]
    s = 1
    while s < L:
        A_late, A_early = A.narrow(tdim, s, L - s), A.narrow(tdim, 0, L - s)
        b_late, b_early = b.narrow(tdim, s, L - s), b.narrow(tdim, 0, L - s)
        b = torch.cat([b.narrow(tdim, 0, s), apply(A_late, b_early, structure) + b_late], dim=tdim)
        A = torch.cat([A.narrow(tdim, 0, s), compose(A_late, A_early, structure)], dim=tdim)
        s *= 2
    return A, b


def _identity_like(A: torch.Tensor, structure: str) -> torch.Tensor:
    if structure == "diag":
        return torch.ones_like(A)
    eye = torch.eye(2, dtype=A.dtype, device=A.device)
    return eye.expand_as(A).clone()


def chunked(
    A: torch.Tensor, b: torch.Tensor, structure: str, chunk: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-level scan: Hillis–Steele inside chunks of ``chunk`` steps, then a scan over the chunk summaries.

    Work ``O(L log chunk + (L/chunk) log(L/chunk))`` instead of ``O(L log L)``; the same result as
    :func:`hillis_steele` up to round-off. Returns ``(P, y)`` like it.

    Raises:
        ValueError: if ``chunk < 2`` (the recursion over chunk summaries would not shrink).
    """
    if chunk < 2:
        raise ValueError(f"chunk must be >= 2; got {chunk}")
    tdim = time_dim(b, structure)
    L = b.shape[tdim]
    if chunk >= L:
        return hillis_steele(A, b, structure)
    n = -(-L // chunk)
    pad = n * chunk - L
    if pad:
        pad_A = _identity_like(A.narrow(tdim, 0, 1), structure).expand(
            *A.shape[:tdim], pad, *A.shape[tdim + 1 :]
        )
        A = torch.cat([A, pad_A], dim=tdim)
        b = torch.cat([b, b.new_zeros(*b.shape[:tdim], pad, *b.shape[tdim + 1 :])], dim=tdim)
    # (..., n*chunk, rest) -> (..., n, chunk, rest): the inner scan runs over the new time dimension tdim + 1.
    A4 = A.reshape(*A.shape[:tdim], n, chunk, *A.shape[tdim + 1 :])
    b4 = b.reshape(*b.shape[:tdim], n, chunk, *b.shape[tdim + 1 :])
    P_loc, y_loc = hillis_steele(A4, b4, structure)
    # Chunk summaries (last position of each chunk), scanned across chunks.
    P_end, y_end = chunked(
        P_loc.select(tdim + 1, chunk - 1), y_loc.select(tdim + 1, chunk - 1), structure, chunk
    )
    # State entering chunk k is y_end[k-1] (zero for the first chunk).
    carry = torch.cat([torch.zeros_like(y_end.narrow(tdim, 0, 1)), y_end.narrow(tdim, 0, n - 1)], dim=tdim)
    P_before = torch.cat(
        [_identity_like(P_end.narrow(tdim, 0, 1), structure), P_end.narrow(tdim, 0, n - 1)], tdim
    )
    y = y_loc + apply(P_loc, carry.unsqueeze(tdim + 1), structure)
    P = compose(P_loc, P_before.unsqueeze(tdim + 1), structure)
    y = y.reshape(*b.shape).narrow(tdim, 0, L)
    P = P.reshape(*A.shape).narrow(tdim, 0, L)
    return P, y


def scan_torch(
    A: torch.Tensor, b: torch.Tensor, structure: str, h0: torch.Tensor | None = None, chunk: int = 64
) -> torch.Tensor:
    """Forward scan with an initial state, by :func:`chunked` (which is Hillis–Steele for ``L <= chunk``)."""
    P, y = chunked(A, b, structure, chunk)
    if h0 is not None:
        y = y + apply(P, h0.unsqueeze(time_dim(b, structure)), structure)
    return y
