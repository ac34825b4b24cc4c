"""A small pre-LN transformer written from scratch: decoder-only LM and encoder-decoder, with RoPE and KV caches.

Every attention call goes through an *attention function* ``attn_fn(q, k, v, mask, layer) -> out`` with
``q: (B, H, Tq, d)``, ``k, v: (B, H, Tk, d)`` (RoPE applied), ``mask: (B, 1, Tq, Tk)`` boolean (``True`` = may
attend) and the layer index. The default is exact softmax attention (:func:`dot_product_attention`); a method that
changes only how queries attend (APE's query phase, for instance) passes its own function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from litlib.transformer.cache import KVCache
from litlib.transformer.masks import causal_mask
from litlib.transformer.rope import apply_rope

AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


def dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, layer: int = 0
) -> torch.Tensor:
    """Exact softmax attention ``softmax(q k^T / sqrt(d) masked) v`` (the default attention function)."""
    del layer
    return functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _check_tokens(name: str, tokens: torch.Tensor, vocab: int) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype not in (torch.long, torch.int32, torch.int64):
        raise TypeError(f"{name} must be an integer tensor of token ids")
    if tokens.dim() != 2:
        raise ValueError(f"{name} must have shape (B, T); got {tuple(tokens.shape)}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab):
        raise ValueError(
            f"{name} must hold ids in [0, {vocab}); got range [{int(tokens.min())}, {int(tokens.max())}]"
        )


class MultiHeadAttention(nn.Module):
    """Multi-head attention with optional RoPE (self-attention) and a pluggable attention function."""

    def __init__(self, d_model: int, n_heads: int, rope: bool = True, rope_base: float = 10000.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        if rope and self.head_dim % 2:
            raise ValueError(f"head dimension must be even for RoPE; got {self.head_dim}")
        self.rope, self.rope_base = rope, rope_base
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def project_kv(
        self, x: torch.Tensor, positions: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys (rotated to ``positions`` when RoPE is on) and values of ``x``, each ``(B, H, T, head_dim)``."""
        k, v = self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        if self.rope and positions is not None:
            k = apply_rope(k, positions, self.rope_base)
        return k, v

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor | None,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor,
        attn_fn: AttentionFn,
        layer: int,
    ) -> torch.Tensor:
        """Attend from ``x`` (queries at ``positions``) to the given keys/values under ``mask``."""
        q = self._heads(self.q_proj(x))
        if self.rope and positions is not None:
            q = apply_rope(q, positions, self.rope_base)
        o = attn_fn(q, k, v, mask, layer)
        b, _, t, _ = o.shape
        return self.out(o.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    """The position-wise MLP ``W2 gelu(W1 x)``."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP."""
        return self.down(functional.gelu(self.up(x)))


class Block(nn.Module):
    """Pre-LN transformer block: self-attention, optional cross-attention, MLP, each in a residual branch."""

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, cross: bool = False, rope_base: float = 10000.0
    ):
        super().__init__()
        self.ln_attn, self.ln_mlp = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, rope=True, rope_base=rope_base)
        self.mlp = FeedForward(d_model, d_ff)
        self.cross: MultiHeadAttention | None = None
        if cross:
            self.ln_cross = nn.LayerNorm(d_model)
            self.cross = MultiHeadAttention(d_model, n_heads, rope=False)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor,
        attn_fn: AttentionFn,
        layer: int,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One block; returns the output and this call's *new* keys and values (to append to a cache)."""
        h = self.ln_attn(x)
        k_new, v_new = self.attn.project_kv(h, positions)
        k, v = (
            (k_new, v_new)
            if past is None
            else (torch.cat([past[0], k_new], 2), torch.cat([past[1], v_new], 2))
        )
        x = x + self.attn(h, positions, k, v, mask, attn_fn, layer)
        if self.cross is not None:
            if memory is None or memory_mask is None:
                raise ValueError("a cross-attention block needs memory and memory_mask")
            h = self.ln_cross(x)
            km, vm = self.cross.project_kv(memory, None)
            cmask = memory_mask[:, None, None, :].expand(-1, 1, x.shape[1], -1)
            x = x + self.cross(h, None, km, vm, cmask, dot_product_attention, layer)
        return x + self.mlp(self.ln_mlp(x)), k_new, v_new


def _default_positions(tokens: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
    start = cache.next_positions() if cache is not None else torch.zeros_like(tokens[:, 0])
    return start[:, None] + torch.arange(tokens.shape[1], device=tokens.device)[None, :]


def _self_mask(
    n_new: int,
    cache: KVCache | None,
    key_padding: torch.Tensor | None,
    attn_mask: torch.Tensor | None,
    batch: int,
    device: torch.device,
) -> torch.Tensor:
    """The ``(B, 1, T_new, T_cache + T_new)`` mask: cached valid slots, causal among new tokens, padding out."""
    n_cache = 0 if cache is None else cache.length
    mask = causal_mask(n_new, n_cache + n_new, device=device)[None, None].expand(batch, 1, -1, -1)
    valid = [] if cache is None else [cache.key_mask]
    valid.append(
        key_padding if key_padding is not None else torch.ones(batch, n_new, dtype=torch.bool, device=device)
    )
    mask = mask & torch.cat(valid, dim=1)[:, None, None, :]
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool or attn_mask.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"attn_mask must be boolean with trailing shape {tuple(mask.shape[-2:])}")
        mask = mask & (attn_mask if attn_mask.dim() == 4 else attn_mask[:, None])
    return mask


class _Stack(nn.Module):
    """A stack of blocks run over new tokens with an optional cache; shared by the LM and the decoder."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, cross: bool, rope_base: float):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, cross, rope_base) for _ in range(n_layers))
        self.ln_final = nn.LayerNorm(d_model)

    def run(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor,
        cache: KVCache | None,
        attn_fn: AttentionFn,
        new_valid: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            past = None if cache is None else (cache.keys[i], cache.values[i])
            x, k, v = block(x, positions, mask, attn_fn, i, past, memory, memory_mask)
            keys.append(k if past is None else torch.cat([past[0], k], 2))
            values.append(v if past is None else torch.cat([past[1], v], 2))
        pos_all = positions if cache is None else torch.cat([cache.positions, positions], 1)
        valid_all = new_valid if cache is None else torch.cat([cache.key_mask, new_valid], 1)
        return self.ln_final(x), KVCache(keys, values, pos_all.long(), valid_all)


def _check_cache(cache: KVCache | None, batch: int, n_layers: int) -> None:
    if cache is None:
        return
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache must be a KVCache; got {type(cache).__name__}")
    if cache.batch_size != batch or cache.n_layers != n_layers:
        raise ValueError(
            f"cache has batch {cache.batch_size} and {cache.n_layers} layers; expected batch {batch}, {n_layers} layers"
        )


def _check_positions(positions: torch.Tensor, tokens: torch.Tensor) -> None:
    if positions.shape != tokens.shape:
        raise ValueError(
            f"positions must have the shape of the tokens {tuple(tokens.shape)}; got {positions.shape}"
        )


class DecoderLM(nn.Module):
    """A decoder-only language model: embeddings, pre-LN blocks with RoPE self-attention, final LN, LM head.

    Args:
        vocab_size: number of token ids.
        d_model: width.
        n_heads: attention heads (``d_model / n_heads`` must be even for RoPE).
        n_layers: number of blocks.
        d_ff: MLP width (default ``4 * d_model``).
        rope_base: RoPE base.
        embedding: optional module mapping ``(B, T)`` ids to ``(B, T, d_model)`` (e.g. a factorised embedding);
            default ``nn.Embedding(vocab_size, d_model)``.

    Example:
        >>> lm = DecoderLM(vocab_size=10, d_model=16, n_heads=2, n_layers=1)
        >>> logits, cache = lm(torch.tensor([[1, 2, 3]]))
        >>> logits.shape, cache.length
        (torch.Size([1, 3, 10]), 3)
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int | None = None,
        rope_base: float = 10000.0,
        embedding: nn.Module | None = None,
    ) -> None:
        super().__init__()
        for name, val in (("vocab_size", vocab_size), ("d_model", d_model), ("n_heads", n_heads)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int; got {n_layers!r}")
        self.vocab_size, self.n_layers = vocab_size, n_layers
        self.embed = embedding if embedding is not None else nn.Embedding(vocab_size, d_model)
        self.stack = _Stack(n_layers, d_model, n_heads, d_ff or 4 * d_model, False, rope_base)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
        *,
        key_padding: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        attn_fn: AttentionFn = dot_product_attention,
        logits_for: str = "all",
    ) -> tuple[torch.Tensor, KVCache]:
        """Run ``tokens`` after an optional cache; returns logits ``(B, T, V)`` and the extended cache.

        Args:
            tokens: ``(B, T)`` token ids.
            positions: ``(B, T)`` position ids; default continues after the cache's largest position (or 0..T-1).
            cache: keys/values of earlier tokens; new tokens see all its valid slots and each other causally.
            key_padding: ``(B, T)`` boolean, ``False`` on padding tokens (no query attends to them).
            attn_mask: extra boolean mask ``(B, [1,] T, T_cache + T)`` ANDed with the causal/padding mask
                (e.g. a block mask for a parallel-encoding layout in one pass).
            attn_fn: the attention function (default exact softmax attention).
            logits_for: ``"all"`` (default), ``"last"`` (logits of the last token only, ``(B, 1, V)``: saves the
                LM head on long prompts) or ``"none"`` (an empty ``(B, 0, V)`` tensor: cache building only).
        """
        if logits_for not in ("all", "last", "none"):
            raise ValueError(f"logits_for must be 'all', 'last' or 'none'; got {logits_for!r}")
        _check_tokens("tokens", tokens, self.vocab_size)
        b, t = tokens.shape
        _check_cache(cache, b, self.n_layers)
        positions = _default_positions(tokens, cache) if positions is None else positions
        _check_positions(positions, tokens)
        if key_padding is not None and (key_padding.shape != tokens.shape or key_padding.dtype != torch.bool):
            raise ValueError(f"key_padding must be a boolean tensor of shape {tuple(tokens.shape)}")
        mask = _self_mask(t, cache, key_padding, attn_mask, b, tokens.device)
        new_valid = key_padding if key_padding is not None else torch.ones_like(tokens, dtype=torch.bool)
        h, new_cache = self.stack.run(self.embed(tokens), positions, mask, cache, attn_fn, new_valid)
        h = h if logits_for == "all" else h[:, -1:] if logits_for == "last" else h[:, :0]
        return self.head(h), new_cache


class EncoderDecoder(nn.Module):
    """An encoder–decoder transformer: bidirectional RoPE encoder, causal RoPE decoder with cross-attention.

    Args:
        src_vocab: source vocabulary size.
        tgt_vocab: target vocabulary size.
        d_model: width.
        n_heads: heads.
        n_encoder_layers: encoder depth.
        n_decoder_layers: decoder depth.
        d_ff: MLP width (default ``4 * d_model``).
        rope_base: RoPE base.
        absolute_positions: if set, also add learned absolute position embeddings (a table of this many positions,
            later ones clamped to the last) to both sides, at the same explicit position ids RoPE uses. Tasks whose
            rule depends on a token's absolute place (e.g. position mod 3) learn it much faster this way.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_encoder_layers: int = 2,
        n_decoder_layers: int = 2,
        d_ff: int | None = None,
        rope_base: float = 10000.0,
        absolute_positions: int | None = None,
    ) -> None:
        super().__init__()
        for name, val in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("d_model", d_model)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        for name, val in (("n_encoder_layers", n_encoder_layers), ("n_decoder_layers", n_decoder_layers)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        self.src_vocab, self.tgt_vocab, self.n_decoder_layers = src_vocab, tgt_vocab, n_decoder_layers
        ff = d_ff or 4 * d_model
        self.src_embed, self.tgt_embed = nn.Embedding(src_vocab, d_model), nn.Embedding(tgt_vocab, d_model)
        self.encoder = _Stack(n_encoder_layers, d_model, n_heads, ff, False, rope_base)
        self.decoder = _Stack(n_decoder_layers, d_model, n_heads, ff, True, rope_base)
        self.head = nn.Linear(d_model, tgt_vocab, bias=False)
        if absolute_positions is not None and (
            not isinstance(absolute_positions, int) or absolute_positions < 1
        ):
            raise ValueError(f"absolute_positions must be a positive int or None; got {absolute_positions!r}")
        self.src_pos = nn.Embedding(absolute_positions, d_model) if absolute_positions else None
        self.tgt_pos = nn.Embedding(absolute_positions, d_model) if absolute_positions else None

    @staticmethod
    def _embed(
        tokens: nn.Module, table: nn.Embedding | None, ids: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        x: torch.Tensor = tokens(ids)
        if table is not None:
            x = x + table(positions.clamp(max=table.num_embeddings - 1))
        return x

    def encode(
        self, src: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``src`` ``(B, S)``; returns the memory ``(B, S, d_model)`` and its mask ``(B, S)``.

        ``src_mask`` is ``False`` on padding tokens (right padding keeps positions 0..len-1 of real tokens).
        """
        _check_tokens("src", src, self.src_vocab)
        b, s = src.shape
        valid = torch.ones_like(src, dtype=torch.bool) if src_mask is None else src_mask
        if valid.shape != src.shape or valid.dtype != torch.bool:
            raise ValueError(f"src_mask must be a boolean tensor of shape {tuple(src.shape)}")
        positions = torch.arange(s, device=src.device)[None, :].expand(b, -1)
        mask = valid[:, None, None, :].expand(b, 1, s, s)
        # a padded query row would see nothing if all keys were padding; let it see itself to stay finite
        mask = mask | torch.eye(s, dtype=torch.bool, device=src.device)[None, None]
        x = self._embed(self.src_embed, self.src_pos, src, positions)
        h, _ = self.encoder.run(x, positions, mask, None, dot_product_attention, valid)
        return h, valid

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        cache: KVCache | None = None,
        positions: torch.Tensor | None = None,
        attn_fn: AttentionFn = dot_product_attention,
    ) -> tuple[torch.Tensor, KVCache]:
        """Decoder logits ``(B, T, V)`` for ``tgt`` after an optional self-attention cache, and the new cache."""
        _check_tokens("tgt", tgt, self.tgt_vocab)
        b, t = tgt.shape
        if memory.dim() != 3 or memory.shape[0] != b or memory_mask.shape != memory.shape[:2]:
            raise ValueError("memory must be (B, S, d_model) with memory_mask (B, S) for the same batch")
        _check_cache(cache, b, self.n_decoder_layers)
        positions = _default_positions(tgt, cache) if positions is None else positions
        _check_positions(positions, tgt)
        mask = _self_mask(t, cache, None, None, b, tgt.device)
        new_valid = torch.ones_like(tgt, dtype=torch.bool)
        x = self._embed(self.tgt_embed, self.tgt_pos, tgt, positions)
        h, new_cache = self.decoder.run(x, positions, mask, cache, attn_fn, new_valid, memory, memory_mask)
        return self.head(h), new_cache

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, V)`` of ``tgt`` given ``src``."""
        memory, mmask = self.encode(src, src_mask)
        logits, _ = self.decode(tgt, memory, mmask)
        return logits


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
