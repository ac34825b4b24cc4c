"""The MoM layer: a router, per-memory key/value projections, an optional shared memory, and four update rules.

Every (head, memory) pair is a *stream* with its own state ``M in R^{d_k x d_v}``; the shared memory is one more
stream per head that every token writes. The router picks ``topk`` memories per token (the same for all heads, as in
the official layer); the write mask ``w`` and the mixing weights ``g`` are then broadcast to the streams, the
per-stream reads ``q_t M_t`` are computed by one of four equivalent implementations, and mixed:
``o_t = q_t M^{(s)}_t + sum_m g_t^{(m)} q_t M^{(m)}_t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from litlib.mom.forms import apply_write_mask, chunked_form, parallel_scores, recurrent_form, validate_streams
from litlib.mom.reference import RULES
from litlib.mom.varlen import streams_varlen

IMPLS = ("recurrent", "parallel", "chunked", "varlen")

__all__ = ["IMPLS", "MoMLayer", "MoMOutput", "Routing", "load_balance_loss", "route"]


@dataclass
class Routing:
    """A router decision for ``N`` tokens over ``M`` memories (leading dimensions kept)."""

    probs: torch.Tensor  # (..., M) softmax probabilities
    write: torch.Tensor  # (..., M) 0/1 selection
    weights: torch.Tensor  # (..., M) renormalised mixing weights g (0 outside the selection)


@dataclass
class MoMOutput:
    """What :meth:`MoMLayer.forward` returns."""

    output: torch.Tensor  # (B, T, d_model)
    aux_loss: torch.Tensor  # scalar load-balancing loss (balanced value: topk)
    routing: Routing
    state: torch.Tensor | None  # (B, H, M + shared, d_k, d_v) final per-memory states when requested


def route(logits: torch.Tensor, topk: int, mask: torch.Tensor | None = None) -> Routing:
    """Softmax over memories, top-``k`` selection, weights renormalised over the selection.

    Args:
        logits: ``(..., M)`` router logits.
        topk: memories per token, ``1 <= topk <= M``.
        mask: optional ``(...)`` boolean mask of real tokens; padding gets no memory and weight 0.

    Raises:
        ValueError: if ``topk`` is out of range or ``mask`` has the wrong shape.
    """
    M = logits.shape[-1]
    if not isinstance(topk, int) or not 1 <= topk <= M:
        raise ValueError(f"topk must be an int in [1, {M}]; got {topk!r}")
    probs = torch.softmax(logits, dim=-1)
    top_p, top_i = probs.topk(topk, dim=-1)
    write = torch.zeros_like(probs).scatter(-1, top_i, 1.0)
    weights = torch.zeros_like(probs).scatter(-1, top_i, top_p / top_p.sum(-1, keepdim=True))
    if mask is not None:
        if mask.shape != logits.shape[:-1]:
            raise ValueError(f"mask must have shape {tuple(logits.shape[:-1])}; got {tuple(mask.shape)}")
        keep = mask.to(probs.dtype).unsqueeze(-1)
        write, weights = write * keep, weights * keep
    return Routing(probs, write, weights)


def load_balance_loss(routing: Routing, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Switch/Mixtral-style balance loss ``N_m sum_m f_m P_m`` (``f_m`` per token, so balanced routing gives ``k``).

    Only ``P`` (the mean probability) carries gradient; ``f`` counts the discrete assignments.
    """
    M = routing.probs.shape[-1]
    probs, write = routing.probs.reshape(-1, M), routing.write.reshape(-1, M)
    if mask is not None:
        keep = mask.reshape(-1).to(probs.dtype)
        n = keep.sum().clamp_min(1.0)
        f = (write * keep[:, None]).sum(0) / n
        P = (probs * keep[:, None]).sum(0) / n
    else:
        f, P = write.mean(0), probs.mean(0)
    return M * (f.detach() * P).sum()


class MoMLayer(nn.Module):
    """Mixture-of-Memories linear sequence layer (Du et al., 2025).

    Args:
        d_model: input and output width ``D``.
        num_memories: routed memories ``N_m`` per head.
        topk: memories each token writes and reads.
        d_k, d_v: key and value width of every memory (per head).
        num_heads: heads, each with its own memories (the router is shared across heads).
        shared_memory: add a memory every token writes and reads with weight 1.
        rule: ``"linear"``, ``"gla"`` (per-key-dimension decay), ``"delta"`` or ``"gated_delta"`` (scalar decay).
        normalize_qk: L2-normalise queries and keys (needed for the delta rules' stability).
        impl: default computation: ``"recurrent"``, ``"parallel"`` (dense masked; the delta rules fall back to
            ``chunked``), ``"chunked"`` or
            ``"varlen"`` (regrouped routed subsequences; Triton kernel on GPU for ``linear``).
        chunk_size: chunk length for ``chunked`` and ``varlen``.
        output_proj: end with a linear map ``H d_v -> D`` (else return the mixed reads, requires ``H d_v = D``).

    A single memory is ``MoMLayer(num_memories=1, topk=1, shared_memory=False)``.
    """

    def __init__(
        self,
        d_model: int,
        num_memories: int = 4,
        topk: int = 2,
        d_k: int = 16,
        d_v: int | None = None,
        *,
        num_heads: int = 1,
        shared_memory: bool = True,
        rule: str = "linear",
        normalize_qk: bool = True,
        impl: str = "chunked",
        chunk_size: int = 32,
        output_proj: bool = True,
    ) -> None:
        super().__init__()
        for name, val in (
            ("d_model", d_model),
            ("num_memories", num_memories),
            ("d_k", d_k),
            ("num_heads", num_heads),
        ):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        if not isinstance(topk, int) or not 1 <= topk <= num_memories:
            raise ValueError(f"topk must be an int in [1, num_memories={num_memories}]; got {topk!r}")
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
        d_v = d_model // num_heads if d_v is None else d_v
        if not isinstance(d_v, int) or d_v < 1:
            raise ValueError(f"d_v must be a positive int; got {d_v!r}")
        if not output_proj and num_heads * d_v != d_model:
            raise ValueError(
                f"output_proj=False needs num_heads * d_v == d_model; got {num_heads * d_v} != {d_model}"
            )
        self.d_model, self.num_memories, self.topk = d_model, num_memories, topk
        self.d_k, self.d_v, self.num_heads = d_k, d_v, num_heads
        self.shared_memory, self.rule, self.normalize_qk = shared_memory, rule, normalize_qk
        self.impl, self.chunk_size = impl, chunk_size
        streams = num_memories + int(shared_memory)  # per head
        self.streams_per_head = streams
        H = num_heads
        self.router = nn.Linear(d_model, num_memories, bias=False)
        self.q_proj = nn.Linear(d_model, H * d_k, bias=False)
        self.k_proj = nn.Linear(d_model, H * streams * d_k, bias=False)
        self.v_proj = nn.Linear(d_model, H * streams * d_v, bias=False)
        self.decay_proj: nn.Linear | None = None
        self.beta_proj: nn.Linear | None = None
        if rule == "gla":
            self.decay_proj = nn.Linear(d_model, H * streams * d_k)
        if rule == "gated_delta":
            self.decay_proj = nn.Linear(d_model, H * streams)
        if rule in ("delta", "gated_delta"):
            self.beta_proj = nn.Linear(d_model, H * streams)
        self.o_proj: nn.Module = nn.Linear(H * d_v, d_model, bias=False) if output_proj else nn.Identity()

    # ----------------------------------------------------------------------------------------------- helpers
    def _streams(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Project ``x (B, T, D)`` to stream tensors ``(B, S, T, d)`` with ``S = H * (N_m + shared)``."""
        B, T, _ = x.shape
        H, P, dk, dv = self.num_heads, self.streams_per_head, self.d_k, self.d_v
        q = self.q_proj(x).view(B, T, H, 1, dk).expand(B, T, H, P, dk)
        k = self.k_proj(x).view(B, T, H, P, dk)
        v = self.v_proj(x).view(B, T, H, P, dv)
        if self.normalize_qk:
            q, k = functional.normalize(q, dim=-1), functional.normalize(k, dim=-1)

        def to_streams(t: torch.Tensor) -> torch.Tensor:  # (B, T, H, P, ...) -> (B, H*P, T, ...)
            return t.reshape(B, T, H * P, *t.shape[4:]).transpose(1, 2)

        log_decay: torch.Tensor | None = None
        beta: torch.Tensor | None = None
        if self.decay_proj is not None:
            shape = (B, T, H, P, dk) if self.rule == "gla" else (B, T, H, P)
            log_decay = to_streams(functional.logsigmoid(self.decay_proj(x)).view(*shape))
        if self.beta_proj is not None:
            beta = to_streams(torch.sigmoid(self.beta_proj(x)).view(B, T, H, P))
        return to_streams(q), to_streams(k), to_streams(v), log_decay, beta

    def _stream_mix(self, routing: Routing, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Write mask and mixing weights per stream, ``(B, H*P, T)``; the shared stream gets 1 (0 on padding)."""
        w, g = routing.write, routing.weights  # (B, T, M)
        if self.shared_memory:
            ones = torch.ones_like(w[..., :1]) if mask is None else mask.to(w.dtype).unsqueeze(-1)
            w, g = torch.cat([w, ones], dim=-1), torch.cat([g, ones], dim=-1)
        B, T, P = w.shape
        expand = (B, T, self.num_heads, P)
        w = w.unsqueeze(2).expand(expand).reshape(B, T, -1).transpose(1, 2)
        g = g.unsqueeze(2).expand(expand).reshape(B, T, -1).transpose(1, 2)
        return w, g

    # ----------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        state: torch.Tensor | None = None,
        impl: str | None = None,
        return_state: bool = False,
        keep_last: int | None = None,
    ) -> MoMOutput:
        """Run the layer on ``x (B, T, D)``.

        Args:
            x: input sequence.
            mask: ``(B, T)`` boolean, ``True`` for real tokens; padding writes no memory and reads nothing.
            state: ``(B, H, N_m + shared, d_k, d_v)`` states to continue from (decoding with a cache); forces the
                recurrent or chunked implementation.
            impl: override the layer's default implementation for this call.
            return_state: also return the final per-memory states (recurrent or chunked implementations).
            keep_last: return only the outputs of the last ``keep_last`` positions (all tokens still write); the
                parallel form then skips the other reads (e.g. a loss on query positions only, or prefill).

        Returns:
            :class:`MoMOutput` with the output ``(B, T, D)``, the balance loss, the routing and the final state.

        Raises:
            TypeError, ValueError: on malformed inputs, or an implementation that cannot serve the request.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor; got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, {self.d_model}); got {tuple(x.shape)}")
        B, T, _ = x.shape
        if mask is not None and (mask.shape != (B, T) or mask.dtype != torch.bool):
            raise ValueError(
                f"mask must be a bool tensor of shape {(B, T)}; got {mask.dtype} {tuple(mask.shape)}"
            )
        impl = self.impl if impl is None else impl
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")
        if (state is not None or return_state) and impl not in ("recurrent", "chunked"):
            impl = "chunked"
        if impl == "parallel" and self.rule in ("delta", "gated_delta"):
            impl = "chunked"
        if keep_last is not None and (not isinstance(keep_last, int) or not 1 <= keep_last <= T):
            raise ValueError(f"keep_last must be an int in [1, T={T}]; got {keep_last!r}")
        start = 0 if keep_last is None else T - keep_last
        S = self.num_heads * self.streams_per_head
        init = None
        if state is not None:
            expected = (B, self.num_heads, self.streams_per_head, self.d_k, self.d_v)
            if state.shape != expected:
                raise ValueError(f"state must have shape {expected}; got {tuple(state.shape)}")
            init = state.reshape(B, S, self.d_k, self.d_v)

        routing = route(self.router(x), self.topk, mask)
        aux = load_balance_loss(routing, mask)
        q, k, v, log_decay, beta = self._streams(x)
        write, weights = self._stream_mix(routing, mask)
        final = None
        H, P, dv = self.num_heads, self.streams_per_head, self.d_v
        n_out = T - start
        if impl == "parallel":
            # Mix before contracting with V: sum_m g_tm sum_s A^m_ts v^m_s is one product over (memory, time).
            km, ldm, _ = apply_write_mask(k, write, log_decay, beta)
            validate_streams(q, km, v, self.rule, ldm, None)
            scores = parallel_scores(q, km, rule=self.rule, log_decay=ldm, query_start=start)
            scores = scores * weights[:, :, start:].unsqueeze(-1)
            scores = scores.view(B, H, P, n_out, T).transpose(2, 3).reshape(B, H, n_out, P * T)
            mixed = scores @ v.reshape(B, H, P * T, dv)  # (B, H, n_out, d_v)
            out = self.o_proj(mixed.transpose(1, 2).reshape(B, n_out, H * dv))
            return MoMOutput(out, aux, routing, None)
        if impl == "varlen":
            reads = streams_varlen(
                q, k, v, write, rule=self.rule, log_decay=log_decay, beta=beta, chunk=self.chunk_size
            )
        else:
            km, ldm, bm = apply_write_mask(k, write, log_decay, beta)
            if impl == "chunked":
                reads, final = chunked_form(
                    q,
                    km,
                    v,
                    rule=self.rule,
                    log_decay=ldm,
                    beta=bm,
                    chunk=self.chunk_size,
                    initial_state=init,
                )
            else:
                reads, final = recurrent_form(
                    q, km, v, rule=self.rule, log_decay=ldm, beta=bm, initial_state=init
                )
        reads, weights = reads[:, :, start:], weights[:, :, start:]
        mixed = (weights.unsqueeze(-1) * reads).view(B, H, P, n_out, dv).sum(2)  # mix outputs, not memories
        out = self.o_proj(mixed.permute(0, 2, 1, 3).reshape(B, n_out, H * dv))
        if final is not None and return_state:
            final = final.view(B, self.num_heads, self.streams_per_head, self.d_k, self.d_v)
        else:
            final = None
        return MoMOutput(out, aux, routing, final)

    def empty_state(
        self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """Zero per-memory states ``(B, H, N_m + shared, d_k, d_v)`` for decoding."""
        p = self.q_proj.weight
        return torch.zeros(
            batch, self.num_heads, self.streams_per_head, self.d_k, self.d_v,
            device=p.device if device is None else device, dtype=p.dtype if dtype is None else dtype,
        )  # fmt: skip

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode one token ``x_t (B, D)`` from cached states; returns ``(y_t (B, D), new_state)``.

        Only the routed memories (and the shared one) change; the others are returned untouched.
        """
        out = self.forward(x_t.unsqueeze(1), state=state, impl="recurrent", return_state=True)
        assert out.state is not None
        return out.output[:, 0], out.state

    def state_numbers(self) -> int:
        """How many numbers the recurrent state holds per sequence: ``H (N_m + shared) d_k d_v``."""
        return self.num_heads * self.streams_per_head * self.d_k * self.d_v

    def routed_streams_per_token(self) -> int:
        """How many memories each token updates per head: ``topk + shared``."""
        return self.topk + int(self.shared_memory)
