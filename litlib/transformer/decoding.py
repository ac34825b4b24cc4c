"""Greedy decoding and beam search for :class:`DecoderLM` and :class:`EncoderDecoder`, with KV caches.

Both models are driven through the same two operations: a *start* that encodes the input and returns the logits of
the first token to generate, and a *step* that feeds one chosen token per row and returns the next logits. Beam
search reorders the cache rows with :meth:`KVCache.index_select`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from litlib.transformer.cache import KVCache
from litlib.transformer.model import AttentionFn, DecoderLM, EncoderDecoder, dot_product_attention


@dataclass
class _State:
    cache: KVCache
    memory: torch.Tensor | None = None
    memory_mask: torch.Tensor | None = None

    def select(self, rows: torch.Tensor) -> _State:
        return _State(
            self.cache.index_select(rows),
            None if self.memory is None else self.memory.index_select(0, rows),
            None if self.memory_mask is None else self.memory_mask.index_select(0, rows),
        )


def _start(
    model: DecoderLM | EncoderDecoder,
    inputs: torch.Tensor,
    start_token: int | None,
    positions: torch.Tensor | None,
    cache: KVCache | None,
    src_mask: torch.Tensor | None,
    attn_fn: AttentionFn,
) -> tuple[torch.Tensor, _State]:
    if isinstance(model, DecoderLM):
        logits, new_cache = model(inputs, positions, cache, attn_fn=attn_fn, logits_for="last")
        return logits[:, -1], _State(new_cache)
    if isinstance(model, EncoderDecoder):
        if start_token is None:
            raise ValueError("start_token is required to decode with an EncoderDecoder")
        memory, mmask = model.encode(inputs, src_mask)
        first = torch.full((inputs.shape[0], 1), start_token, dtype=torch.long, device=inputs.device)
        logits, new_cache = model.decode(first, memory, mmask, attn_fn=attn_fn)
        return logits[:, -1], _State(new_cache, memory, mmask)
    raise TypeError(f"model must be a DecoderLM or EncoderDecoder; got {type(model).__name__}")


def _step(
    model: DecoderLM | EncoderDecoder, state: _State, token: torch.Tensor, attn_fn: AttentionFn
) -> tuple[torch.Tensor, _State]:
    if isinstance(model, DecoderLM):
        logits, cache = model(token[:, None], cache=state.cache, attn_fn=attn_fn)
        return logits[:, -1], _State(cache)
    assert state.memory is not None and state.memory_mask is not None
    logits, cache = model.decode(
        token[:, None], state.memory, state.memory_mask, state.cache, attn_fn=attn_fn
    )
    return logits[:, -1], _State(cache, state.memory, state.memory_mask)


def _check_budget(max_new_tokens: int) -> None:
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int; got {max_new_tokens!r}")


@torch.no_grad()
def greedy_decode(
    model: DecoderLM | EncoderDecoder,
    inputs: torch.Tensor,
    max_new_tokens: int,
    *,
    start_token: int | None = None,
    eos_id: int | None = None,
    positions: torch.Tensor | None = None,
    cache: KVCache | None = None,
    src_mask: torch.Tensor | None = None,
    attn_fn: AttentionFn = dot_product_attention,
) -> torch.Tensor:
    """Generate ``(B, max_new_tokens)`` tokens by taking the arg-max at every step, with a KV cache.

    Args:
        model: a :class:`DecoderLM` (``inputs`` is the prompt) or an :class:`EncoderDecoder` (``inputs`` is the
            source, and decoding starts from ``start_token``).
        inputs: ``(B, T)`` token ids.
        max_new_tokens: number of tokens to generate.
        start_token: the decoder's start token (encoder-decoder only).
        eos_id: once a row emits it, the row keeps emitting it.
        positions: prompt position ids (decoder-only; default continues after ``cache``).
        cache: an already-built cache the prompt follows (decoder-only; e.g. concatenated context caches).
        src_mask: source padding mask (encoder-decoder only).
        attn_fn: attention function used for the prompt and every generated token.
    """
    _check_budget(max_new_tokens)
    logits, state = _start(model, inputs, start_token, positions, cache, src_mask, attn_fn)
    done = torch.zeros(inputs.shape[0], dtype=torch.bool, device=inputs.device)
    out = []
    for i in range(max_new_tokens):
        token = logits.argmax(-1)
        if eos_id is not None:
            token = torch.where(done, torch.full_like(token, eos_id), token)
            done = done | (token == eos_id)
        out.append(token)
        if i + 1 < max_new_tokens:
            logits, state = _step(model, state, token, attn_fn)
    return torch.stack(out, dim=1)


@torch.no_grad()
def beam_search(
    model: DecoderLM | EncoderDecoder,
    inputs: torch.Tensor,
    max_new_tokens: int,
    beam_size: int = 4,
    *,
    start_token: int | None = None,
    eos_id: int | None = None,
    positions: torch.Tensor | None = None,
    cache: KVCache | None = None,
    src_mask: torch.Tensor | None = None,
    attn_fn: AttentionFn = dot_product_attention,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search: keep the ``beam_size`` highest-log-probability continuations; return the best of each row.

    Finished beams (that emitted ``eos_id``) are frozen: they keep their score and extend with ``eos_id`` at zero
    cost. With ``beam_size=1`` this is exactly :func:`greedy_decode`.

    Returns:
        ``(tokens (B, max_new_tokens), log_probs (B,))`` of the best beam per row.

    Raises:
        ValueError: if ``beam_size`` or ``max_new_tokens`` is not a positive int.
    """
    _check_budget(max_new_tokens)
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int; got {beam_size!r}")
    b, k = inputs.shape[0], beam_size
    logits, state = _start(model, inputs, start_token, positions, cache, src_mask, attn_fn)
    vocab = logits.shape[-1]
    rows = torch.arange(b, device=inputs.device).repeat_interleave(k)
    state = state.select(rows)
    logp = torch.log_softmax(logits.float(), -1).index_select(0, rows)  # (B*k, V)
    # at the first step all beams are identical: keep only beam 0 alive so that they diverge
    scores = torch.full((b, k), float("-inf"), device=inputs.device)
    scores[:, 0] = 0.0
    seqs = torch.zeros(b * k, 0, dtype=torch.long, device=inputs.device)
    done = torch.zeros(b * k, dtype=torch.bool, device=inputs.device)
    for i in range(max_new_tokens):
        if eos_id is not None:
            frozen = torch.full_like(logp, float("-inf"))
            frozen[:, eos_id] = 0.0
            logp = torch.where(done[:, None], frozen, logp)
        total = (scores.reshape(b * k, 1) + logp).reshape(b, k * vocab)
        scores, flat = total.topk(k, dim=-1)
        parent = (flat // vocab) + torch.arange(b, device=inputs.device)[:, None] * k
        token = (flat % vocab).reshape(-1)
        parent = parent.reshape(-1)
        seqs = torch.cat([seqs.index_select(0, parent), token[:, None]], dim=1)
        done = done.index_select(0, parent)
        if eos_id is not None:
            done = done | (token == eos_id)
        if i + 1 < max_new_tokens:
            state = state.select(parent)
            logits, state = _step(model, state, token, attn_fn)
            logp = torch.log_softmax(logits.float(), -1)
    best = scores.argmax(-1) + torch.arange(b, device=inputs.device) * k
    return seqs.index_select(0, best), scores.max(-1).values
