"""Batched canvas operations of the edit model: delete, open placeholders, fill them (all vectorised).

A canvas batch is a right-padded ``(B, T)`` tensor whose rows are ``<s> y_1 .. y_n </s> <pad> ..``.
"""

from __future__ import annotations

import torch

from litlib.fretna.data import BOS, EOS, PAD, PLH


def canvas_from_lists(rows: list[list[int]], device: torch.device | None = None) -> torch.Tensor:
    """Wrap each token list in ``<s> .. </s>`` and right-pad with ``<pad>``."""
    width = max(len(r) for r in rows) + 2 if rows else 2
    out = torch.full((len(rows), width), PAD, dtype=torch.long, device=device)
    for k, r in enumerate(rows):
        out[k, : len(r) + 2] = torch.tensor([BOS, *r, EOS], dtype=torch.long)
    return out


def canvas_to_lists(canvas: torch.Tensor) -> list[list[int]]:
    """The inner tokens of each row (without ``<s>``, ``</s>``, ``<pad>``)."""
    lengths = inner_lengths(canvas).tolist()
    return [row[1 : 1 + n] for row, n in zip(canvas.tolist(), lengths)]


def inner_lengths(canvas: torch.Tensor) -> torch.Tensor:
    """``n`` for each row: the number of tokens between ``<s>`` and ``</s>``."""
    return (canvas != PAD).sum(1) - 2


def _compact(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Move the kept entries of each row to its front, in order, padding the rest with ``<pad>``."""
    target = torch.cumsum(keep.long(), 1) - 1
    width = int(keep.sum(1).max()) if keep.numel() else 0
    out = torch.full((values.shape[0], max(width, 2)), PAD, dtype=values.dtype, device=values.device)
    rows = torch.arange(values.shape[0], device=values.device)[:, None].expand_as(values)
    out[rows[keep], target[keep]] = values[keep]
    return out


def apply_deletions(canvas: torch.Tensor, delete: torch.Tensor) -> torch.Tensor:
    """Remove the tokens marked in ``delete`` ``(B, T)``; ``<s>``, ``</s>`` and padding are never deleted."""
    protected = (canvas == BOS) | (canvas == EOS)
    keep = (canvas != PAD) & (~delete | protected)
    return _compact(canvas, keep)


def insert_placeholders(canvas: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Open ``counts[b, i]`` placeholders in the slot after position ``i`` (``(B, T - 1)``, zero on invalid slots).

    Token ``i`` moves to ``i + sum_{k < i} counts[k]``; the gaps are filled with ``PLH``.
    """
    b, t = canvas.shape
    valid = canvas != PAD
    slot_ok = valid[:, 1:] & (canvas[:, :-1] != EOS)  # a slot needs a right neighbour and must precede </s>
    counts = torch.where(slot_ok, counts.clamp_min(0), torch.zeros_like(counts))
    shift = torch.cat([torch.zeros(b, 1, dtype=torch.long, device=canvas.device), torch.cumsum(counts, 1)], 1)
    new_pos = torch.arange(t, device=canvas.device)[None, :] + shift
    new_len = valid.sum(1) + counts.sum(1)
    width = int(new_len.max())
    out = torch.full((b, width), PAD, dtype=torch.long, device=canvas.device)
    out[torch.arange(width, device=canvas.device)[None, :] < new_len[:, None]] = PLH
    rows = torch.arange(b, device=canvas.device)[:, None].expand_as(canvas)
    out[rows[valid], new_pos[valid]] = canvas[valid]
    return out


def fill_placeholders(canvas: torch.Tensor, token_logits: torch.Tensor, n_special: int = 4) -> torch.Tensor:
    """Replace each ``PLH`` by the arg-max of ``token_logits`` ``(B, T, V)`` over non-special tokens."""
    best = token_logits[..., n_special:].argmax(-1) + n_special
    return torch.where(canvas == PLH, best, canvas)


def cap_counts(canvas: torch.Tensor, counts: torch.Tensor, max_len: torch.Tensor) -> torch.Tensor:
    """Clip placeholder counts left to right so that no row's inner length exceeds ``max_len`` ``(B,)``."""
    budget = (max_len - inner_lengths(canvas)).clamp_min(0)[:, None]
    before = torch.cumsum(counts, 1) - counts
    return torch.minimum(counts, (budget - before).clamp_min(0))
