"""Plain references for APE's query-phase attention: the three equal forms of derivation 1, written densely.

Shapes: ``q (B, H, Tq, d)``, ``k, v (B, H, Tk, d)``, ``context_keys (B, Tk)`` boolean (the pooled context block
:math:`\\mathcal C`), ``mask (B, 1|H, Tq, Tk)`` boolean (``True`` = may attend). Keys outside the context block form
:math:`\\mathcal O` (prefix, query and generated tokens). ``temperature`` is :math:`T`, ``scaling`` is :math:`S`.
Everything is computed in float64 when the inputs are float64, else float32.
"""

from __future__ import annotations

import math

import torch


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    dt = _work_dtype(q)
    return (q.to(dt) @ k.to(dt).transpose(-1, -2)) / math.sqrt(q.shape[-1])


def _split_masks(context_keys: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ctx = context_keys[:, None, None, :]
    return mask & ctx, mask & ~ctx


def shifted_logits_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    scaling: float,
) -> torch.Tensor:
    """APE as ONE softmax over all keys with context logits ``s/T + (S T - 1) LSE_C(s/T)`` (derivation 1)."""
    s = _logits(q, k)
    in_c, in_o = _split_masks(context_keys, mask)
    sc = (s / temperature).masked_fill(~in_c, -math.inf)
    lse_c = torch.logsumexp(sc, dim=-1, keepdim=True)
    shift = torch.where(torch.isfinite(lse_c), (scaling * temperature - 1.0) * lse_c, torch.zeros_like(lse_c))
    z = torch.where(in_c, sc + shift, s.masked_fill(~in_o, -math.inf))
    return torch.softmax(z, dim=-1) @ v.to(s.dtype)


def two_block_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    scaling: float,
) -> torch.Tensor:
    """APE as the official code computes it: two attentions with their LSEs, merged by ``softmax([S T l_C, l_O])``."""
    s = _logits(q, k)
    in_c, in_o = _split_masks(context_keys, mask)
    vv = v.to(s.dtype)
    zc, zo = (s / temperature).masked_fill(~in_c, -math.inf), s.masked_fill(~in_o, -math.inf)
    lse_c, lse_o = torch.logsumexp(zc, -1, keepdim=True), torch.logsumexp(zo, -1, keepdim=True)
    o_c = torch.nan_to_num(torch.softmax(zc, -1)) @ vv  # an empty block contributes nothing
    o_o = torch.nan_to_num(torch.softmax(zo, -1)) @ vv
    w = torch.softmax(torch.cat([scaling * temperature * lse_c, lse_o], dim=-1), dim=-1)
    return w[..., :1] * o_c + w[..., 1:] * o_o


def closed_form_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    scaling: float,
) -> torch.Tensor:
    """APE as ``(Z_C^{ST} o_C + sum_O e^{s_j} v_j) / (Z_C^{ST} + sum_O e^{s_j})`` (overflows for large logits)."""
    s = _logits(q, k)
    in_c, in_o = _split_masks(context_keys, mask)
    vv = v.to(s.dtype)
    ec = torch.where(in_c, torch.exp(s / temperature), torch.zeros_like(s))
    eo = torch.where(in_o, torch.exp(s), torch.zeros_like(s))
    z_c = ec.sum(-1, keepdim=True)
    o_c = torch.nan_to_num((ec @ vv) / z_c)
    mass_c = z_c ** (scaling * temperature)
    return (mass_c * o_c + eo @ vv) / (mass_c + eo.sum(-1, keepdim=True))


def context_mass(
    q: torch.Tensor,
    k: torch.Tensor,
    context_keys: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    scaling: float,
) -> torch.Tensor:
    """``w_1``: the share of the query's attention that goes to the context block, ``(B, H, Tq)``."""
    s = _logits(q, k)
    in_c, in_o = _split_masks(context_keys, mask)
    lse_c = torch.logsumexp((s / temperature).masked_fill(~in_c, -math.inf), -1)
    lse_o = torch.logsumexp(s.masked_fill(~in_o, -math.inf), -1)
    return torch.sigmoid(scaling * temperature * lse_c - lse_o)


def softmax_entropy(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Entropy (nats) of ``softmax(logits / T)`` along the last axis."""
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def attention_pairs(prefix_len: int, context_lens: list[int], query_len: int, layout: str) -> int:
    """Number of (query, key) pairs a prefill computes, by the cost model of derivation 3.

    ``sequential``: causal attention over the whole concatenation. ``parallel``: the prefix once (causal), each
    context over the shared prefix and itself, and the query over everything. ``query``: the per-request work once
    the prefix and contexts are cached.
    """
    n_ctx = sum(context_lens)
    total = prefix_len + n_ctx + query_len
    query_pairs = query_len * (prefix_len + n_ctx) + query_len * (query_len + 1) // 2
    if layout == "sequential":
        return total * (total + 1) // 2
    if layout == "parallel":
        ctx_pairs = sum(c * prefix_len + c * (c + 1) // 2 for c in context_lens)
        return prefix_len * (prefix_len + 1) // 2 + ctx_pairs + query_pairs
    if layout == "query":
        return query_pairs
    raise ValueError(f"layout must be 'sequential', 'parallel' or 'query'; got {layout!r}")
