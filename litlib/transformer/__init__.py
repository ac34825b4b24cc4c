"""A small from-scratch transformer toolkit shared by the book's chapters (APE, FReTNA, ...).

* :class:`DecoderLM` — decoder-only LM (pre-LN blocks, RoPE with explicit position ids, pluggable attention);
* :class:`EncoderDecoder` — bidirectional encoder + causal decoder with cross-attention;
* :class:`KVCache` — per-layer keys/values with their positions; built per context by a prefill call, concatenated
  along the sequence axis (:meth:`KVCache.cat`, :meth:`KVCache.fold_rows`) and used by later decoding steps;
* :func:`greedy_decode`, :func:`beam_search` — for both model kinds, cached;
* :func:`causal_mask`, :func:`padding_mask`, :func:`combine_masks` — boolean masks (``True`` = may attend);
* :func:`apply_rope`, :func:`rope_angles` — rotary embeddings;
* :func:`train` — AdamW loop with a progress bar.

Example:
    >>> import torch
    >>> from litlib.transformer import DecoderLM, KVCache, greedy_decode
    >>> lm = DecoderLM(vocab_size=12, d_model=16, n_heads=2, n_layers=1)
    >>> _, c1 = lm(torch.tensor([[1, 2]]))                               # context 1 at positions 0, 1
    >>> _, c2 = lm(torch.tensor([[3, 4]]), positions=torch.tensor([[0, 1]]))  # context 2 reuses them
    >>> greedy_decode(lm, torch.tensor([[5]]), 3, cache=KVCache.cat([c1, c2])).shape
    torch.Size([1, 3])
"""

from __future__ import annotations

from litlib.transformer.cache import KVCache
from litlib.transformer.decoding import beam_search, greedy_decode
from litlib.transformer.masks import causal_mask, combine_masks, padding_mask
from litlib.transformer.model import (
    AttentionFn,
    Block,
    DecoderLM,
    EncoderDecoder,
    FeedForward,
    MultiHeadAttention,
    count_parameters,
    dot_product_attention,
)
from litlib.transformer.rope import apply_rope, rope_angles
from litlib.transformer.train import train

__all__ = [
    "AttentionFn",
    "Block",
    "DecoderLM",
    "EncoderDecoder",
    "FeedForward",
    "KVCache",
    "MultiHeadAttention",
    "apply_rope",
    "beam_search",
    "causal_mask",
    "combine_masks",
    "count_parameters",
    "dot_product_attention",
    "greedy_decode",
    "padding_mask",
    "rope_angles",
    "train",
]
