"""APE's query-phase attention: the production PyTorch path, kernel dispatch, and a plug-in for the transformer.

The torch path computes the two blocks of derivation 1 separately, each with its log-sum-exp, and merges them
with exponent ``S*T`` in float32 (float64 for float64 inputs), as the official code does with two flash-attention
calls. The Triton path does the same in one pass over the keys with two online-softmax accumulators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from litlib.kernels import resolve_mode
from litlib.transformer.masks import causal_mask


def _check_hparams(temperature: float, scaling: float) -> None:
    for name, val in (("temperature", temperature), ("scaling", scaling)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not (val > 0 and math.isfinite(val)):
            raise ValueError(f"{name} must be a positive finite number; got {val!r}")


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, context_keys: torch.Tensor) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"{name} must be a 4-d tensor (B, H, T, head_dim)")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {x.dtype}")
    if k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} have incompatible shapes"
        )
    if context_keys.dtype != torch.bool or context_keys.shape != (k.shape[0], k.shape[2]):
        raise ValueError(f"context_keys must be a boolean tensor of shape {(k.shape[0], k.shape[2])}")


def query_mask(key_valid: torch.Tensor, n_queries: int, causal: bool = True) -> torch.Tensor:
    """The ``(B, 1, Tq, Tk)`` mask of the query phase: valid keys, causal aligned to the end of the keys."""
    b, tk = key_valid.shape
    m = key_valid[:, None, None, :].expand(b, 1, n_queries, tk)
    if causal:
        m = m & causal_mask(n_queries, tk, device=key_valid.device)
    return m


def block_attention_lse(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, inv_temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax attention restricted to ``allowed`` keys at logit scale ``1/(T sqrt(d))``.

    Returns:
        ``(output, lse, probs)``: the block's normalised output (0 for rows with no allowed key), its log-sum-exp
        (``-inf`` for such rows) and the probabilities within the block.
    """
    dt = torch.float64 if q.dtype == torch.float64 else torch.float32
    s = (q.to(dt) @ k.to(dt).transpose(-1, -2)) * (inv_temperature / math.sqrt(q.shape[-1]))
    s = s.masked_fill(~allowed, -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    probs = torch.exp(s - torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))[..., None])
    return probs @ v.to(dt), lse, probs


def merge_blocks(
    o_c: torch.Tensor,
    lse_c: torch.Tensor,
    o_o: torch.Tensor,
    lse_o: torch.Tensor,
    temperature: float,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the context and other blocks with weights ``softmax([S T lse_c, lse_o])``; returns ``(o, w_1)``."""
    w_c = torch.sigmoid(scaling * temperature * lse_c - lse_o)
    return w_c[..., None] * o_c + (1 - w_c[..., None]) * o_o, w_c


def ape_attention_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    mask: torch.Tensor,
    temperature: float,
    scaling: float,
    return_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The two-block torch path; with ``return_weights`` also the effective attention ``(B, H, Tq, Tk)``."""
    ctx = context_keys[:, None, None, :]
    o_c, lse_c, p_c = block_attention_lse(q, k, v, mask & ctx, 1.0 / temperature)
    o_o, lse_o, p_o = block_attention_lse(q, k, v, mask & ~ctx, 1.0)
    out, w_c = merge_blocks(o_c, lse_c, o_o, lse_o, temperature, scaling)
    weights = None
    if return_weights:
        weights = w_c[..., None] * p_c + (1 - w_c[..., None]) * p_o
    return out.to(q.dtype), weights


class _ApeKernel(torch.autograd.Function):
    """Forward by the Triton kernel; backward by recomputing the torch path under autograd."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        context_keys: torch.Tensor,
        key_valid: torch.Tensor,
        temperature: float,
        scaling: float,
        causal: bool,
    ) -> torch.Tensor:
        from litlib.ape.triton import ape_attention_triton

        ctx.save_for_backward(q, k, v, context_keys, key_valid)
        ctx.hp = (temperature, scaling, causal)  # type: ignore[attr-defined]
        return ape_attention_triton(q, k, v, context_keys, key_valid, temperature, scaling, causal)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        q, k, v, context_keys, key_valid = ctx.saved_tensors  # type: ignore[attr-defined]
        temperature, scaling, causal = ctx.hp  # type: ignore[attr-defined]
        with torch.enable_grad():
            ql, kl, vl = (t.detach().requires_grad_() for t in (q, k, v))
            mask = query_mask(key_valid, q.shape[2], causal)
            out, _ = ape_attention_torch(ql, kl, vl, context_keys, mask, temperature, scaling)
            grads = torch.autograd.grad(out, (ql, kl, vl), grad)
        return (*grads, None, None, None, None, None)


def ape_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    context_keys: torch.Tensor,
    key_valid: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    scaling: float = 1.0,
    causal: bool = True,
    mode: str = "auto",
) -> torch.Tensor:
    """APE attention of query/generated tokens over a cache of context and other keys.

    Context keys (``context_keys`` True) are attended at temperature ``T`` as one pooled block whose total mass is
    raised to the power ``S*T``; the other keys (prefix, query, generated tokens) are attended normally, causally
    aligned to the end of the keys. ``T = S = 1`` is exact softmax attention.

    Args:
        q: ``(B, H, Tq, d)`` queries (RoPE applied).
        k: ``(B, H, Tk, d)`` keys (RoPE applied).
        v: ``(B, H, Tk, d)`` values.
        context_keys: ``(B, Tk)`` boolean, the pooled context block.
        key_valid: ``(B, Tk)`` boolean, ``False`` for padding slots (default all valid).
        temperature: ``T > 0``.
        scaling: ``S > 0``.
        causal: apply the bottom-right causal mask (queries are the last ``Tq`` keys).
        mode: ``auto`` / ``torch`` / ``reference`` / ``triton`` (see :func:`litlib.kernels.resolve_mode`).

    Returns:
        ``(B, H, Tq, d)`` in the dtype of ``q``.

    Raises:
        ValueError: on bad shapes or hyper-parameters.
        TypeError: on non-tensor or non-floating inputs.
    """
    _check_qkv(q, k, v, context_keys)
    _check_hparams(temperature, scaling)
    if key_valid is None:
        key_valid = torch.ones_like(context_keys)
    if key_valid.shape != context_keys.shape or key_valid.dtype != torch.bool:
        raise ValueError(f"key_valid must be a boolean tensor of shape {tuple(context_keys.shape)}")
    if causal and q.shape[2] > k.shape[2]:
        raise ValueError(
            f"causal attention needs at least as many keys as queries; got {k.shape[2]} < {q.shape[2]}"
        )
    run = resolve_mode("ape_attention", mode, q.device)
    if run == "triton":
        return _ApeKernel.apply(q, k, v, context_keys, key_valid, float(temperature), float(scaling), causal)
    mask = query_mask(key_valid, q.shape[2], causal)
    if run == "reference":
        from litlib.ape.reference import shifted_logits_attention

        return shifted_logits_attention(q, k, v, context_keys, mask, temperature, scaling).to(q.dtype)
    out, _ = ape_attention_torch(q, k, v, context_keys, mask, temperature, scaling)
    return out


@dataclass
class ApeAttention:
    """An attention function for :mod:`litlib.transformer` that applies APE to the query phase.

    Pass an instance as ``attn_fn`` when running query (or generated) tokens over a cache whose first
    ``len(context_keys[0])`` slots are the prefix and contexts. New keys (the tokens being run) belong to the
    "other" block. With ``record=True`` the effective attention weights of every layer are kept in ``weights``.

    Attributes:
        context_keys: ``(B, T_cache)`` boolean, ``True`` on cached context slots.
        temperature: ``T``.
        scaling: ``S``.
        mode: kernel dispatch mode (``auto``: Triton on CUDA, torch elsewhere).
        record: keep per-layer attention weights ``(B, H, Tq, Tk)`` (torch path only).
    """

    context_keys: torch.Tensor
    temperature: float = 1.0
    scaling: float = 1.0
    mode: str = "auto"
    record: bool = False
    weights: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_hparams(self.temperature, self.scaling)
        if self.context_keys.dtype != torch.bool or self.context_keys.dim() != 2:
            raise ValueError("context_keys must be a (B, T_cache) boolean tensor")

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, layer: int
    ) -> torch.Tensor:
        """Attend with APE; ``mask`` is the toolkit's ``(B, 1, Tq, Tk)`` causal/padding mask."""
        b, tk = k.shape[0], k.shape[2]
        n_new = tk - self.context_keys.shape[1]
        if n_new < 0 or self.context_keys.shape[0] != b:
            raise ValueError(
                f"context_keys {tuple(self.context_keys.shape)} does not fit keys of shape {k.shape}"
            )
        ctx = torch.cat([self.context_keys, self.context_keys.new_zeros(b, n_new)], dim=1)
        if self.record:
            out, w = ape_attention_torch(
                q, k, v, ctx, mask, self.temperature, self.scaling, return_weights=True
            )
            assert w is not None
            self.weights.append(w.detach())
            return out
        if resolve_mode("ApeAttention", self.mode, q.device) == "triton":
            key_valid = mask[:, 0, -1, :]  # the last query sees every valid key under the bottom-right mask
            if not torch.equal(query_mask(key_valid, q.shape[2]), mask[:, :1]):
                raise ValueError("the Triton path supports only causal-plus-padding masks")
            return ape_attention(
                q, k, v, ctx, key_valid, temperature=self.temperature, scaling=self.scaling, mode="triton"
            )
        out, _ = ape_attention_torch(q, k, v, ctx, mask, self.temperature, self.scaling)
        return out
