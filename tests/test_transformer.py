"""The shared transformer toolkit: caches equal recomputation, RoPE is relative, masks, decoding, bad inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.runtime import num_threads
from litlib.testing import assert_close
from litlib.transformer import (
    DecoderLM,
    EncoderDecoder,
    KVCache,
    apply_rope,
    beam_search,
    causal_mask,
    combine_masks,
    greedy_decode,
    padding_mask,
    train,
)

V = 23


def _lm(dtype: torch.dtype = torch.float64, seed: int = 0, layers: int = 2) -> DecoderLM:
    torch.manual_seed(seed)
    return DecoderLM(V, d_model=16, n_heads=2, n_layers=layers).to(dtype).eval()


def _ed(seed: int = 0, absolute_positions: int | None = None) -> EncoderDecoder:
    torch.manual_seed(seed)
    return (
        EncoderDecoder(
            V,
            V + 3,
            d_model=16,
            n_heads=2,
            n_encoder_layers=2,
            n_decoder_layers=2,
            absolute_positions=absolute_positions,
        )
        .double()
        .eval()
    )


def _tokens(b: int, t: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("split", [1, 5, 9])
def test_cached_incremental_equals_full_recomputation(dtype: torch.dtype, tol: float, split: int) -> None:
    lm, x = _lm(dtype), _tokens(3, 10)
    with torch.no_grad():
        full, _ = lm(x)
        first, cache = lm(x[:, :split])
        parts = [first]
        for t in range(split, 10):  # one token at a time after the prefill
            step, cache = lm(x[:, t : t + 1], cache=cache)
            parts.append(step)
    assert_close("cached logits", torch.cat(parts, 1), full, rtol=tol)
    assert cache.length == 10 and torch.equal(cache.positions[0], torch.arange(10))


def test_concatenated_caches_equal_one_prefill_when_positions_agree() -> None:
    lm, a, b, q = _lm(), _tokens(2, 4, 1), _tokens(2, 5, 2), _tokens(2, 3, 3)
    with torch.no_grad():
        full, _ = lm(torch.cat([a, b, q], 1))
        _, ca = lm(a)
        # b is encoded *after* a, so its cache must be built with a's cache; then sliced and re-concatenated
        _, cab = lm(b, cache=ca)
        cat = KVCache.cat([ca, cab.slice(4)])
        out, _ = lm(q, cache=cat)
    assert_close("query logits after concatenation", out, full[:, 9:], rtol=1e-12)


def test_independent_caches_give_block_structured_attention() -> None:
    """Contexts encoded independently at reused positions = one pass with a block mask and those positions."""
    lm, a, b, q = _lm(), _tokens(2, 4, 1), _tokens(2, 4, 2), _tokens(2, 3, 3)
    pos_ctx = torch.arange(4)[None].expand(2, -1)
    pos_q = torch.arange(4, 7)[None].expand(2, -1)
    with torch.no_grad():
        _, ca = lm(a, pos_ctx)
        _, cb = lm(b, pos_ctx)
        out, _ = lm(q, pos_q, cache=KVCache.cat([ca, cb]))
        block = torch.zeros(11, 11, dtype=torch.bool)
        block[:4, :4] = True
        block[4:8, 4:8] = True
        block[8:, :] = True
        dense, _ = lm(torch.cat([a, b, q], 1), torch.cat([pos_ctx, pos_ctx, pos_q], 1), attn_mask=block[None])
        sequential, _ = lm(torch.cat([a, b, q], 1))
    assert_close("block mask vs caches", out, dense[:, 8:], rtol=1e-12)
    # and it is genuinely different from sequential encoding (the test can fail)
    assert (out - sequential[:, 8:]).abs().max() > 1e-3


def test_fold_rows_matches_cat() -> None:
    lm = _lm()
    ctx = _tokens(6, 3)
    with torch.no_grad():
        _, batched = lm(ctx)
        folded = batched.fold_rows(3)
        rows = [lm(ctx[i : i + 1])[1] for i in range(6)]
    ref = [KVCache.cat(rows[3 * j : 3 * j + 3]) for j in range(2)]
    for j in range(2):
        assert torch.allclose(folded.keys[1][j], ref[j].keys[1][0])
        assert torch.equal(folded.positions[j], ref[j].positions[0])
    with pytest.raises(ValueError, match="n must divide"):
        batched.fold_rows(4)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(-50, 200), n=st.integers(-50, 200), shift=st.integers(-100, 100))
def test_rope_scores_depend_only_on_offset(m: int, n: int, shift: int) -> None:
    g = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(1, 1, 1, 8, generator=g, dtype=torch.float64),
        torch.randn(1, 1, 1, 8, generator=g).double(),
    )

    def score(pm: int, pn: int) -> float:
        qr = apply_rope(q, torch.tensor([[pm]], dtype=torch.float64))
        kr = apply_rope(k, torch.tensor([[pn]], dtype=torch.float64))
        return float((qr * kr).sum())

    assert abs(score(m, n) - score(m + shift, n + shift)) < 1e-9
    # rotation preserves the norm
    qr = apply_rope(q, torch.tensor([[m]], dtype=torch.float64))
    assert abs(float(qr.norm() - q.norm())) < 1e-12


def test_rope_position_zero_is_identity_and_positions_matter() -> None:
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    assert torch.allclose(apply_rope(x, torch.zeros(2, 4)), x)
    assert not torch.allclose(apply_rope(x, torch.ones(2, 4)), x)


def test_masks() -> None:
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]
    assert torch.equal(causal_mask(3), torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    assert padding_mask([2, 0, 3]).tolist() == [
        [True, True, False],
        [False, False, False],
        [True, True, True],
    ]
    assert padding_mask([1], max_len=2).tolist() == [[True, False]]
    a, b = torch.tensor([True, False, True]), torch.tensor([True, True, False])
    out = combine_masks(a, None, b)
    assert out is not None and out.tolist() == [True, False, False]
    assert combine_masks(None) is None


def test_padding_is_invisible() -> None:
    lm, x = _lm(), _tokens(2, 6)
    pad = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    junk = x.clone()
    junk[0, 4:] = (junk[0, 4:] + 7) % V
    with torch.no_grad():
        _, c1 = lm(x, key_padding=pad)
        _, c2 = lm(junk, key_padding=pad)
        q = _tokens(2, 2, 5)
        o1, _ = lm(q, cache=c1)
        o2, _ = lm(q, cache=c2)
    assert_close("padding ignored", o1, o2, rtol=1e-12)
    assert c1.next_positions().tolist() == [4, 6]


@pytest.mark.parametrize(("split", "absolute"), [(2, None), (7, None), (3, 6)])
def test_encoder_decoder_cached_equals_teacher_forcing(split: int, absolute: int | None) -> None:
    """Also with learned absolute positions (a 6-entry table, so positions 6 and 7 exercise the clamp)."""
    ed = _ed(absolute_positions=absolute)
    src, tgt = _tokens(2, 7), _tokens(2, 8, 4)
    src_mask = padding_mask([7, 5])
    with torch.no_grad():
        full = ed(src, tgt, src_mask)
        mem, mm = ed.encode(src, src_mask)
        first, cache = ed.decode(tgt[:, :split], mem, mm)
        parts = [first]
        for t in range(split, 8):
            step, cache = ed.decode(tgt[:, t : t + 1], mem, mm, cache)
            parts.append(step)
    assert_close("enc-dec cached", torch.cat(parts, 1), full, rtol=1e-12)


def test_encoder_ignores_source_padding() -> None:
    ed = _ed()
    src = _tokens(1, 6)
    junk = src.clone()
    junk[0, 4:] = (junk[0, 4:] + 3) % V
    mask = padding_mask([4], 6)
    tgt = _tokens(1, 3, 9)
    with torch.no_grad():
        assert_close("src padding", ed(junk, tgt, mask), ed(src, tgt, mask), rtol=1e-12)


def test_greedy_decode_matches_uncached_argmax_loop() -> None:
    lm, prompt = _lm(), _tokens(3, 4)
    out = greedy_decode(lm, prompt, 6)
    seq = prompt
    with torch.no_grad():
        for _ in range(6):
            nxt = lm(seq)[0][:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], 1)
    assert torch.equal(out, seq[:, 4:])


@pytest.mark.parametrize("kind", ["lm", "ed"])
def test_beam_one_equals_greedy(kind: str) -> None:
    model = _lm(seed=3) if kind == "lm" else _ed(seed=3)
    kw = {} if kind == "lm" else {"start_token": 1}
    x = _tokens(3, 5)
    g = greedy_decode(model, x, 7, **kw)
    b, _ = beam_search(model, x, 7, beam_size=1, **kw)
    assert torch.equal(g, b)


def _sequence_logprob(lm: DecoderLM, prompt: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        logits, _ = lm(torch.cat([prompt, cont], 1))
    lp = torch.log_softmax(logits[:, prompt.shape[1] - 1 : -1].float(), -1)
    return lp.gather(-1, cont[:, :, None]).sum((1, 2))


def test_beam_search_scores_are_log_probs_and_beat_greedy() -> None:
    lm, prompt = _lm(seed=5), _tokens(4, 3)
    seqs, scores = beam_search(lm, prompt, 4, beam_size=5)
    assert torch.allclose(scores.double(), _sequence_logprob(lm, prompt, seqs).double(), atol=1e-5)
    greedy = greedy_decode(lm, prompt, 4)
    assert (scores >= _sequence_logprob(lm, prompt, greedy) - 1e-5).all()


def test_beam_search_exhaustive_on_tiny_vocab() -> None:
    """With beam = vocabulary size and 2 steps, beam search is exact: compare with brute force."""
    torch.manual_seed(0)
    lm = DecoderLM(4, d_model=8, n_heads=2, n_layers=1).double().eval()
    prompt = torch.tensor([[1, 2]])
    seqs, score = beam_search(lm, prompt, 2, beam_size=4)
    all_pairs = torch.cartesian_prod(torch.arange(4), torch.arange(4))
    lps = _sequence_logprob(lm, prompt.expand(16, -1), all_pairs)
    assert abs(float(score) - float(lps.max())) < 1e-9
    assert torch.equal(seqs[0], all_pairs[lps.argmax()])


def test_eos_freezes_rows() -> None:
    lm, prompt = _lm(seed=2), _tokens(2, 3)
    first = greedy_decode(lm, prompt, 1)
    out = greedy_decode(lm, prompt, 5, eos_id=int(first[0, 0]))
    assert (out[0] == first[0, 0]).all()


def test_train_reduces_loss_and_detects_nan() -> None:
    torch.manual_seed(0)
    lm = DecoderLM(5, d_model=16, n_heads=2, n_layers=1)
    data = torch.tensor([[0, 1, 2, 3, 4] * 3])

    def loss_fn(step: int) -> torch.Tensor:
        logits, _ = lm(data[:, :-1])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 5), data[:, 1:].reshape(-1))

    with num_threads(1):  # a tiny model: intra-op threads only add overhead
        losses = train(lm, loss_fn, 40, lr=1e-2, progress=False)
    assert losses[-1] < 0.2 * losses[0]
    with pytest.raises(FloatingPointError):
        train(lm, lambda s: torch.tensor(float("nan"), requires_grad=True), 2, progress=False)


def test_bad_inputs() -> None:
    lm = _lm()
    with pytest.raises(TypeError, match="tokens"):
        lm(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="tokens"):
        lm(torch.tensor([[0, V]]))
    with pytest.raises(ValueError, match="shape"):
        lm(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="positions"):
        lm(torch.tensor([[1, 2]]), positions=torch.tensor([[0, 1, 2]]))
    _, cache = lm(torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="cache"):
        lm(torch.tensor([[1], [2]]), cache=cache)
    with pytest.raises(TypeError, match="cache"):
        lm(torch.tensor([[1]]), cache="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="d_model"):
        DecoderLM(V, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="head dimension"):
        DecoderLM(V, d_model=6, n_heads=2)
    with pytest.raises(ValueError, match="n_layers"):
        DecoderLM(V, n_layers=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_decode(lm, torch.tensor([[1]]), 0)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(lm, torch.tensor([[1]]), 2, beam_size=0)
    with pytest.raises(ValueError, match="start_token"):
        greedy_decode(_ed(), torch.tensor([[1]]), 2)
    with pytest.raises(ValueError, match="n_keys"):
        causal_mask(3, 2)
    with pytest.raises(ValueError, match="max_len"):
        padding_mask([3], max_len=2)
    with pytest.raises(ValueError, match="caches"):
        KVCache.cat([])
    with pytest.raises(ValueError, match="positions"):
        apply_rope(torch.zeros(1, 1, 3, 4), torch.zeros(1, 2))


def test_logits_for_last_and_none() -> None:
    lm, x = _lm(), _tokens(2, 7)
    with torch.no_grad():
        full, c_all = lm(x)
        last, c_last = lm(x, logits_for="last")
        none, c_none = lm(x, logits_for="none")
    assert_close("last logits", last, full[:, -1:], rtol=1e-12)
    assert none.shape == (2, 0, V)
    assert torch.equal(c_all.keys[1], c_none.keys[1]) and torch.equal(c_all.values[0], c_last.values[0])
    with pytest.raises(ValueError, match="logits_for"):
        lm(x, logits_for="first")


def test_absolute_positions_are_validated_and_change_the_model() -> None:
    with pytest.raises(ValueError, match="absolute_positions must be"):
        EncoderDecoder(V, V, absolute_positions=0)
    src, tgt = _tokens(1, 5), _tokens(1, 4, 4)
    with torch.no_grad():
        plain = _ed(seed=1)(src, tgt)
        absolute = _ed(seed=1, absolute_positions=8)(src, tgt)
    assert (plain - absolute).abs().max() > 1e-3  # the position tables really enter the computation
