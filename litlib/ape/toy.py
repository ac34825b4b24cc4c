"""The brief's toy context-augmented-generation task: retrieve a key's value from N independently encodable contexts.

Vocabulary (a factorised toy tokenizer): five specials ``BOS, INSTR, SEP, QRY, NONE``; a *fact* token for every
(key, value) pair; a *query* token per key; an *answer* token per value. A fact's embedding is
``key_emb + value_emb + type_emb``, so the model sees that a fact and a query share a key.

A request: prefix ``[BOS, INSTR]``; ``N`` contexts, each three facts and ``SEP`` (keys unique over the request);
query ``[QRY, key]``; the answer is that key's value, or ``NONE`` when the key is absent (30% of queries).
The model is trained with sequential encoding only, on ``N`` in a small range, and evaluated under every layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from litlib.ape.encoding import LAYOUTS, ape_forward, build_cache, query_over_cache
from litlib.transformer import DecoderLM, train

BOS, INSTR, SEP, QRY, NONE = range(5)
N_SPECIAL = 5


@dataclass(frozen=True)
class ToyVocab:
    """Token-id layout of the toy task for ``n_keys`` keys and ``n_values`` values."""

    n_keys: int = 64
    n_values: int = 16
    facts_per_context: int = 3

    @property
    def fact_base(self) -> int:
        """First fact id; fact ``(k, v)`` is ``fact_base + k * n_values + v``."""
        return N_SPECIAL

    @property
    def query_base(self) -> int:
        """First query-key id."""
        return N_SPECIAL + self.n_keys * self.n_values

    @property
    def answer_base(self) -> int:
        """First answer-value id."""
        return self.query_base + self.n_keys

    @property
    def size(self) -> int:
        """Vocabulary size."""
        return self.answer_base + self.n_values

    @property
    def context_len(self) -> int:
        """Tokens per context (facts + SEP)."""
        return self.facts_per_context + 1


class FactorisedEmbedding(nn.Module):
    """Embeds toy ids as sums of key, value, type (and special) embeddings."""

    def __init__(self, vocab: ToyVocab, d_model: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.special = nn.Embedding(N_SPECIAL, d_model)
        self.key = nn.Embedding(vocab.n_keys, d_model)
        self.value = nn.Embedding(vocab.n_values, d_model)
        self.kind = nn.Embedding(3, d_model)  # fact, query, answer

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` ids to ``(B, T, d_model)``."""
        v = self.vocab
        is_special = ids < N_SPECIAL
        is_fact = (ids >= v.fact_base) & (ids < v.query_base)
        is_query = (ids >= v.query_base) & (ids < v.answer_base)
        fact = (ids - v.fact_base).clamp(0, v.n_keys * v.n_values - 1)
        key = torch.where(is_fact, fact // v.n_values, (ids - v.query_base).clamp(0, v.n_keys - 1))
        value = torch.where(is_fact, fact % v.n_values, (ids - v.answer_base).clamp(0, v.n_values - 1))
        kind = torch.where(is_fact, 0, torch.where(is_query, 1, 2))
        emb_other = self.kind(kind)
        emb_other = emb_other + torch.where((is_fact | is_query)[..., None], self.key(key), 0.0)
        emb_other = emb_other + torch.where((~is_query)[..., None], self.value(value), 0.0)
        return torch.where(is_special[..., None], self.special(ids.clamp(0, N_SPECIAL - 1)), emb_other)


@dataclass
class ToyBatch:
    """A batch of toy requests: prefix ``(B, 2)``, contexts ``(B, N, 4)``, query ``(B, 2)``, answer ``(B,)``."""

    prefix: torch.Tensor
    contexts: torch.Tensor
    query: torch.Tensor
    answer: torch.Tensor

    def sequential_tokens(self) -> torch.Tensor:
        """The request as one sequence ``[P, C_1, ..., C_N, Q]``."""
        b = self.prefix.shape[0]
        return torch.cat([self.prefix, self.contexts.reshape(b, -1), self.query], dim=1)


def sample_batch(
    batch_size: int,
    n_contexts: int,
    generator: torch.Generator,
    vocab: ToyVocab = ToyVocab(),
    p_absent: float = 0.3,
) -> ToyBatch:
    """Draw ``batch_size`` requests with ``n_contexts`` contexts each (vectorised).

    Raises:
        ValueError: if the contexts need more keys than exist (``3 N >= n_keys`` leaves no absent key).
    """
    n_facts = n_contexts * vocab.facts_per_context
    if n_contexts < 1 or n_facts >= vocab.n_keys:
        raise ValueError(
            f"n_contexts must be in [1, {(vocab.n_keys - 1) // vocab.facts_per_context}]; got {n_contexts}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    keys = torch.rand(batch_size, vocab.n_keys, generator=generator).argsort(dim=1)
    present = keys[:, :n_facts]
    values = torch.randint(0, vocab.n_values, (batch_size, n_facts), generator=generator)
    facts = vocab.fact_base + present * vocab.n_values + values
    sep = torch.full((batch_size, n_contexts, 1), SEP)
    contexts = torch.cat([facts.reshape(batch_size, n_contexts, vocab.facts_per_context), sep], dim=2)
    absent = torch.rand(batch_size, generator=generator) < p_absent
    pick_in = torch.randint(0, n_facts, (batch_size,), generator=generator)
    pick_out = n_facts + torch.randint(0, vocab.n_keys - n_facts, (batch_size,), generator=generator)
    pick = torch.where(absent, pick_out, pick_in)
    qkey = keys.gather(1, pick[:, None])[:, 0]
    answer_in = vocab.answer_base + values.gather(1, pick_in.clamp(max=n_facts - 1)[:, None])[:, 0]
    answer = torch.where(absent, torch.full_like(answer_in, NONE), answer_in)
    prefix = torch.tensor([[BOS, INSTR]]).expand(batch_size, -1)
    query = torch.stack([torch.full_like(qkey, QRY), vocab.query_base + qkey], dim=1)
    return ToyBatch(prefix.contiguous(), contexts, query, answer)


def make_model(
    vocab: ToyVocab = ToyVocab(), d_model: int = 64, n_heads: int = 4, n_layers: int = 2, d_ff: int = 128
) -> DecoderLM:
    """The brief's 2-layer pre-LN RoPE transformer (MLP width 2d) with the factorised embedding."""
    return DecoderLM(
        vocab.size, d_model, n_heads, n_layers, d_ff, embedding=FactorisedEmbedding(vocab, d_model)
    )


def train_sequential(
    model: DecoderLM,
    steps: int,
    generator: torch.Generator,
    *,
    batch_size: int = 64,
    n_range: tuple[int, int] = (2, 5),
    lr: float = 3e-3,
    vocab: ToyVocab = ToyVocab(),
    progress: bool = True,
) -> list[float]:
    """Train on sequential encodings only, ``N`` drawn uniformly from ``n_range`` per step; loss on the answer."""

    def loss_fn(step: int) -> torch.Tensor:
        n = int(torch.randint(n_range[0], n_range[1] + 1, (1,), generator=generator))
        batch = sample_batch(batch_size, n, generator, vocab)
        logits, _ = model(batch.sequential_tokens(), logits_for="last")
        return functional.cross_entropy(logits[:, -1], batch.answer)

    return train(model, loss_fn, steps, lr=lr, warmup=min(50, steps // 10), progress=progress, desc="toy CAG")


@torch.no_grad()
def layout_accuracy(
    model: DecoderLM, batch: ToyBatch, layout: str, temperature: float = 1.0, scaling: float = 1.0
) -> float:
    """Fraction of requests whose arg-max answer is right under ``layout`` (and ``T``, ``S`` for ``ape``)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    out = ape_forward(
        model,
        batch.prefix,
        batch.contexts,
        batch.query,
        layout=layout,
        temperature=temperature,
        scaling=scaling,
    )
    return float((out.logits[:, -1].argmax(-1) == batch.answer).float().mean())


def _accuracy(logits: torch.Tensor, answer: torch.Tensor) -> float:
    return float((logits[:, -1].argmax(-1) == answer).float().mean())


@torch.no_grad()
def evaluate_layouts(
    model: DecoderLM, batch: ToyBatch, temperature: float = 1.0, scaling: float = 1.0
) -> dict[str, float]:
    """Accuracy under all four layouts; ``parallel`` and ``ape`` share one cached encoding of the contexts."""
    out = {layout: layout_accuracy(model, batch, layout) for layout in ("sequential", "parallel_dup")}
    cache, seg = build_cache(model, batch.prefix, batch.contexts, "parallel")
    out["parallel"] = _accuracy(query_over_cache(model, cache, seg, batch.query).logits, batch.answer)
    ape = query_over_cache(model, cache, seg, batch.query, temperature=temperature, scaling=scaling)
    out["ape"] = _accuracy(ape.logits, batch.answer)
    return out


@torch.no_grad()
def grid_search(
    model: DecoderLM, batch: ToyBatch, temperatures: list[float], scalings: list[float]
) -> dict[tuple[float, float], float]:
    """APE accuracy for every ``(T, S)``: the contexts are encoded once, only the query phase is re-run."""
    cache, seg = build_cache(model, batch.prefix, batch.contexts, "ape")
    return {
        (t, s): _accuracy(
            query_over_cache(model, cache, seg, batch.query, temperature=t, scaling=s).logits, batch.answer
        )
        for t in temperatures
        for s in scalings
    }
