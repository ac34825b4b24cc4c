"""MoM: the three computations against the token-by-token reference, the layer, routing, balance loss and MQAR."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.mom import (
    MoMLayer,
    apply_write_mask,
    chunked_form,
    linear_attention_varlen,
    load_balance_loss,
    mqar_batch,
    parallel_form,
    recurrent_form,
    recurrent_reference,
    regroup,
    route,
    streams_varlen,
)
from litlib.mom.reference import (
    crosstalk_prediction,
    load_balance_reference,
    mixing_gain,
    retention_closed_form,
    route_reference,
)
from litlib.testing import assert_close

RULES = ["linear", "gla", "delta", "gated_delta"]


def _streams(
    rule: str, B: int = 2, S: int = 3, T: int = 13, dk: int = 4, dv: int = 5, seed: int = 0, p: float = 0.5
):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, S, T, dk, generator=g, dtype=torch.float64)
    k = torch.nn.functional.normalize(torch.randn(B, S, T, dk, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(B, S, T, dv, generator=g, dtype=torch.float64)
    w = (torch.rand(B, S, T, generator=g) < p).double()
    ld = beta = None
    if rule == "gla":
        ld = -torch.rand(B, S, T, dk, generator=g, dtype=torch.float64)
    if rule == "gated_delta":
        ld = -torch.rand(B, S, T, generator=g, dtype=torch.float64)
    if rule in ("delta", "gated_delta"):
        beta = torch.rand(B, S, T, generator=g, dtype=torch.float64)
    return q, k, v, w, ld, beta


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("T", [1, 13, 40])
def test_forms_match_token_by_token_reference(rule: str, T: int) -> None:
    q, k, v, w, ld, beta = _streams(rule, T=T, seed=T)
    ref, ref_state = recurrent_reference(q, k, v, w, rule=rule, log_decay=ld, beta=beta)
    km, ldm, bm = apply_write_mask(k, w, ld, beta)
    o, s = recurrent_form(q, km, v, rule=rule, log_decay=ldm, beta=bm)
    assert_close("recurrent", o, ref, rtol=1e-12)
    assert_close("recurrent state", s, ref_state, rtol=1e-12)
    for chunk in (1, 3, 16, 64):
        o, s = chunked_form(q, km, v, rule=rule, log_decay=ldm, beta=bm, chunk=chunk)
        assert_close(f"chunked C={chunk}", o, ref, rtol=1e-11)
        assert_close(f"chunked state C={chunk}", s, ref_state, rtol=1e-11)
    if rule in ("linear", "gla"):
        assert_close("parallel", parallel_form(q, km, v, rule=rule, log_decay=ldm), ref, rtol=1e-11)
        tail = parallel_form(q, km, v, rule=rule, log_decay=ldm, query_start=T // 2)
        assert_close("parallel tail", tail, ref[:, :, T // 2 :], rtol=1e-11)
    out = streams_varlen(q, k, v, w, rule=rule, log_decay=ld, beta=beta, chunk=4, mode="torch")
    assert_close("varlen at routed positions", out * w[..., None], ref * w[..., None], rtol=1e-11)


def test_chunked_form_continues_from_a_state() -> None:
    q, k, v, w, ld, beta = _streams("gated_delta", T=20)
    km, ldm, bm = apply_write_mask(k, w, ld, beta)
    full, s_full = chunked_form(q, km, v, rule="gated_delta", log_decay=ldm, beta=bm, chunk=4)
    first, s1 = chunked_form(q[:, :, :7], km[:, :, :7], v[:, :, :7], rule="gated_delta", log_decay=ldm[:, :, :7],
                             beta=bm[:, :, :7], chunk=4)  # fmt: skip
    second, s2 = recurrent_form(q[:, :, 7:], km[:, :, 7:], v[:, :, 7:], rule="gated_delta", log_decay=ldm[:, :, 7:],
                                beta=bm[:, :, 7:], initial_state=s1)  # fmt: skip
    assert_close("split", torch.cat([first, second], 2), full, rtol=1e-12)
    assert_close("split state", s2, s_full, rtol=1e-12)


def test_decaying_unselected_memories_is_a_different_model() -> None:
    """The pitfall: applying the gate at every step (not alpha^w) changes the outputs of a gated rule."""
    q, k, v, w, ld, beta = _streams("gated_delta", T=30)
    km, ldm, bm = apply_write_mask(k, w, ld, beta)
    right, _ = chunked_form(q, km, v, rule="gated_delta", log_decay=ldm, beta=bm)
    wrong, _ = chunked_form(q, km, v, rule="gated_delta", log_decay=ld, beta=bm)  # decay not masked
    assert float((right - wrong).abs().max()) > 1e-2


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 30),
    p=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
    rule=st.sampled_from(RULES),
    chunk=st.integers(1, 9),
)
def test_property_chunked_equals_recurrence(T: int, p: float, seed: int, rule: str, chunk: int) -> None:
    q, k, v, w, ld, beta = _streams(rule, B=1, S=2, T=T, seed=seed, p=p)
    ref, _ = recurrent_reference(q, k, v, w, rule=rule, log_decay=ld, beta=beta)
    km, ldm, bm = apply_write_mask(k, w, ld, beta)
    o, _ = chunked_form(q, km, v, rule=rule, log_decay=ldm, beta=bm, chunk=chunk)
    assert_close("chunked", o, ref, rtol=1e-10)


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 25), seed=st.integers(0, 10_000))
def test_property_unselected_steps_leave_state_unchanged(T: int, seed: int) -> None:
    """A stream never written keeps its initial state exactly, whatever the gates say."""
    q, k, v, _, ld, beta = _streams("gated_delta", B=1, S=1, T=T, seed=seed)
    km, ldm, bm = apply_write_mask(k, torch.zeros(1, 1, T, dtype=torch.float64), ld, beta)
    init = torch.randn(1, 1, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    _, s = recurrent_form(q, km, v, rule="gated_delta", log_decay=ldm, beta=bm, initial_state=init)
    assert torch.equal(s, init)


def test_output_mixing_equals_state_mixing() -> None:
    q, k, v, w, _, _ = _streams("linear", B=1, S=4, T=9)
    q = q[:, :1].expand_as(q)  # the query projection is shared by all memories
    g = torch.rand(1, 4, 9, dtype=torch.float64)
    km, _, _ = apply_write_mask(k, w, None, None)
    o, _ = recurrent_form(q, km, v)
    mixed_outputs = (g.unsqueeze(-1) * o).sum(1)
    states = []
    state = torch.zeros(1, 4, 4, 5, dtype=torch.float64)
    for t in range(9):
        state = state + km[:, :, t].unsqueeze(-1) * v[:, :, t].unsqueeze(-2)
        mixed_state = (g[:, :, t, None, None] * state).sum(1)  # M~_t, materialised
        states.append(torch.einsum("bk,bkv->bv", q[:, 0, t], mixed_state))
    assert_close("state mixing", mixed_outputs, torch.stack(states, 1), rtol=1e-12)


# ----------------------------------------------------------------------------------------- routing and loss
@pytest.mark.parametrize("topk", [1, 2, 3])
def test_route_matches_reference(topk: int) -> None:
    logits = torch.randn(50, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(topk))
    r = route(logits, topk)
    probs, write, weights = route_reference(logits, topk)
    assert_close("probs", r.probs, probs, rtol=1e-14)
    assert torch.equal(r.write, write)
    assert_close("weights", r.weights, weights, rtol=1e-14)
    assert torch.allclose(r.weights.sum(-1), torch.ones(50, dtype=torch.float64))
    assert_close("aux", load_balance_loss(r), load_balance_reference(probs, write), rtol=1e-12)


def test_balance_loss_is_k_when_balanced() -> None:
    logits = torch.zeros(8, 4)  # uniform probabilities; assignments made balanced by hand
    r = route(logits, 2)
    r.write = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]] * 4)
    assert math.isclose(float(load_balance_loss(r)), 2.0, rel_tol=1e-6)


def test_route_masks_padding() -> None:
    logits = torch.randn(2, 6, 4)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    r = route(logits, 2, mask)
    assert float(r.write[1, 3:].abs().sum()) == 0.0 and float(r.weights[1, 3:].abs().sum()) == 0.0


def test_top1_router_gets_no_gradient_from_the_task_loss() -> None:
    """With top-1, g = p / p = 1: the router's gradient from the output is zero up to round-off (float64 here)."""
    torch.manual_seed(0)
    x = torch.randn(2, 10, 8, dtype=torch.float64)
    norms = {}
    for topk in (1, 2):
        layer = MoMLayer(
            8, num_memories=3, topk=topk, d_k=4, d_v=4, shared_memory=False, impl="parallel"
        ).double()
        layer(x).output.pow(2).sum().backward()
        assert layer.router.weight.grad is not None and layer.k_proj.weight.grad is not None
        norms[topk] = float(layer.router.weight.grad.norm() / layer.k_proj.weight.grad.norm())
    assert norms[1] < 1e-12 < 1e-3 < norms[2]


# ----------------------------------------------------------------------------------------------- the layer
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("shared", [True, False])
def test_layer_implementations_agree(rule: str, shared: bool) -> None:
    torch.manual_seed(1)
    layer = MoMLayer(12, num_memories=3, topk=2, d_k=4, d_v=5, num_heads=2, shared_memory=shared, rule=rule,
                     chunk_size=4).double()  # fmt: skip
    x = torch.randn(2, 11, 12, dtype=torch.float64)
    ref = layer(x, impl="recurrent").output
    for impl in ("parallel", "chunked", "varlen"):
        assert_close(f"{rule} {impl}", layer(x, impl=impl).output, ref, rtol=1e-11)
    tail = layer(x, impl="parallel", keep_last=4).output
    assert_close("keep_last", tail, ref[:, -4:], rtol=1e-11)


@pytest.mark.parametrize("rule", ["linear", "gated_delta"])
def test_step_decoding_with_cache_equals_full_pass(rule: str) -> None:
    torch.manual_seed(2)
    layer = MoMLayer(10, num_memories=4, topk=2, d_k=4, d_v=6, rule=rule).double()
    x = torch.randn(3, 9, 10, dtype=torch.float64)
    full = layer(x, return_state=True)
    state = layer.empty_state(3)
    outs = []
    for t in range(9):
        y, new_state = layer.step(x[:, t], state)
        routed = full.routing.write[:, t] != 0  # (B, M): memories this token was sent to
        unchanged = (new_state[:, 0, :4] == state[:, 0, :4]).flatten(2).all(-1)
        assert torch.equal(unchanged, ~routed), "only routed memories may change"
        outs.append(y)
        state = new_state
    assert_close("decode", torch.stack(outs, 1), full.output, rtol=1e-11)
    assert full.state is not None
    assert_close("final state", state, full.state, rtol=1e-11)


def test_padding_writes_nothing() -> None:
    torch.manual_seed(3)
    layer = MoMLayer(8, num_memories=3, topk=2, d_k=4, d_v=4).double()
    x = torch.randn(1, 7, 8, dtype=torch.float64)
    mask = torch.tensor([[True] * 4 + [False] * 3])
    out = layer(x, mask=mask, return_state=True)
    short = layer(x[:, :4], return_state=True)
    assert out.state is not None and short.state is not None
    assert_close("padded state", out.state, short.state, rtol=1e-12)
    assert_close("padded outputs", out.output[:, :4], short.output, rtol=1e-12)


def test_single_memory_is_an_ordinary_linear_attention() -> None:
    torch.manual_seed(4)
    layer = MoMLayer(8, num_memories=1, topk=1, d_k=4, d_v=8, shared_memory=False, normalize_qk=False,
                     output_proj=False).double()  # fmt: skip
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    q, k, v = layer.q_proj(x), layer.k_proj(x), layer.v_proj(x)
    expected = torch.tril(q @ k.transpose(1, 2)) @ v
    assert_close("single memory", layer(x).output, expected, rtol=1e-12)


def test_layer_gradients_flow_through_every_impl() -> None:
    torch.manual_seed(5)
    layer = MoMLayer(8, num_memories=3, topk=2, d_k=4, d_v=4, rule="gla").double()
    x = torch.randn(2, 9, 8, dtype=torch.float64)
    grads = {}
    for impl in ("recurrent", "parallel", "chunked", "varlen"):
        layer.zero_grad()
        layer(x, impl=impl).output.sum().backward()
        grads[impl] = torch.cat([p.grad.flatten() for p in layer.parameters() if p.grad is not None])
    for impl in ("parallel", "chunked", "varlen"):
        assert_close(f"grad {impl}", grads[impl], grads["recurrent"], rtol=1e-10)


# ------------------------------------------------------------------------------------------ regroup, varlen
def test_regroup_keeps_time_order_and_counts() -> None:
    w = (torch.rand(2, 3, 17, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    rg = regroup(w)
    assert int(rg.cu_seqlens[-1]) == int(w.sum())
    for g in range(6):
        a, b = int(rg.cu_seqlens[g]), int(rg.cu_seqlens[g + 1])
        assert torch.all(rg.batch[a:b] == g // 3) and torch.all(rg.stream[a:b] == g % 3)
        assert torch.all(rg.time[a:b].diff() > 0)


@pytest.mark.parametrize("lengths", [[0, 1, 63, 5], [7], [0, 0, 3]])
def test_varlen_torch_matches_reference(lengths: list[int]) -> None:
    g = torch.Generator().manual_seed(sum(lengths))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
    N = int(cu[-1])
    q, k = (
        torch.randn(N, 5, generator=g, dtype=torch.float64),
        torch.randn(N, 5, generator=g, dtype=torch.float64),
    )
    v = torch.randn(N, 3, generator=g, dtype=torch.float64)
    ref = linear_attention_varlen(q, k, v, cu, mode="reference")
    assert_close("varlen torch", linear_attention_varlen(q, k, v, cu, mode="torch", chunk=4), ref, rtol=1e-12)


# ---------------------------------------------------------------------------------------- closed forms, data
def test_retention_closed_form_matches_sampling() -> None:
    g = torch.Generator().manual_seed(0)
    alpha, p, s = 0.9, 0.5, 30
    writes = (torch.rand(200_000, s, generator=g) < p).sum(1).double()
    mc = float((alpha**writes).mean())
    assert math.isclose(mc, float(retention_closed_form(alpha, p, s)), rel_tol=0.02)
    with pytest.raises(ValueError, match="alpha"):
        retention_closed_form(1.5, 0.5, 3)


def test_small_closed_forms() -> None:
    assert math.isclose(mixing_gain(4, 2, True), 5 / 3)
    assert math.isclose(mixing_gain(4, 2, False), 2.0)
    assert math.isclose(crosstalk_prediction(64, 16), 63 / 16)


def test_mqar_batch_structure() -> None:
    tokens, targets = mqar_batch(5, 16, torch.Generator().manual_seed(0))
    assert tokens.shape == targets.shape == (5, 48)
    for b in range(5):
        keys, values = tokens[b, 0:32:2], tokens[b, 1:32:2]
        assert len(set(keys.tolist())) == 16 and bool((keys < 64).all()) and bool((values >= 64).all())
        pairs = dict(zip(keys.tolist(), values.tolist()))
        assert sorted(tokens[b, 32:].tolist()) == sorted(keys.tolist())
        assert all(pairs[kq] == int(t) for kq, t in zip(tokens[b, 32:].tolist(), targets[b, 32:]))
        assert bool((targets[b, :32] == -100).all())


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_inputs_are_rejected() -> None:
    q, k, v, _, _, beta = _streams("gla")
    with pytest.raises(ValueError, match="rule"):
        chunked_form(q, k, v, rule="nope")
    with pytest.raises(ValueError, match="log_decay"):
        chunked_form(q, k, v, rule="gla")
    with pytest.raises(ValueError, match="beta"):
        chunked_form(q, k, v, rule="delta")
    with pytest.raises(ValueError, match="chunk"):
        chunked_form(q, k, v, chunk=0)
    with pytest.raises(ValueError, match="parallel_form"):
        parallel_form(q, k, v, rule="delta", beta=beta[..., 0] if beta is not None else torch.rand(2, 3, 13))
    with pytest.raises(TypeError, match="q must be"):
        recurrent_form(q.long(), k, v)
    with pytest.raises(ValueError, match="topk"):
        MoMLayer(8, num_memories=2, topk=3)
    with pytest.raises(ValueError, match="impl"):
        MoMLayer(8, impl="fast")
    layer = MoMLayer(8, num_memories=2, topk=1, d_k=4)
    with pytest.raises(ValueError, match="x must have shape"):
        layer(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(2, 5, 8), mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="state"):
        layer(torch.randn(2, 5, 8), state=torch.zeros(2, 1, 1, 4, 4))
    with pytest.raises(ValueError, match="keep_last"):
        layer(torch.randn(2, 5, 8), keep_last=6)
    with pytest.raises(ValueError, match="cu_seqlens"):
        linear_attention_varlen(torch.randn(4, 2), torch.randn(4, 2), torch.randn(4, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="n_pairs"):
        mqar_batch(2, 65, torch.Generator())
    with pytest.raises(ValueError, match="topk"):
        route(torch.randn(3, 4), 5)


def test_train_mqar_is_deterministic_and_sweep_matches() -> None:
    from litlib.mom import MQARConfig, train_mqar, train_mqar_sweep

    cfg = MQARConfig("tiny", num_memories=2, topk=1, d_k=4, d_model=16, d_v=16)
    a = train_mqar(cfg, [3], n_pairs=4, steps=3, batch=8, eval_size=16, progress=False)
    b = train_mqar_sweep({"tiny": (cfg, 3)}, [3], n_pairs=4, batch=8, eval_size=16, progress=False)["tiny"]
    assert a.accuracy == b.accuracy and 0.0 <= a.accuracy[0] <= 1.0
    assert a.losses == b.losses and len(a.losses[0]) == 2
    with pytest.raises(ValueError, match="seeds"):
        train_mqar(cfg, [], steps=1)
    with pytest.raises(ValueError, match="processes"):
        train_mqar_sweep({"tiny": (cfg, 1)}, [0], processes=0)


def test_routing_agreement_bounds_and_constant_router() -> None:
    from litlib.mom import MQARConfig, MQARModel
    from litlib.mom.mqar import routing_agreement

    torch.manual_seed(0)
    model = MQARModel(MQARConfig("t", num_memories=4, topk=2, d_k=4, d_model=16, d_v=16))
    agree, chance = routing_agreement(model, 6, 32, torch.Generator().manual_seed(0))
    assert 0.0 <= agree <= 1.0 and chance == 0.5
    with torch.no_grad():
        model.memory.router.weight.zero_()  # every token gets the same two memories
    agree, _ = routing_agreement(model, 6, 32, torch.Generator().manual_seed(0))
    assert agree == 1.0
