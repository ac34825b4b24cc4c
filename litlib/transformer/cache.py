"""A key/value cache that knows its positions, and can be built per context and concatenated."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVCache:
    """Per-layer keys and values of already-encoded tokens, with their position ids and validity.

    Attributes:
        keys: one ``(B, H, T, head_dim)`` tensor per layer, RoPE already applied (a cached key keeps the position
            it was encoded at).
        values: one ``(B, H, T, head_dim)`` tensor per layer.
        positions: ``(B, T)`` position ids of the cached tokens.
        key_mask: ``(B, T)`` boolean, ``False`` for padding slots that no query may attend to.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    positions: torch.Tensor
    key_mask: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.values) or not self.keys:
            raise ValueError(
                "keys and values must be non-empty lists of the same length (one entry per layer)"
            )
        b, _, t, _ = self.keys[0].shape
        for name, tensors in (("keys", self.keys), ("values", self.values)):
            for layer, x in enumerate(tensors):
                if x.dim() != 4 or x.shape[0] != b or x.shape[2] != t:
                    raise ValueError(
                        f"{name}[{layer}] must have shape (B={b}, H, T={t}, head_dim); got {x.shape}"
                    )
        if self.positions.shape != (b, t):
            raise ValueError(f"positions must have shape {(b, t)}; got {tuple(self.positions.shape)}")
        if self.key_mask.shape != (b, t) or self.key_mask.dtype != torch.bool:
            raise ValueError(f"key_mask must be a boolean tensor of shape {(b, t)}")

    @property
    def length(self) -> int:
        """Number of cached slots (padding included)."""
        return int(self.keys[0].shape[2])

    @property
    def batch_size(self) -> int:
        """Number of rows."""
        return int(self.keys[0].shape[0])

    @property
    def n_layers(self) -> int:
        """Number of layers cached."""
        return len(self.keys)

    def next_positions(self) -> torch.Tensor:
        """``(B,)``: one past the largest valid cached position of each row (0 for an empty row)."""
        masked = torch.where(self.key_mask, self.positions, torch.full_like(self.positions, -1))
        return masked.max(dim=1).values + 1 if self.length else torch.zeros_like(self.positions[:, 0])

    @staticmethod
    def cat(caches: list[KVCache]) -> KVCache:
        """Concatenate caches along the sequence axis (e.g. a shared prefix, then several contexts).

        Each cache keeps its own positions: concatenating independently encoded contexts that reuse the same
        position range is exactly parallel encoding.

        Raises:
            ValueError: if ``caches`` is empty or the caches disagree in batch size, layers or head shapes.
        """
        if not caches:
            raise ValueError("caches must be a non-empty list")
        first = caches[0]
        for c in caches[1:]:
            if c.batch_size != first.batch_size or c.n_layers != first.n_layers:
                raise ValueError("caches must agree in batch size and number of layers")
            if c.keys[0].shape[1] != first.keys[0].shape[1] or c.keys[0].shape[3] != first.keys[0].shape[3]:
                raise ValueError("caches must agree in number of heads and head dimension")
        return KVCache(
            keys=[torch.cat([c.keys[i] for c in caches], dim=2) for i in range(first.n_layers)],
            values=[torch.cat([c.values[i] for c in caches], dim=2) for i in range(first.n_layers)],
            positions=torch.cat([c.positions for c in caches], dim=1),
            key_mask=torch.cat([c.key_mask for c in caches], dim=1),
        )

    def slice(self, start: int, stop: int | None = None) -> KVCache:
        """The slots ``start:stop`` along the sequence axis (e.g. drop a prefix copied into a context cache)."""
        return KVCache(
            keys=[k[:, :, start:stop] for k in self.keys],
            values=[v[:, :, start:stop] for v in self.values],
            positions=self.positions[:, start:stop],
            key_mask=self.key_mask[:, start:stop],
        )

    def index_select(self, rows: torch.Tensor) -> KVCache:
        """Rows ``rows`` of the batch (beam reordering, or repeating a shared prefix for several contexts)."""
        return KVCache(
            keys=[k.index_select(0, rows) for k in self.keys],
            values=[v.index_select(0, rows) for v in self.values],
            positions=self.positions.index_select(0, rows),
            key_mask=self.key_mask.index_select(0, rows),
        )

    def repeat_interleave(self, n: int) -> KVCache:
        """Repeat every row ``n`` times consecutively (row ``b`` becomes rows ``b*n .. b*n+n-1``)."""
        if n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        rows = torch.arange(self.batch_size, device=self.positions.device).repeat_interleave(n)
        return self.index_select(rows)

    def fold_rows(self, n: int) -> KVCache:
        """Merge groups of ``n`` consecutive rows into one row by concatenating their slots.

        Rows ``b*n .. b*n+n-1`` (e.g. the ``n`` contexts of request ``b``, encoded as a batch) become row ``b``,
        their sequences laid end to end: the batched form of :meth:`cat`.

        Raises:
            ValueError: if the batch size is not a multiple of ``n``.
        """
        if n < 1 or self.batch_size % n:
            raise ValueError(f"n must divide the batch size {self.batch_size}; got {n}")
        b = self.batch_size // n

        def fold(x: torch.Tensor) -> torch.Tensor:
            _, h, t, d = x.shape
            return x.reshape(b, n, h, t, d).transpose(1, 2).reshape(b, h, n * t, d)

        return KVCache(
            keys=[fold(k) for k in self.keys],
            values=[fold(v) for v in self.values],
            positions=self.positions.reshape(b, n * self.length),
            key_mask=self.key_mask.reshape(b, n * self.length),
        )
