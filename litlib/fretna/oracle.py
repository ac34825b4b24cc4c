"""The edit oracle, batched and vectorised in PyTorch (anti-diagonal DP + lock-step back-trace).

A training step of the edit model needs oracle targets for 32-64 canvas/reference pairs whose canvases come from the
model's own output; this computes all of them with ``O(|a| + |b|)`` tensor operations instead of ``O(B |a| |b|)``
Python steps. It uses exactly the tie-break of :func:`litlib.fretna.reference.edit_oracle` (match equal tokens,
else delete before insert), so the two agree token for token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BatchedEditTargets:
    """Oracle targets for a batch (padded; entries beyond a pair's lengths are False/0).

    Attributes:
        delete: ``(B, N)`` bool, canvas tokens to delete.
        inserted: ``(B, M)`` bool, reference tokens to insert (token-insertion targets).
        placeholders: ``(B, N + 1)`` int64, insertions per slot (slot ``k`` before kept token ``k``).
        distance: ``(B,)`` int64, insertions + deletions.
    """

    delete: torch.Tensor
    inserted: torch.Tensor
    placeholders: torch.Tensor
    distance: torch.Tensor


def _check_batch(name: str, x: torch.Tensor, lengths: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{name} must be a (B, T) integer tensor")
    if not isinstance(lengths, torch.Tensor) or lengths.shape != (x.shape[0],):
        raise ValueError(f"{name}_lengths must be a ({x.shape[0]},) tensor")
    if bool((lengths < 0).any()) or bool((lengths > x.shape[1]).any()):
        raise ValueError(f"{name}_lengths must lie in [0, {x.shape[1]}]")


def lcs_tables(a: torch.Tensor, a_len: torch.Tensor, b: torch.Tensor, b_len: torch.Tensor) -> torch.Tensor:
    """Suffix LCS tables ``L[:, i, j] = LCS(a[i:n], b[j:m])`` for a batch, shape ``(B, N+1, M+1)``.

    Cells on one anti-diagonal ``i + j = d`` depend only on diagonals ``d+1`` and ``d+2``, so each diagonal is one
    vectorised update. Padding is made unmatchable (distinct sentinels), which keeps the table zero beyond the
    lengths without any masking in the recursion.
    """
    _check_batch("a", a, a_len)
    _check_batch("b", b, b_len)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must have the same batch size; got {a.shape[0]} and {b.shape[0]}")
    B, N = a.shape
    M = b.shape[1]
    cols_a = torch.arange(N, device=a.device)
    cols_b = torch.arange(M, device=b.device)
    a_pad = torch.where(cols_a[None] < a_len[:, None], a.long(), torch.full_like(a.long(), -1))
    b_pad = torch.where(cols_b[None] < b_len[:, None], b.long(), torch.full_like(b.long(), -2))
    L = torch.zeros(B, N + 1, M + 1, dtype=torch.int64, device=a.device)
    for d in range(N + M - 2, -1, -1):
        ii = torch.arange(max(0, d - M + 1), min(N - 1, d) + 1, device=a.device)
        jj = d - ii
        eq = a_pad[:, ii] == b_pad[:, jj]
        diag = L[:, ii + 1, jj + 1] + 1
        best = torch.maximum(L[:, ii + 1, jj], L[:, ii, jj + 1])
        L[:, ii, jj] = torch.where(eq, diag, best)
    return L


def edit_oracle_batched(
    a: torch.Tensor, a_len: torch.Tensor, b: torch.Tensor, b_len: torch.Tensor
) -> BatchedEditTargets:
    """LevT targets turning each canvas ``a[k, :a_len[k]]`` into ``b[k, :b_len[k]]`` (specials excluded).

    Args:
        a: ``(B, N)`` canvases (padding arbitrary).
        a_len: ``(B,)`` canvas lengths.
        b: ``(B, M)`` references.
        b_len: ``(B,)`` reference lengths.

    Returns:
        ``BatchedEditTargets``, equal to the NumPy reference ``edit_oracle`` pair by pair.
    """
    L = lcs_tables(a, a_len, b, b_len)
    B, N = a.shape
    M = b.shape[1]
    dev = a.device
    rows = torch.arange(B, device=dev)
    i = torch.zeros(B, dtype=torch.int64, device=dev)
    j = torch.zeros_like(i)
    kept = torch.zeros_like(i)
    delete = torch.zeros(B, N + 1, dtype=torch.bool, device=dev)  # one spare column absorbs inactive writes
    inserted = torch.zeros(B, M + 1, dtype=torch.bool, device=dev)
    plh = torch.zeros(B, N + 2, dtype=torch.int64, device=dev)
    a_ext = torch.cat([a.long(), torch.full((B, 1), -1, device=dev, dtype=torch.int64)], 1)
    b_ext = torch.cat([b.long(), torch.full((B, 1), -2, device=dev, dtype=torch.int64)], 1)
    a_len, b_len = a_len.long(), b_len.long()
    for _ in range(N + M):
        has_a, has_b = i < a_len, j < b_len
        if not bool((has_a | has_b).any()):
            break
        match = has_a & has_b & (a_ext[rows, i] == b_ext[rows, j])
        i1, j1 = (i + 1).clamp(max=N), (j + 1).clamp(max=M)
        prefer_delete = L[rows, i1, j] >= L[rows, i, j1]
        dele = has_a & ~match & (~has_b | prefer_delete)
        ins = has_b & ~match & ~dele
        delete[rows, torch.where(dele, i, N)] = dele
        inserted[rows, torch.where(ins, j, M)] = ins
        plh[rows, torch.where(ins, kept, N + 1)] += ins.long()
        kept += match.long()
        i += (match | dele).long()
        j += (match | ins).long()
    delete, inserted = delete[:, :N], inserted[:, :M]
    distance = delete.sum(1) + inserted.sum(1)
    return BatchedEditTargets(delete, inserted, plh[:, : N + 1], distance)
