"""APE: Faster and Longer Context-Augmented Generation via Adaptive Parallel Encoding (Yang, Chen, Chen, ICLR 2025).

Contexts are encoded independently (their KV caches can be computed once and reused), all starting at the same
position after a shared prefix; the query then attends to the pooled contexts with a temperature ``T`` and a mass
scaling ``S``. This package implements it over :mod:`litlib.transformer`'s caches:

* :func:`ape_attention` — the query-phase attention (torch two-block LSE merge; Triton one-pass kernel);
  :class:`ApeAttention` plugs it into a :class:`~litlib.transformer.DecoderLM`;
* :func:`ape_forward` — one request under a layout (``sequential``, ``parallel_dup``, ``parallel``, ``ape``);
  :func:`encode_prefix`, :func:`encode_contexts`, :func:`build_cache`, :func:`query_over_cache` — the pieces,
  for serving with cached contexts; :func:`ape_generate` — greedy generation;
* :func:`dense_layout`, :func:`dense_forward` — the same layouts as one pass with explicit positions and block mask;
* :mod:`litlib.ape.reference` — the dense formulas of the chapter's derivation; :mod:`litlib.ape.toy` — the toy
  context-augmented-generation task.
"""

from __future__ import annotations

from litlib.ape.attention import ApeAttention, ape_attention, ape_attention_torch, merge_blocks, query_mask
from litlib.ape.encoding import (
    CONTEXT,
    LAYOUTS,
    PREFIX,
    QUERY,
    DenseLayout,
    LayoutOutput,
    ape_forward,
    ape_generate,
    build_cache,
    dense_forward,
    dense_layout,
    encode_contexts,
    encode_contexts_duplicated,
    encode_prefix,
    query_over_cache,
)

__all__ = [
    "CONTEXT",
    "LAYOUTS",
    "PREFIX",
    "QUERY",
    "ApeAttention",
    "DenseLayout",
    "LayoutOutput",
    "ape_attention",
    "ape_attention_torch",
    "ape_forward",
    "ape_generate",
    "build_cache",
    "dense_forward",
    "dense_layout",
    "encode_contexts",
    "encode_contexts_duplicated",
    "encode_prefix",
    "merge_blocks",
    "query_mask",
    "query_over_cache",
]
