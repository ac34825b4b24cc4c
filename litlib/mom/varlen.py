"""The varlen regrouping: each (batch, stream) group's routed tokens become one segment of a packed array.

A stream's recurrence only involves the tokens routed to it, in time order, so running an ordinary (unrouted)
recurrence on that subsequence and scattering the outputs back gives exactly the masked dense computation. All
segments are concatenated, delimited by cumulative lengths ``cu_seqlens``, and processed in one call:
:func:`linear_attention_varlen` (Triton kernel on GPU, padded chunked form in PyTorch otherwise).
"""

from __future__ import annotations

from typing import Any

import torch

from litlib.kernels import resolve_mode
from litlib.mom.forms import chunked_form, recurrent_form

__all__ = [
    "Regrouping",
    "linear_attention_varlen",
    "regroup",
    "streams_varlen",
    "varlen_chunked_torch",
]


class Regrouping:
    """Where each routed (batch, stream, time) triple sits in the packed array.

    Attributes:
        batch, stream, time: ``(N,)`` index tensors of the routed triples, sorted by (batch, stream), then time.
        cu_seqlens: ``(B * S + 1,)`` int64 segment boundaries (empty segments allowed).
        max_len: the longest segment.
    """

    def __init__(
        self, batch: torch.Tensor, stream: torch.Tensor, time: torch.Tensor, cu_seqlens: torch.Tensor
    ):
        self.batch, self.stream, self.time, self.cu_seqlens = batch, stream, time, cu_seqlens
        lengths = cu_seqlens[1:] - cu_seqlens[:-1]
        self.max_len = int(lengths.max()) if lengths.numel() else 0

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """Gather ``x (B, S, T, ...)`` into the packed ``(N, ...)`` layout."""
        return x[self.batch, self.stream, self.time]

    def unpack(self, packed: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
        """Scatter packed rows back to ``(B, S, T, d)``, zeros where a stream was not routed."""
        out = packed.new_zeros(*shape, packed.shape[-1])
        out[self.batch, self.stream, self.time] = packed
        return out


def regroup(write: torch.Tensor) -> Regrouping:
    """Regroup a ``(B, S, T)`` 0/1 write mask into segments, one per (batch, stream), time order kept.

    ``torch.nonzero`` lists indices in lexicographic order, which is exactly the stable sort of the routed triples by
    (batch, stream) that the official varlen layer performs.

    Raises:
        ValueError: if ``write`` is not 3-D.
    """
    if write.dim() != 3:
        raise ValueError(f"write must have shape (B, S, T); got {tuple(write.shape)}")
    b, s, t = (write != 0).nonzero(as_tuple=True)
    counts = (write != 0).sum(dim=-1).flatten()
    cu = torch.zeros(counts.numel() + 1, dtype=torch.int64, device=write.device)
    cu[1:] = counts.cumsum(0)
    return Regrouping(b, s, t, cu)


def _validate_varlen(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 2:
            raise TypeError(
                f"{name} must be a 2-D floating-point tensor (N, d); got {getattr(x, 'shape', x)}"
            )
    if q.shape != k.shape or v.shape[0] != q.shape[0]:
        raise ValueError(
            f"q, k must be (N, d_k) and v (N, d_v); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if not isinstance(cu_seqlens, torch.Tensor) or cu_seqlens.dim() != 1 or cu_seqlens.numel() < 1:
        raise ValueError("cu_seqlens must be a 1-D integer tensor of segment boundaries")
    if cu_seqlens.is_floating_point():
        raise TypeError(f"cu_seqlens must be an integer tensor; got {cu_seqlens.dtype}")
    if int(cu_seqlens[0]) != 0 or int(cu_seqlens[-1]) != q.shape[0] or bool((cu_seqlens.diff() < 0).any()):
        raise ValueError(f"cu_seqlens must be non-decreasing, start at 0 and end at N={q.shape[0]}")


def varlen_chunked_torch(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    chunk: int = 64,
) -> torch.Tensor:
    """Packed segments -> padded ``(1, G, L_max, d)`` batch -> :func:`chunked_form` -> packed outputs.

    Padding sits after each segment's last token and has zero key, value, step size and log-decay, so it cannot
    influence any real token (causality) and is dropped at the end. Works for every update rule.
    """
    G = cu_seqlens.numel() - 1
    lengths = cu_seqlens[1:] - cu_seqlens[:-1]
    L = int(lengths.max()) if G > 0 else 0
    if L == 0:
        return v.new_zeros(v.shape)
    offs = torch.arange(L, device=q.device)
    valid = offs[None, :] < lengths[:, None]  # (G, L)
    rows = (cu_seqlens[:-1, None] + offs[None, :]).clamp_max(max(q.shape[0] - 1, 0))

    def pad(x: torch.Tensor | None) -> torch.Tensor | None:
        if x is None:
            return None
        m = valid if x.dim() == 1 else valid.unsqueeze(-1)
        return torch.where(m, x[rows], torch.zeros((), dtype=x.dtype, device=x.device)).unsqueeze(0)

    qp, kp, vp = pad(q), pad(k), pad(v)
    assert qp is not None and kp is not None and vp is not None
    o, _ = chunked_form(qp, kp, vp, rule=rule, log_decay=pad(log_decay), beta=pad(beta), chunk=chunk)
    return o[0][valid]


class _VarlenLinearAttention(torch.autograd.Function):
    """Forward: the Triton kernel. Backward: the same kernel, three times, with permuted roles and directions."""

    @staticmethod
    def forward(
        ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu: torch.Tensor, chunk: int
    ) -> torch.Tensor:
        from litlib.mom.triton import varlen_linear_attention_triton

        ctx.save_for_backward(q, k, v, cu)
        ctx.chunk = chunk
        return varlen_linear_attention_triton(q, k, v, cu, chunk=chunk)

    @staticmethod
    def backward(ctx: Any, do: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        from litlib.mom.triton import varlen_linear_attention_triton as kern

        q, k, v, cu = ctx.saved_tensors
        do = do.contiguous()
        # o_t = sum_{s<=t} (q_t . k_s) v_s, so
        # dq_t = sum_{s<=t} (do_t . v_s) k_s    (causal:      query do, key v,  value k)
        # dk_s = sum_{t>=s} (v_s . do_t) q_t    (anti-causal: query v,  key do, value q)
        # dv_s = sum_{t>=s} (k_s . q_t) do_t    (anti-causal: query k,  key q,  value do)
        dq = kern(do, v, k, cu, chunk=ctx.chunk)
        dk = kern(v, do, q, cu, chunk=ctx.chunk, reverse=True)
        dv = kern(k, q, do, cu, chunk=ctx.chunk, reverse=True)
        return dq, dk, dv, None, None


def linear_attention_varlen(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    *,
    chunk: int = 32,
    mode: str = "auto",
) -> torch.Tensor:
    """Causal linear attention ``o_t = sum_{s<=t, same segment} (q_t . k_s) v_s`` on packed segments; differentiable.

    Args:
        q, k: ``(N, d_k)`` packed rows; v: ``(N, d_v)``.
        cu_seqlens: ``(G + 1,)`` integer boundaries, ``0 = cu[0] <= ... <= cu[G] = N``.
        chunk: chunk length of the chunked computation.
        mode: ``"reference"`` (per-segment recurrence), ``"torch"`` (padded chunked form), ``"triton"`` (the kernel,
            compiled on CUDA or interpreted under ``TRITON_INTERPRET=1``), or ``"auto"`` (``triton`` on CUDA, else
            ``torch``).

    Returns:
        ``(N, d_v)`` outputs in the dtype of ``v``.

    Raises:
        TypeError, ValueError: on malformed inputs or an unknown ``mode``.
    """
    _validate_varlen(q, k, v, cu_seqlens)
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int; got {chunk!r}")
    chosen = resolve_mode("linear_attention_varlen", mode, q.device)
    if chosen == "reference":
        outs = []
        for g in range(cu_seqlens.numel() - 1):
            a, b = int(cu_seqlens[g]), int(cu_seqlens[g + 1])
            o, _ = recurrent_form(q[None, None, a:b], k[None, None, a:b], v[None, None, a:b])
            outs.append(o[0, 0])
        return torch.cat(outs, dim=0) if outs else v.new_zeros(v.shape)
    if chosen == "torch":
        return varlen_chunked_torch(q, k, v, cu_seqlens, chunk=chunk)
    out: torch.Tensor = _VarlenLinearAttention.apply(q, k, v, cu_seqlens, chunk)
    return out


def streams_varlen(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    write: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    chunk: int = 32,
    mode: str = "auto",
) -> torch.Tensor:
    """Per-stream reads ``(B, S, T, d_v)`` computed on the regrouped routed subsequences (zeros where not routed).

    Equal to the masked dense/chunked/recurrent forms at every routed position, which are the only positions the
    mixing weights ``g`` keep. ``rule='linear'`` can use the Triton kernel; the other rules use the padded chunked form.
    """
    rg = regroup(write)
    qp, kp, vp = rg.pack(q), rg.pack(k), rg.pack(v)
    if rule == "linear":
        o = linear_attention_varlen(qp, kp, vp, rg.cu_seqlens, chunk=chunk, mode=mode)
    else:
        ld = None if log_decay is None else rg.pack(log_decay)
        bt = None if beta is None else rg.pack(beta)
        o = varlen_chunked_torch(qp, kp, vp, rg.cu_seqlens, rule=rule, log_decay=ld, beta=bt, chunk=chunk)
    B, S, T = write.shape
    return rg.unpack(o, (B, S, T))
