"""Context encoding layouts over the transformer toolkit's KV caches: sequential, parallel and APE.

A request is a prefix ``P`` ``(B, |P|)``, ``N`` contexts ``(B, N, L)`` (right-padded; ``context_valid`` marks real
tokens) and a query ``(B, |Q|)``. The layouts of the brief:

``sequential``
    one causal pass over ``[P, C_1, ..., C_N, Q]`` at positions ``0, 1, 2, ...`` (padding dropped);
``parallel_dup``
    naive parallel encoding: each context encoded from scratch behind its own copy of the prefix, at positions
    ``0 .. |P|+L-1``; the query attends to all copies;
``parallel``
    shared prefix: the prefix is encoded once, every context attends to it and to itself at positions
    ``|P| .. |P|+L-1`` (reused), contexts never see each other; query at ``|P| + max_i |C_i|``;
``ape``
    the ``parallel`` caches, with the query phase's attention replaced by APE's (temperature ``T``, scaling ``S``).

:func:`ape_forward` runs a layout with caches (how it is served); :func:`dense_layout` + :func:`dense_forward`
run the same layout as one pass with an explicit position vector and block mask (the reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from litlib.ape.attention import ApeAttention
from litlib.ape.reference import shifted_logits_attention
from litlib.transformer import DecoderLM, KVCache, greedy_decode
from litlib.transformer.masks import causal_mask

LAYOUTS = ("sequential", "parallel_dup", "parallel", "ape")
PREFIX, CONTEXT, QUERY = 0, 1, 2  # segment ids of keys


def _check_request(
    prefix: torch.Tensor, contexts: torch.Tensor, query: torch.Tensor, context_valid: torch.Tensor | None
) -> torch.Tensor:
    if prefix.dim() != 2 or query.dim() != 2 or contexts.dim() != 3:
        raise ValueError(
            f"expected prefix (B, P), contexts (B, N, L), query (B, Q); got {tuple(prefix.shape)}, "
            f"{tuple(contexts.shape)}, {tuple(query.shape)}"
        )
    b = contexts.shape[0]
    if prefix.shape[0] != b or query.shape[0] != b:
        raise ValueError(f"prefix, contexts and query must share the batch size {b}")
    if prefix.shape[1] < 1 or query.shape[1] < 1:
        raise ValueError("prefix and query must hold at least one token each")
    if context_valid is None:
        return torch.ones_like(contexts, dtype=torch.bool)
    if context_valid.shape != contexts.shape or context_valid.dtype != torch.bool:
        raise ValueError(f"context_valid must be a boolean tensor of shape {tuple(contexts.shape)}")
    return context_valid


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")


def _arange(b: int, start: int | torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    base = torch.as_tensor(start, device=device).reshape(-1, 1)
    return (base + torch.arange(n, device=device)[None, :]).expand(b, n)


def encode_prefix(model: DecoderLM, prefix: torch.Tensor) -> KVCache:
    """Encode the shared prefix once (causal, positions ``0 .. |P|-1``); its cache is reused by every context."""
    b, p = prefix.shape
    _, cache = model(prefix, _arange(b, 0, p, prefix.device), logits_for="none")
    return cache


def encode_contexts(
    model: DecoderLM,
    contexts: torch.Tensor,
    prefix_cache: KVCache,
    context_valid: torch.Tensor | None = None,
) -> KVCache:
    """Encode all contexts independently, in one batch, each after the shared prefix; return their caches only.

    Every context starts at position ``|P|`` (position reuse). The result has ``N * L`` slots per request, with
    padding slots marked invalid in ``key_mask`` (so no query ever attends to them).
    """
    b, n, length = contexts.shape
    valid = torch.ones_like(contexts, dtype=torch.bool) if context_valid is None else context_valid
    p = prefix_cache.length
    rep = prefix_cache.repeat_interleave(n)
    start = prefix_cache.next_positions().repeat_interleave(n)
    flat = contexts.reshape(b * n, length)
    _, cache = model(
        flat, _arange(b * n, start, length, flat.device), rep, key_padding=valid.reshape(b * n, length)
    )
    return cache.slice(p).fold_rows(n)


def encode_contexts_duplicated(
    model: DecoderLM, prefix: torch.Tensor, contexts: torch.Tensor, context_valid: torch.Tensor | None = None
) -> KVCache:
    """Naive parallel encoding: each context behind its own copy of the prefix; returns ``N`` (prefix+context) caches."""
    b, n, length = contexts.shape
    valid = torch.ones_like(contexts, dtype=torch.bool) if context_valid is None else context_valid
    p = prefix.shape[1]
    seqs = torch.cat([prefix.repeat_interleave(n, 0), contexts.reshape(b * n, length)], dim=1)
    pad = torch.cat(
        [torch.ones(b * n, p, dtype=torch.bool, device=seqs.device), valid.reshape(b * n, length)], 1
    )
    _, cache = model(seqs, _arange(b * n, 0, p + length, seqs.device), key_padding=pad, logits_for="none")
    return cache.fold_rows(n)


@dataclass
class LayoutOutput:
    """What :func:`ape_forward` returns.

    Attributes:
        logits: ``(B, |Q|, V)`` logits of the query tokens.
        cache: the cache after the query (prefix/contexts + query), ready for decoding.
        segments: ``(B, T_cache)`` segment id of every cached slot (:data:`PREFIX`, :data:`CONTEXT`, :data:`QUERY`).
        attention: per-layer effective attention weights of the query tokens (when ``record=True``), else ``None``.
    """

    logits: torch.Tensor
    cache: KVCache
    segments: torch.Tensor
    attention: list[torch.Tensor] | None


def _segments(n_prefix: int, n_ctx: int, n_query: int, b: int, device: torch.device) -> torch.Tensor:
    seg = torch.tensor([PREFIX] * n_prefix + [CONTEXT] * n_ctx + [QUERY] * n_query, device=device)
    return seg[None].expand(b, -1)


def build_cache(
    model: DecoderLM,
    prefix: torch.Tensor,
    contexts: torch.Tensor,
    layout: str,
    context_valid: torch.Tensor | None = None,
) -> tuple[KVCache, torch.Tensor]:
    """The cache a query runs against under a parallel ``layout``, and the segment id of each slot.

    For ``parallel``/``ape`` this is ``[prefix | C_1 | ... | C_N]``; for ``parallel_dup`` ``[P C_1 | ... | P C_N]``
    (the copies of the prefix are marked :data:`PREFIX`).
    """
    _check_layout(layout)
    if layout == "sequential":
        raise ValueError("the sequential layout has no reusable context cache; use ape_forward")
    b, n, length = contexts.shape
    if layout == "parallel_dup":
        cache = encode_contexts_duplicated(model, prefix, contexts, context_valid)
        p = prefix.shape[1]
        one = torch.tensor([PREFIX] * p + [CONTEXT] * length, device=prefix.device)
        return cache, one.repeat(n)[None].expand(b, -1)
    prefix_cache = encode_prefix(model, prefix)
    ctx_cache = encode_contexts(model, contexts, prefix_cache, context_valid)
    return KVCache.cat([prefix_cache, ctx_cache]), _segments(prefix.shape[1], n * length, 0, b, prefix.device)


def query_over_cache(
    model: DecoderLM,
    cache: KVCache,
    segments: torch.Tensor,
    query: torch.Tensor,
    *,
    temperature: float = 1.0,
    scaling: float = 1.0,
    mode: str = "auto",
    record: bool = False,
) -> LayoutOutput:
    """Run the query tokens over a prebuilt cache with APE attention (``T = S = 1``: plain attention).

    Query positions continue after the largest cached position: ``|P| + max_i |C_i|`` for position reuse.
    """
    attn = ApeAttention(segments == CONTEXT, temperature, scaling, mode=mode, record=record)
    logits, new_cache = model(query, cache=cache, attn_fn=attn)
    seg = torch.cat([segments, torch.full_like(query, QUERY)], dim=1)
    return LayoutOutput(logits, new_cache, seg, attn.weights if record else None)


def ape_forward(
    model: DecoderLM,
    prefix: torch.Tensor,
    contexts: torch.Tensor,
    query: torch.Tensor,
    *,
    layout: str = "ape",
    temperature: float = 1.0,
    scaling: float = 1.0,
    context_valid: torch.Tensor | None = None,
    mode: str = "auto",
    record: bool = False,
) -> LayoutOutput:
    """Encode a request under ``layout`` with KV caches and return the query tokens' logits.

    Args:
        model: a :class:`litlib.transformer.DecoderLM`.
        prefix: ``(B, |P|)`` shared prefix (instruction; carries the attention sinks).
        contexts: ``(B, N, L)`` contexts, right-padded to ``L``.
        query: ``(B, |Q|)`` query tokens.
        layout: one of :data:`LAYOUTS`.
        temperature: APE's ``T`` (query phase only; ``sequential`` applies it to the context tokens too).
        scaling: APE's ``S``.
        context_valid: ``(B, N, L)`` boolean, ``False`` on padding.
        mode: attention kernel dispatch.
        record: keep the query tokens' attention weights (torch path).

    Raises:
        ValueError: on a bad layout, shapes or hyper-parameters.
    """
    _check_layout(layout)
    valid = _check_request(prefix, contexts, query, context_valid)
    if layout in ("parallel", "parallel_dup") and (temperature, scaling) != (1.0, 1.0):
        raise ValueError(f"layout {layout!r} is plain attention; use layout='ape' for T, S != 1")
    if layout == "sequential":
        b, n, length = contexts.shape
        keep = torch.cat([torch.ones_like(prefix, dtype=torch.bool), valid.reshape(b, n * length)], dim=1)
        tokens = torch.cat([prefix, contexts.reshape(b, n * length)], dim=1)
        positions = keep.long().cumsum(1) - 1
        _, cache = model(tokens, positions, key_padding=keep, logits_for="none")
        seg = _segments(prefix.shape[1], n * length, 0, b, prefix.device)
        return query_over_cache(
            model, cache, seg, query, temperature=temperature, scaling=scaling, mode=mode, record=record
        )
    cache, seg = build_cache(model, prefix, contexts, layout, valid)
    return query_over_cache(
        model, cache, seg, query, temperature=temperature, scaling=scaling, mode=mode, record=record
    )


@torch.no_grad()
def ape_generate(
    model: DecoderLM,
    prefix: torch.Tensor,
    contexts: torch.Tensor,
    query: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    scaling: float = 1.0,
    context_valid: torch.Tensor | None = None,
    eos_id: int | None = None,
    mode: str = "auto",
) -> torch.Tensor:
    """Greedy generation after APE encoding: the query and every generated token use APE attention."""
    valid = _check_request(prefix, contexts, query, context_valid)
    cache, seg = build_cache(model, prefix, contexts, "ape", valid)
    attn = ApeAttention(seg == CONTEXT, temperature, scaling, mode=mode)
    return greedy_decode(model, query, max_new_tokens, cache=cache, eos_id=eos_id, attn_fn=attn)


@dataclass
class DenseLayout:
    """A layout as one sequence: tokens, explicit positions, block mask and the APE split.

    Attributes:
        tokens: ``(B, L_total)``.
        positions: ``(B, L_total)`` position ids (reused across contexts in parallel layouts).
        mask: ``(B, L_total, L_total)`` boolean, who may attend to whom.
        context_keys: ``(B, L_total)`` boolean, the pooled context block of APE.
        query_rows: ``(B, L_total)`` boolean, the rows that use APE's attention (the query tokens).
        segments: ``(B, L_total)`` segment ids.
    """

    tokens: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    context_keys: torch.Tensor
    query_rows: torch.Tensor
    segments: torch.Tensor


def dense_layout(
    prefix: torch.Tensor,
    contexts: torch.Tensor,
    query: torch.Tensor,
    layout: str,
    context_valid: torch.Tensor | None = None,
) -> DenseLayout:
    """Write a layout out explicitly: positions and block mask of the whole request (the brief's reference form)."""
    _check_layout(layout)
    valid = _check_request(prefix, contexts, query, context_valid)
    b, n, length = contexts.shape
    p, nq = prefix.shape[1], query.shape[1]
    dev = prefix.device
    ones_p = torch.ones(b, p, dtype=torch.bool, device=dev)
    ctx_flat = contexts.reshape(b, n * length)
    if layout == "parallel_dup":
        blocks = [torch.cat([prefix, contexts[:, i]], 1) for i in range(n)]
        block_valid = [torch.cat([ones_p, valid[:, i]], 1) for i in range(n)]
        seg_block = torch.tensor([PREFIX] * p + [CONTEXT] * length, device=dev)
        body, body_valid = torch.cat(blocks, 1), torch.cat(block_valid, 1)
        body_seg = seg_block.repeat(n)[None].expand(b, -1)
        body_pos = _arange(b, 0, p + length, dev).repeat(1, n)
        block_id = torch.arange(n, device=dev).repeat_interleave(p + length)
    else:
        body = torch.cat([prefix, ctx_flat], 1)
        body_valid = torch.cat([ones_p, valid.reshape(b, n * length)], 1)
        body_seg = _segments(p, n * length, 0, b, dev)
        if layout == "sequential":
            body_pos = body_valid.long().cumsum(1) - 1
        else:
            body_pos = torch.cat([_arange(b, 0, p, dev), _arange(b, p, length, dev).repeat(1, n)], 1)
        # block -1 is the shared prefix, visible to every context
        block_id = torch.cat(
            [torch.full((p,), -1, device=dev), torch.arange(n, device=dev).repeat_interleave(length)]
        )
    n_body = body.shape[1]
    q_start = body_pos.masked_fill(~body_valid, -1).max(1).values + 1
    tokens = torch.cat([body.to(query.dtype), query], 1)
    positions = torch.cat([body_pos, _arange(b, q_start, nq, dev)], 1)
    total = n_body + nq
    mask = causal_mask(total, device=dev)[None].expand(b, -1, -1).clone()
    if layout != "sequential":
        same = block_id[:, None] == block_id[None, :]
        shared = (block_id[None, :] == -1) & (block_id[:, None] >= 0)
        mask[:, :n_body, :n_body] &= same | shared
    key_valid = torch.cat([body_valid, torch.ones(b, nq, dtype=torch.bool, device=dev)], 1)
    mask &= key_valid[:, None, :]
    mask |= torch.eye(total, dtype=torch.bool, device=dev)[None]  # a padding row sees itself (stays finite)
    segments = torch.cat([body_seg, torch.full((b, nq), QUERY, device=dev)], 1)
    query_rows = segments == QUERY
    return DenseLayout(tokens, positions, mask, segments == CONTEXT, query_rows, segments)


def dense_forward(
    model: DecoderLM, layout: DenseLayout, temperature: float = 1.0, scaling: float = 1.0
) -> torch.Tensor:
    """Run a :class:`DenseLayout` in one pass: plain attention for prefix/context rows, APE (the dense
    shifted-logits formula) for query rows. Returns logits ``(B, L_total, V)``."""

    def attn(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, layer: int
    ) -> torch.Tensor:
        ape = shifted_logits_attention(q, k, v, layout.context_keys, mask, temperature, scaling)
        plain = shifted_logits_attention(q, k, v, torch.zeros_like(layout.context_keys), mask, 1.0, 1.0)
        return torch.where(layout.query_rows[:, None, :, None], ape, plain).to(q.dtype)

    logits, _ = model(layout.tokens, layout.positions, attn_mask=layout.mask, attn_fn=attn)
    return logits
