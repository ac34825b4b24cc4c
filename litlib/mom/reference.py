"""Plain references for MoM: the token-by-token recurrence, routing, the balance loss and two closed forms.

Conventions (row vectors, as in the chapter): per stream (one memory of one head) the state is
``M_t in R^{d_k x d_v}``, the read is ``o_t = q_t M_t`` and the update rules are

``linear``       ``M_t = M_{t-1} + k_t^T v_t``
``gla``          ``M_t = diag(a_t) M_{t-1} + k_t^T v_t``                     (``a_t in (0,1]^{d_k}``)
``delta``        ``M_t = (I - beta_t k_t^T k_t) M_{t-1} + beta_t k_t^T v_t``
``gated_delta``  ``M_t = alpha_t (I - beta_t k_t^T k_t) M_{t-1} + beta_t k_t^T v_t``  (scalar ``alpha_t``)

Stream tensors are laid out ``(B, S, T, d)``: batch, stream, time, feature. A *write mask* ``w in {0,1}^{B x S x T}``
says which streams a token is routed to; an unselected step must be the identity (no write and no decay), which the
reference implements literally with an ``if``.
"""

from __future__ import annotations

import torch

RULES = ("linear", "gla", "delta", "gated_delta")


def recurrent_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    write: torch.Tensor,
    *,
    rule: str = "linear",
    log_decay: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run every stream token by token; a step with ``write == 0`` leaves the state untouched.

    Args:
        q, k: ``(B, S, T, d_k)``; v: ``(B, S, T, d_v)``.
        write: ``(B, S, T)`` 0/1 write mask.
        rule: one of :data:`RULES`.
        log_decay: ``(B, S, T, d_k)`` for ``gla``, ``(B, S, T)`` for ``gated_delta`` (``log a_t <= 0``).
        beta: ``(B, S, T)`` step sizes for the delta rules.
        initial_state: ``(B, S, d_k, d_v)``, default zeros.

    Returns:
        ``(o, state)``: per-stream reads ``(B, S, T, d_v)`` (``o_t = q_t M_t`` at every ``t``) and the final state.
    """
    B, S, T, dk = q.shape
    dv = v.shape[-1]
    state = q.new_zeros(B, S, dk, dv) if initial_state is None else initial_state.clone()
    outs = []
    for t in range(T):
        for b in range(B):
            for s in range(S):
                if write[b, s, t] != 0:
                    state[b, s] = _step(
                        state[b, s],
                        k[b, s, t],
                        v[b, s, t],
                        rule,
                        None if log_decay is None else log_decay[b, s, t],
                        None if beta is None else beta[b, s, t],
                    )
        outs.append(torch.einsum("bsk,bskv->bsv", q[:, :, t], state))
    return torch.stack(outs, dim=2), state


def _step(
    M: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rule: str,
    log_decay: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> torch.Tensor:
    """One update of one memory, the chapter's table of rules written out."""
    if rule == "linear":
        return M + torch.outer(k, v)
    if rule == "gla":
        assert log_decay is not None
        return log_decay.exp()[:, None] * M + torch.outer(k, v)
    assert beta is not None
    if rule == "gated_delta":
        assert log_decay is not None
        M = log_decay.exp() * M
    eye = torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
    return (eye - beta * torch.outer(k, k)) @ M + beta * torch.outer(k, v)


def route_reference(logits: torch.Tensor, topk: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax, top-k, renormalised weights, one token at a time.

    Args:
        logits: ``(N, M)`` router logits of ``N`` tokens.
        topk: number of memories per token.

    Returns:
        ``(probs, write, weights)``, each ``(N, M)``: softmax probabilities, the 0/1 selection and the mixing
        weights ``g`` (renormalised over the selection, 0 elsewhere).
    """
    probs = torch.softmax(logits, dim=-1)
    write = torch.zeros_like(probs)
    weights = torch.zeros_like(probs)
    for n in range(probs.shape[0]):
        order = sorted(range(probs.shape[1]), key=lambda m: (-float(probs[n, m]), m))[:topk]
        total = sum(probs[n, m] for m in order)
        for m in order:
            write[n, m] = 1.0
            weights[n, m] = probs[n, m] / total
    return probs, write, weights


def load_balance_reference(probs: torch.Tensor, write: torch.Tensor) -> torch.Tensor:
    """``L_aux = N_m sum_m f_m P_m`` with ``f_m`` = assignments to ``m`` per token and ``P_m`` = mean probability.

    Balanced routing gives ``L_aux = k`` (the number of memories per token), not 1.
    """
    n_tokens, n_mem = probs.shape
    f = [float(write[:, m].sum()) / n_tokens for m in range(n_mem)]
    P = [float(probs[:, m].mean()) for m in range(n_mem)]
    return torch.tensor(n_mem * sum(fm * pm for fm, pm in zip(f, P)), dtype=probs.dtype)


def retention_closed_form(alpha: float, write_prob: float, age: int | torch.Tensor) -> torch.Tensor:
    """Expected decay factor ``E[alpha^Bin(age, p)] = (1 - p (1 - alpha))^age`` of an item written ``age`` steps ago.

    A memory written (and therefore decayed) with probability ``p = k / N_m`` per token keeps its contents
    ``N_m / k`` times longer than one decayed at every token.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1]; got {alpha}")
    if not 0.0 <= write_prob <= 1.0:
        raise ValueError(f"write_prob must be in [0, 1]; got {write_prob}")
    base = torch.tensor(1.0 - write_prob * (1.0 - alpha), dtype=torch.float64)
    return base ** torch.as_tensor(age, dtype=torch.float64)


def crosstalk_prediction(n_pairs: int, d_k: int, n_memories: int = 1, topk: int = 1) -> float:
    """The interference budget's prediction for the cross-talk variance of an additive memory read.

    One memory with ``d_k`` key dimensions: ``(n - 1) / d_k``. ``N_m`` memories, top-``k`` routing with weights
    ``1/k``: about ``n / (N_m d_k)`` -- the same as a single memory with ``N_m d_k`` key dimensions.
    """
    if n_memories == 1 and topk == 1:
        return (n_pairs - 1) / d_k
    per_memory = n_pairs * topk / n_memories
    return max(per_memory - 1, 0.0) / d_k / topk if per_memory > 1 else 0.0


def expected_balance_value(topk: int) -> float:
    """The balance loss under perfectly uniform routing and probabilities: ``k``."""
    return float(topk)


def mixing_gain(num_memories: int, topk: int, shared: bool) -> float:
    """State per unit of recurrence compute relative to one memory: ``(N_m + s) / (k + s)`` with ``s`` = shared."""
    s = 1 if shared else 0
    return (num_memories + s) / (topk + s)


def flops_per_token(d_k: int, d_v: int, chunk: int, streams_per_token: int) -> float:
    """Chunked linear-attention FLOPs per token: ``2 n (C (d_k + d_v) + 2 d_k d_v)`` for ``n`` routed streams."""
    return 2.0 * streams_per_token * (chunk * (d_k + d_v) + 2.0 * d_k * d_v)


def crosstalk_variance(
    n_pairs: int,
    d_k: int,
    *,
    n_memories: int = 1,
    topk: int = 1,
    trials: int = 200,
    d_v: int = 32,
    generator: torch.Generator | None = None,
) -> float:
    """Monte Carlo cross-talk variance of reading ``n`` pairs back from additive memories with random unit keys.

    Each pair goes to ``topk`` of ``n_memories`` memories chosen at random (the read of key ``j`` uses the same
    memories as its write), with an independent random unit key in each memory, and reads are mixed with weights
    ``1 / topk``. Returns the mean squared error per value coordinate (values are standard normal), i.e. the
    variance of the interference term ``(1/k) sum_m sum_{i != j} (k_j^m . k_i^m) v_i``.

    Raises:
        ValueError: if a size is not positive or ``topk > n_memories``.
    """
    if min(n_pairs, d_k, n_memories, topk, trials, d_v) < 1 or topk > n_memories:
        raise ValueError("sizes must be positive and topk <= n_memories")
    g = torch.Generator().manual_seed(0) if generator is None else generator
    keys = torch.randn(trials, n_memories, n_pairs, d_k, generator=g, dtype=torch.float64)
    keys = keys / keys.norm(dim=-1, keepdim=True)
    values = torch.randn(trials, n_pairs, d_v, generator=g, dtype=torch.float64)
    choice = torch.rand(trials, n_pairs, n_memories, generator=g).argsort(dim=-1)[..., :topk]
    routed = torch.zeros(trials, n_pairs, n_memories, dtype=torch.float64).scatter(-1, choice, 1.0)
    gram = keys @ keys.transpose(-1, -2)  # (trials, M, n, n): k_j^m . k_i^m
    both = routed.transpose(1, 2).unsqueeze(-1) * routed.transpose(1, 2).unsqueeze(-2)  # j and i both in m
    coupling = (gram * both).sum(1) / topk
    coupling = coupling - torch.diag_embed(
        torch.diagonal(coupling, dim1=-2, dim2=-1)
    )  # drop the i = j signal
    noise = coupling @ values
    return float(noise.pow(2).mean())
