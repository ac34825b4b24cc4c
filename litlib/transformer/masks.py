"""Boolean attention masks. Convention everywhere: ``True`` means *may attend*, ``False`` means masked out."""

from __future__ import annotations

import torch


def causal_mask(
    n_queries: int, n_keys: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """A ``(n_queries, n_keys)`` causal mask aligned to the *end* of the keys (bottom-right convention).

    Query ``i`` may attend to key ``j`` when ``j <= n_keys - n_queries + i``: with a cache of ``n_keys - n_queries``
    earlier tokens, the new queries see all of them and, among themselves, only the past.

    Raises:
        ValueError: if ``n_queries`` is negative or ``n_keys < n_queries``.
    """
    n_keys = n_queries if n_keys is None else n_keys
    if n_queries < 0:
        raise ValueError(f"n_queries must be >= 0; got {n_queries}")
    if n_keys < n_queries:
        raise ValueError(f"n_keys must be >= n_queries (={n_queries}); got {n_keys}")
    q = torch.arange(n_queries, device=device)[:, None]
    k = torch.arange(n_keys, device=device)[None, :]
    return k <= q + (n_keys - n_queries)


def padding_mask(lengths: torch.Tensor | list[int], max_len: int | None = None) -> torch.Tensor:
    """A ``(B, max_len)`` mask that is ``True`` on the first ``lengths[b]`` positions of row ``b`` (right padding).

    Raises:
        ValueError: if a length is negative or exceeds ``max_len``.
    """
    lens = torch.as_tensor(lengths, dtype=torch.long)
    if lens.dim() != 1:
        raise ValueError(f"lengths must be one-dimensional; got shape {tuple(lens.shape)}")
    if (lens < 0).any():
        raise ValueError("lengths must be >= 0")
    width = int(lens.max()) if max_len is None and lens.numel() else (max_len or 0)
    if lens.numel() and int(lens.max()) > width:
        raise ValueError(f"max_len={width} is shorter than the longest length {int(lens.max())}")
    return torch.arange(width, device=lens.device)[None, :] < lens[:, None]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of broadcastable boolean masks, skipping ``None`` (returns ``None`` if all are ``None``)."""
    out: torch.Tensor | None = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise TypeError(f"masks must be boolean tensors; got {m.dtype}")
        out = m if out is None else out & m
    return out
