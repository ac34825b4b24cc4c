"""Three equivalent computations of routed memory streams: recurrent, dense masked parallel, and chunked.

All functions take stream tensors laid out ``(B, S, T, d)`` (batch, stream = one memory of one head, time, feature)
and return the per-stream reads ``o_t = q_t M_t`` of shape ``(B, S, T, d_v)``. Routing enters only through the
write mask ``w``: :func:`apply_write_mask` turns an unselected step into the identity map by zeroing its key (additive
rules), its log-decay (``alpha^w``) and its step size (``beta * w``). After that, every stream is an ordinary
linear-attention-like recurrence, so the same dense, chunked and recurrent kernels serve MoM and a single memory.
"""

from __future__ import annotations

import torch

from litlib.mom.reference import RULES

__all__ = [
    "apply_write_mask",
    "chunked_form",
    "parallel_form",
    "parallel_scores",
    "recurrent_form",
    "validate_streams",
]


def validate_streams(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rule: str,
    log_decay: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> None:
    """Check shapes and the presence of the rule's gate tensors; raise ``ValueError``/``TypeError`` naming the culprit."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must have shape (B, S, T, d); got {tuple(t.shape)}")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    if q.shape != k.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(
            f"q, k must share (B, S, T, d_k) and v (B, S, T); got {q.shape}, {k.shape}, {v.shape}"
        )
    bst = q.shape[:3]
    if rule == "gla" and (log_decay is None or log_decay.shape != q.shape):
        raise ValueError(f"rule 'gla' needs log_decay of shape {tuple(q.shape)} (per key dimension)")
    if rule == "gated_delta" and (log_decay is None or log_decay.shape != bst):
        raise ValueError(f"rule 'gated_delta' needs log_decay of shape {tuple(bst)} (scalar per step)")
    if rule in ("delta", "gated_delta") and (beta is None or beta.shape != bst):
        raise ValueError(f"rule {rule!r} needs beta of shape {tuple(bst)}")
    if rule in ("linear", "delta") and log_decay is not None:
        raise ValueError(f"rule {rule!r} takes no log_decay")


def apply_write_mask(
    k: torch.Tensor,
    write: torch.Tensor,
    log_decay: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Make unselected steps the identity: ``k * w`` (additive rules), ``log_decay * w`` and ``beta * w``.

    For the delta rules the key must stay (``beta * w = 0`` already cancels the write and the projection); zeroing it
    too is harmless, so one masking serves every rule.
    """
    w = write.to(k.dtype)
    k = k * w.unsqueeze(-1)
    if log_decay is not None:
        log_decay = log_decay * (w.unsqueeze(-1) if log_decay.dim() == 4 else w)
    if beta is not None:
        beta = beta * w
    return k, log_decay, beta


def recurrent_form(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence, one time step at a time but vectorised over batch and streams (the decoding path).

    Returns:
        ``(o, state)`` with ``o`` of shape ``(B, S, T, d_v)`` and the final state ``(B, S, d_k, d_v)``.
    """
    validate_streams(q, k, v, rule, log_decay, beta)
    B, S, T, dk = q.shape
    state = q.new_zeros(B, S, dk, v.shape[-1]) if initial_state is None else initial_state
    outs = []
    for t in range(T):
        state = recurrent_step(
            state,
            k[:, :, t],
            v[:, :, t],
            rule=rule,
            log_decay=None if log_decay is None else log_decay[:, :, t],
            beta=None if beta is None else beta[:, :, t],
        )
        outs.append(torch.einsum("bsk,bskv->bsv", q[:, :, t], state))
    o = torch.stack(outs, dim=2) if outs else v.new_zeros(B, S, 0, v.shape[-1])
    return o, state


def recurrent_step(
    state: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: str,
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
) -> torch.Tensor:
    """One update of all streams at once: ``state (B, S, d_k, d_v)``, ``k (B, S, d_k)``, ``v (B, S, d_v)``."""
    if rule == "gla":
        assert log_decay is not None
        state = log_decay.exp().unsqueeze(-1) * state
    if rule == "gated_delta":
        assert log_decay is not None
        state = log_decay.exp()[..., None, None] * state
    if rule in ("linear", "gla"):
        return state + k.unsqueeze(-1) * v.unsqueeze(-2)
    assert beta is not None
    # (I - beta k^T k) M + beta k^T v = M + beta k^T (v - k M)
    read = torch.einsum("bsk,bskv->bsv", k, state)
    return state + beta[..., None, None] * k.unsqueeze(-1) * (v - read).unsqueeze(-2)


def _decay_ratios(log_decay: torch.Tensor, vector: bool) -> torch.Tensor:
    """``exp(G_t - G_s)`` for ``s <= t`` (0 above the diagonal), ``G`` the inclusive cumulative log-decay.

    ``log_decay`` is ``(..., T)`` (scalar, ``vector=False``) or ``(..., T, d)`` (per key dimension); the result is
    ``(..., T, T)`` or ``(..., T, T, d)``. Differences of cumulative sums are formed before exponentiating, and only
    on the causal side (``G_t - G_s <= 0``), so nothing overflows.
    """
    tdim = -2 if vector else -1
    G = log_decay.cumsum(dim=tdim)
    T = G.shape[tdim]
    causal = torch.ones(T, T, dtype=torch.bool, device=G.device).tril()
    if vector:
        diff = G.unsqueeze(-2) - G.unsqueeze(-3)  # (..., t, s, d)
        return torch.where(causal[..., None], diff.clamp_max(0.0).exp(), torch.zeros_like(diff))
    diff = G.unsqueeze(-1) - G.unsqueeze(-2)  # (..., t, s)
    return torch.where(causal, diff.clamp_max(0.0).exp(), torch.zeros_like(diff))


def parallel_form(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    query_start: int = 0,
) -> torch.Tensor:
    """The dense masked parallel form ``o_t = sum_{s<=t} (q_t . (gamma_{t,s} * k_s)) v_s`` (additive rules only).

    ``gamma_{t,s}`` is the product of the decays applied between ``s`` and ``t`` (1 for ``linear``); with masked
    inputs (:func:`apply_write_mask`) it only counts steps the stream was written. ``O(T^2)`` time and memory:
    the right choice for short sequences on CPU, and the ground truth for the chunked form.

    ``query_start`` computes the reads of positions ``t >= query_start`` only (shape ``(B, S, T - query_start,
    d_v)``): all writes still count, and the dense form then costs ``O((T - query_start) T)``.

    Raises:
        ValueError: for the delta rules (their parallel form is the chunked one with a single chunk), or a
            ``query_start`` outside ``[0, T]``.
    """
    validate_streams(q, k, v, rule, log_decay, beta)
    return parallel_scores(q, k, rule=rule, log_decay=log_decay, query_start=query_start) @ v


def parallel_scores(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    query_start: int = 0,
) -> torch.Tensor:
    """The masked score matrix ``A_ts = q_t . (gamma_ts * k_s)`` (``s <= t``, else 0) of the dense parallel form.

    Returns:
        ``(B, S, T - query_start, T)``; :func:`parallel_form` is ``A @ v``. The MoM layer instead weights ``A`` by
        the mixing weights and contracts over (stream, time) in one product, so per-memory reads never exist.

    Raises:
        ValueError: for the delta rules, or a ``query_start`` outside ``[0, T]``.
    """
    if rule in ("delta", "gated_delta"):
        raise ValueError(f"parallel_form supports rules 'linear' and 'gla'; use chunked_form for {rule!r}")
    T = q.shape[2]
    if not isinstance(query_start, int) or not 0 <= query_start <= T:
        raise ValueError(f"query_start must be an int in [0, T={T}]; got {query_start!r}")
    if rule == "linear":
        causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()[query_start:]
        return (q[:, :, query_start:] @ k.transpose(-1, -2)).masked_fill(~causal, 0.0)
    if log_decay is None:
        raise ValueError("rule 'gla' needs log_decay")
    gamma = _decay_ratios(log_decay, vector=True)[:, :, query_start:]  # (B, S, t, s, d)
    return torch.einsum("bstd,bsud,bstud->bstu", q[:, :, query_start:], k, gamma)


def chunked_form(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    chunk: int = 64,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The chunked form: dense inside chunks of ``chunk`` steps, a state carried between chunks.

    Additive rules: ``o_i = gamma_i q_i S + sum_{j<=i} (q_i . gamma_{ij} k_j) v_j`` and
    ``S' = gamma_C S + sum_j (gamma_{Cj} k_j)^T v_j``. Delta rules (scalar decay): the within-chunk writes
    ``u_j`` solve the unit lower-triangular system ``(I + A) U = diag(beta) (V - (gamma K) S)`` with
    ``A_ij = beta_i gamma_ij k_i . k_j`` (``j < i``), and then the additive formulas apply with ``u`` for ``v``.

    Args:
        q, k, v, rule, log_decay, beta: as in :func:`parallel_form` (all four rules).
        chunk: chunk length ``C >= 1``; ``C = T`` is the dense form, ``C = 1`` the recurrence.
        initial_state: ``(B, S, d_k, d_v)``, default zeros.

    Returns:
        ``(o, state)``: per-stream reads ``(B, S, T, d_v)`` and the final state.
    """
    validate_streams(q, k, v, rule, log_decay, beta)
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int; got {chunk!r}")
    B, S, T, dk = q.shape
    dv = v.shape[-1]
    state = q.new_zeros(B, S, dk, dv) if initial_state is None else initial_state
    delta = rule in ("delta", "gated_delta")
    outs = []
    for start in range(0, T, chunk):
        sl = slice(start, min(start + chunk, T))
        qc, kc, vc = q[:, :, sl], k[:, :, sl], v[:, :, sl]
        C = qc.shape[2]
        if log_decay is None:
            ld = q.new_zeros(B, S, C, dk) if rule == "gla" else q.new_zeros(B, S, C)
        else:
            ld = log_decay[:, :, sl]
        vector = ld.dim() == 4
        G = ld.cumsum(dim=2)  # inclusive cumulative log-decay inside the chunk
        gamma_in = G.exp()  # decay from the chunk start to step i: (B,S,C) or (B,S,C,dk)
        gamma_out = (G[:, :, -1:] - G).exp()  # decay from step j to the chunk end
        ratios = _decay_ratios(ld, vector)
        if vector:
            q_in = qc * gamma_in
            scores = torch.einsum("bsid,bsjd,bsijd->bsij", qc, kc, ratios)
            k_out = kc * gamma_out
            carry = gamma_in[:, :, -1].unsqueeze(-1) * state
        else:
            q_in = qc * gamma_in.unsqueeze(-1)
            scores = (qc @ kc.transpose(-1, -2)) * ratios
            k_out = kc * gamma_out.unsqueeze(-1)
            carry = gamma_in[:, :, -1, None, None] * state
        if delta:
            assert beta is not None
            bc = beta[:, :, sl]
            strict = torch.ones(C, C, dtype=torch.bool, device=q.device).tril(-1)
            A = (bc.unsqueeze(-1) * (kc @ kc.transpose(-1, -2)) * ratios).masked_fill(~strict, 0.0)
            eye = torch.eye(C, dtype=q.dtype, device=q.device)
            rhs = bc.unsqueeze(-1) * (vc - (kc * gamma_in.unsqueeze(-1)) @ state)
            vc = torch.linalg.solve_triangular(eye + A, rhs, upper=False, unitriangular=True)
            outs.append(q_in @ state + scores @ vc)
        else:
            outs.append(q_in @ state + scores @ vc)
        state = carry + k_out.transpose(-1, -2) @ vc
    o = torch.cat(outs, dim=2) if outs else v.new_zeros(B, S, 0, dv)
    return o, state
