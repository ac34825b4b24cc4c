"""The two models of the chapter, built from the shared transformer toolkit (:mod:`litlib.transformer`).

* the autoregressive translator used by ReTA and Wait-k is the toolkit's :class:`~litlib.transformer.EncoderDecoder`
  (:func:`make_ar_model`);
* :class:`LevTLite` is the non-autoregressive edit model (a small Levenshtein Transformer): a bidirectional encoder,
  a decoder with *non-causal* self-attention over the canvas and cross-attention to the source, and three heads
  (deletion, placeholder insertion, token insertion). It is assembled from the toolkit's public
  :class:`~litlib.transformer.Block`; the toolkit's decoder is causal, which an edit model cannot use.

The *position-offset* input of the deletion and placeholder classifiers is FReTNA's modification (reconstructed
form: an embedding of the distance ``n + 1 - i`` of token/slot ``i`` from the end of the canvas, clipped,
concatenated to the classifier input); ``offset_mask`` switches it off per row, for the cheap ablation of the
chapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from litlib.fretna.data import BOS, EOS, PAD, PLH
from litlib.transformer import Block, EncoderDecoder, dot_product_attention


class TokenAndPosition(nn.Module):
    """Token embedding plus a learned *absolute* position embedding.

    The toolkit's transformer has only RoPE (relative positions). The reordering task needs absolute positions
    (a word's place in its window of three is its position mod 3), which a bidirectional RoPE encoder can only infer
    slowly; adding absolute embeddings makes the tiny models learn within the CPU budget.
    """

    def __init__(self, vocab_size: int, d_model: int, max_positions: int = 128) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.table = nn.Embedding(max_positions, d_model)
        self.max_positions = max_positions

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embed ``ids`` ``(B, T)`` at positions ``0..T-1``."""
        pos = torch.arange(ids.shape[1], device=ids.device)[None, :].expand_as(ids)
        return self.tokens(ids) + self.table(pos.clamp(max=self.max_positions - 1))


class ARTranslator(EncoderDecoder):
    """The autoregressive translator of ReTA and Wait-k: the toolkit's encoder-decoder (shared vocabulary, KV
    cache, RoPE) with learned absolute position embeddings added on both sides (``absolute_positions``)."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        max_positions: int = 128,
    ) -> None:
        super().__init__(
            vocab_size,
            vocab_size,
            d_model,
            n_heads,
            n_layers,
            n_layers,
            d_ff,
            absolute_positions=max_positions,
        )


def make_ar_model(
    vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, d_ff: int = 128
) -> ARTranslator:
    """The autoregressive translator for ReTA and Wait-k (2+2 layers, ``d = 64``, 4 heads, MLP 128 by default)."""
    return ARTranslator(vocab_size, d_model, n_heads, n_layers, d_ff)


@dataclass(frozen=True)
class EditLogits:
    """Logits of the three heads for one decoder pass (each head is read only where it is valid)."""

    delete: torch.Tensor  # (B, T, 2): keep / delete, for every canvas token
    placeholders: torch.Tensor  # (B, T - 1, P + 1): number of placeholders in the slot after token i
    tokens: torch.Tensor  # (B, T, V): token to write, for every canvas position


def _positions(batch: int, length: int, device: torch.device) -> torch.Tensor:
    return torch.arange(length, device=device)[None, :].expand(batch, -1)


def _self_attention_mask(valid: torch.Tensor) -> torch.Tensor:
    """Non-causal mask ``(B, 1, T, T)``: every token sees every valid token; a padded row sees itself (finite)."""
    t = valid.shape[1]
    eye = torch.eye(t, dtype=torch.bool, device=valid.device)[None, None]
    return valid[:, None, None, :] | eye


class LevTLite(nn.Module):
    """A small Levenshtein Transformer with FReTNA's optional position-offset input.

    Args:
        vocab_size: number of token ids (source and target share them).
        d_model: width.
        n_heads: heads (``d_model / n_heads`` even, for RoPE).
        n_layers: encoder and decoder depth.
        d_ff: MLP width.
        max_placeholders: largest number of placeholders one slot can receive (the head has this + 1 classes).
        offset_clip: distances from the end of the canvas are clipped to this value.
        offset_dim: width of the offset embedding; 0 disables the offset input altogether.

    Example:
        >>> m = LevTLite(vocab_size=20, d_model=16, n_heads=2, n_layers=1, d_ff=32)
        >>> src = torch.tensor([[4, 5, 6]])
        >>> canvas = torch.tensor([[1, 9, 2]])
        >>> out = m(canvas, *m.encode(src))
        >>> out.delete.shape, out.placeholders.shape, out.tokens.shape
        (torch.Size([1, 3, 2]), torch.Size([1, 2, 33]), torch.Size([1, 3, 20]))
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        max_placeholders: int = 32,
        offset_clip: int = 32,
        offset_dim: int = 16,
    ) -> None:
        super().__init__()
        for name, val in (("vocab_size", vocab_size), ("d_model", d_model), ("n_layers", n_layers)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        if not isinstance(max_placeholders, int) or max_placeholders < 1:
            raise ValueError(f"max_placeholders must be a positive int; got {max_placeholders!r}")
        if offset_clip < 1 or offset_dim < 0:
            raise ValueError(f"need offset_clip >= 1 and offset_dim >= 0; got {offset_clip}, {offset_dim}")
        self.vocab_size, self.max_placeholders = vocab_size, max_placeholders
        self.offset_clip, self.offset_dim = offset_clip, offset_dim
        self.src_embed = TokenAndPosition(vocab_size, d_model)
        self.tgt_embed = TokenAndPosition(vocab_size, d_model)
        self.encoder = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.decoder = nn.ModuleList(Block(d_model, n_heads, d_ff, cross=True) for _ in range(n_layers))
        self.ln_enc, self.ln_dec = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.offset_embed = nn.Embedding(offset_clip + 1, max(offset_dim, 1))
        self.delete_head = nn.Linear(d_model + offset_dim, 2)
        self.placeholder_head = nn.Linear(2 * d_model + offset_dim, max_placeholders + 1)
        self.token_head = nn.Linear(d_model, vocab_size)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bidirectional encoding of right-padded ``src`` ``(B, S)``; returns memory ``(B, S, d)`` and its mask."""
        _check_ids("src", src, self.vocab_size)
        valid = src != PAD
        b, s = src.shape
        x, pos, mask = self.src_embed(src), _positions(b, s, src.device), _self_attention_mask(valid)
        for layer, block in enumerate(self.encoder):
            x, _, _ = block(x, pos, mask, dot_product_attention, layer)
        return self.ln_enc(x), valid

    def decoder_states(
        self, canvas: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """Final decoder states ``(B, T, d)`` of a right-padded canvas ``<s> y_1 .. y_n </s> <pad>..``."""
        _check_ids("canvas", canvas, self.vocab_size)
        if memory.shape[0] != canvas.shape[0] or memory_mask.shape != memory.shape[:2]:
            raise ValueError("memory (B, S, d) and memory_mask (B, S) must match the canvas batch")
        b, t = canvas.shape
        x, pos, mask = (
            self.tgt_embed(canvas),
            _positions(b, t, canvas.device),
            _self_attention_mask(canvas != PAD),
        )
        for layer, block in enumerate(self.decoder):
            x, _, _ = block(x, pos, mask, dot_product_attention, layer, None, memory, memory_mask)
        return self.ln_dec(x)

    def offsets(self, canvas: torch.Tensor, offset_mask: torch.Tensor | None) -> torch.Tensor:
        """Embeddings ``(B, T, offset_dim)`` of the clipped distance ``n + 1 - i`` of position ``i`` from ``</s>``.

        For a slot (between ``i`` and ``i + 1``) the distance of its left token ``i`` is used. Rows where
        ``offset_mask`` is False get zeros (the model without the offset input).
        """
        t = canvas.shape[1]
        end = (canvas != PAD).sum(1, keepdim=True) - 1  # index of </s> = n + 1
        dist = (end - torch.arange(t, device=canvas.device)[None, :]).clamp(0, self.offset_clip)
        emb = self.offset_embed(dist)[..., : self.offset_dim]
        if offset_mask is not None:
            emb = emb * offset_mask[:, None, None].to(emb.dtype)
        return emb

    def forward(
        self,
        canvas: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        offset_mask: torch.Tensor | None = None,
    ) -> EditLogits:
        """One decoder pass over ``canvas`` and the logits of all three heads.

        Args:
            canvas: ``(B, T)`` right-padded canvases, each ``<s> .. </s>`` (placeholders are ``PLH`` tokens).
            memory: encoder output ``(B, S, d)``.
            memory_mask: ``(B, S)`` valid source positions.
            offset_mask: ``(B,)`` bool, rows that receive the position-offset input (default: all, if enabled).
        """
        h = self.decoder_states(canvas, memory, memory_mask)
        off = self.offsets(canvas, offset_mask)
        delete = self.delete_head(torch.cat([h, off], -1))
        placeholders = self.placeholder_head(torch.cat([h[:, :-1], h[:, 1:], off[:, :-1]], -1))
        tokens = self.token_head(h)
        return EditLogits(delete, placeholders, tokens)


def _check_ids(name: str, x: torch.Tensor, vocab: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dtype not in (torch.int64, torch.int32) or x.dim() != 2:
        raise TypeError(f"{name} must be a (B, T) integer tensor of token ids")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab):
        raise ValueError(f"{name} must hold ids in [0, {vocab})")


SPECIAL_TOKENS = (PAD, BOS, EOS, PLH)
