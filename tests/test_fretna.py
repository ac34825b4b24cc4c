"""Tests of litlib.fretna: toy language, edit oracle (NumPy reference vs batched torch), metrics, pass formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from litlib.fretna import metrics
from litlib.fretna.data import (
    BOS,
    EOS,
    PAD,
    ReorderingLanguage,
    pad_batch,
    prefix_pair,
    prefix_target_length,
    strip_special,
)
from litlib.fretna.oracle import edit_oracle_batched, lcs_tables
from litlib.fretna.reference import (
    apply_edits,
    edit_oracle,
    fretna_passes_bound,
    indel_distance_brute_force,
    lcs_brute_force,
    lcs_table,
    levenshtein_sub2,
    reta_passes_formula,
    reta_passes_ideal,
)

tokens = st.lists(st.integers(0, 3), max_size=9)


# ----------------------------------------------------------------------------- toy language
def test_translation_reverses_windows_and_adds_function_words() -> None:
    lang = ReorderingLanguage(n_words=6, seed=1)
    x = [lang.source_word(k) for k in (0, 1, 2, 3)]
    tr = [lang.n_words + 4 + lang.lexicon[k] for k in range(4)]  # word-by-word translations
    f = lang.function_word
    assert lang.translate(x) == [tr[2], tr[1], tr[0], f, tr[3], f]


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7, 18])
def test_target_length_formula(n: int) -> None:
    lang = ReorderingLanguage()
    ((_, tgt),) = lang.sample(1, np.random.default_rng(n), length=n)
    assert len(tgt) == lang.target_length(n) == n + math.ceil(n / 3)


def test_prefix_pairs_are_proportional_and_nested() -> None:
    src, tgt = list(range(4, 13)), list(range(40, 52))  # |x| = 9, |y| = 12
    assert [prefix_target_length(i, 9, 12) for i in (1, 3, 9)] == [2, 4, 12]
    assert prefix_pair(src, tgt, 3) == (src[:3], tgt[:4])
    with pytest.raises(ValueError, match="i must be"):
        prefix_target_length(0, 9, 12)


def test_language_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="n_words"):
        ReorderingLanguage(n_words=3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_len"):
        ReorderingLanguage(min_len=5, max_len=4)
    with pytest.raises(ValueError, match="source-word"):
        ReorderingLanguage().translate([BOS])


def test_pad_and_strip_roundtrip() -> None:
    arr = pad_batch([[5, 6], [7]], bos_eos=True)
    assert arr.tolist() == [[BOS, 5, 6, EOS], [BOS, 7, EOS, PAD]]
    assert strip_special(arr[1]) == [7]
    with pytest.raises(ValueError, match="length"):
        pad_batch([[1, 2, 3]], length=2)


# ----------------------------------------------------------------------------- edit oracle
def test_oracle_hand_case() -> None:
    # canvas "a b x" -> reference "a c b": keep a, insert c, keep b, delete x
    t = edit_oracle([1, 2, 9], [1, 3, 2])
    assert t.delete.tolist() == [False, False, True]
    assert t.placeholders.tolist() == [0, 1, 0]  # slots: <s>|a, a|b, b|</s>
    assert t.inserted.tolist() == [False, True, False]
    assert t.distance == 2


def test_oracle_prefix_canvas_only_appends() -> None:
    t = edit_oracle([5, 6], [5, 6, 7, 8])
    assert not t.delete.any() and t.placeholders.tolist() == [0, 0, 2]


@settings(max_examples=150, deadline=None)
@given(tokens, tokens)
def test_oracle_is_minimal_and_rebuilds_reference(a: list[int], b: list[int]) -> None:
    t = edit_oracle(a, b)
    assert t.distance == indel_distance_brute_force(a, b) == levenshtein_sub2(a, b)
    assert len(t.placeholders) == int((~t.delete).sum()) + 1
    assert apply_edits(a, t, [tok for tok, ins in zip(b, t.inserted) if ins]) == b
    assert int(lcs_table(a, b)[0, 0]) == lcs_brute_force(a, b)


def _random_pairs(
    rng: np.random.Generator, n: int, max_len: int, vocab: int
) -> tuple[list[list[int]], list[list[int]]]:
    a = [[int(v) for v in rng.integers(0, vocab, rng.integers(0, max_len + 1))] for _ in range(n)]
    b = [[int(v) for v in rng.integers(0, vocab, rng.integers(0, max_len + 1))] for _ in range(n)]
    return a, b


@pytest.mark.parametrize(("max_len", "vocab"), [(1, 2), (7, 3), (13, 5), (24, 40)])
def test_batched_oracle_equals_reference(max_len: int, vocab: int) -> None:
    rng = np.random.default_rng(max_len)
    A, B = _random_pairs(rng, 64, max_len, vocab)
    out = edit_oracle_batched(
        torch.tensor(pad_batch(A)),
        torch.tensor([len(x) for x in A]),
        torch.tensor(pad_batch(B)),
        torch.tensor([len(x) for x in B]),
    )
    for k, (a, b) in enumerate(zip(A, B)):
        ref = edit_oracle(a, b)
        assert out.delete[k, : len(a)].tolist() == ref.delete.tolist()
        assert not out.delete[k, len(a) :].any()
        assert out.inserted[k, : len(b)].tolist() == ref.inserted.tolist()
        slots = len(ref.placeholders)
        assert out.placeholders[k, :slots].tolist() == ref.placeholders.tolist()
        assert int(out.placeholders[k, slots:].sum()) == 0
        assert int(out.distance[k]) == ref.distance


def test_batched_lcs_table_matches_reference_with_padding_garbage() -> None:
    a = torch.tensor([[1, 2, 3, 7, 7], [4, 4, 1, 2, 2]])
    b = torch.tensor([[3, 2, 1, 2], [1, 2, 9, 9]])
    L = lcs_tables(a, torch.tensor([3, 5]), b, torch.tensor([4, 2]))
    assert np.array_equal(L[0, :4, :5].numpy(), lcs_table([1, 2, 3], [3, 2, 1, 2]))
    assert np.array_equal(L[1, :6, :3].numpy(), lcs_table([4, 4, 1, 2, 2], [1, 2]))


def test_batched_oracle_rejects_bad_inputs() -> None:
    a = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(TypeError, match="a must be"):
        edit_oracle_batched(a.float(), torch.tensor([1, 1]), a, torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="b_lengths"):
        edit_oracle_batched(a, torch.tensor([1, 1]), a, torch.tensor([1, 4]))
    with pytest.raises(ValueError, match="batch size"):
        edit_oracle_batched(a, torch.tensor([1, 1]), a[:1], torch.tensor([1]))


# ----------------------------------------------------------------------------- metrics
def _wait_k_trace(n: int, k: int) -> list[list[int]]:
    y = list(range(100, 100 + n))
    return [y[: max(i - k + 1, 0)] for i in range(1, n)] + [y]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_wait_k_trace_metrics(k: int) -> None:
    trace = _wait_k_trace(9, k)
    assert metrics.content_delays(trace) == [min(k + j - 1, 9) for j in range(1, 10)]
    assert metrics.normalized_erasure(trace) == 0
    assert metrics.average_lagging(trace) == pytest.approx(k)
    assert metrics.differentiable_average_lagging(trace) == pytest.approx(k)
    changed = sum(1 for p, c in itertools.pairwise(trace) if p != c)  # every change is one append: one click
    assert metrics.normalized_click_n_edit(trace) == pytest.approx(changed / 9)


def test_revision_trace_by_hand() -> None:
    # x has 3 tokens; outputs: [a], [b c], [b c d]; final y = [b c d], gamma = 1
    a, b, c, d = 1, 2, 3, 4
    trace = [[a], [b, c], [b, c, d]]
    assert metrics.erasure(trace) == 1  # "a" erased at step 2, nothing at step 3
    assert metrics.normalized_erasure(trace) == pytest.approx(1 / 3)
    assert metrics.content_delays(trace) == [2, 2, 3]
    # J = 3 (first j with tau = |x| = 3); AL = ((2-0) + (2-1) + (3-2)) / 3
    assert metrics.average_lagging(trace) == pytest.approx(4 / 3)
    # tau' = 2, max(2, 3) = 3, max(3, 4) = 4; DAL = ((2-0) + (3-1) + (4-2)) / 3
    assert metrics.differentiable_average_lagging(trace) == pytest.approx(2.0)
    # clicks: [a] -> [b c]: delete a + insert b c is one span; [b c] -> [b c d]: one span
    assert metrics.normalized_click_n_edit(trace) == pytest.approx(2 / 3)


def test_ncne_charges_a_middle_edit_once_ne_charges_the_tail() -> None:
    trace = [[1, 2, 3, 4, 5, 6], [1, 9, 3, 4, 5, 6]]
    assert metrics.normalized_erasure(trace) == pytest.approx(5 / 6)
    assert metrics.normalized_click_n_edit(trace) == pytest.approx(1 / 6)


def test_bleu_hand_cases() -> None:
    assert metrics.corpus_bleu([[1, 2, 3, 4]], [[1, 2, 3, 4]]) == pytest.approx(100.0)
    assert metrics.corpus_bleu([[4, 3, 2, 1]], [[1, 2, 3, 4]]) == 0.0
    # hyp 1 2 3 4 5 vs ref 1 2 3 4 6 (equal lengths): precisions 4/5, 3/4, 2/3, 1/2
    expected = 100 * math.exp((math.log(4 / 5) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)) / 4)
    assert metrics.corpus_bleu([[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 6]]) == pytest.approx(expected)
    # a too-short perfect prefix is penalised by the brevity penalty exp(1 - 8/4)
    assert metrics.corpus_bleu([[1, 2, 3, 4]], [[1, 2, 3, 4, 5, 6, 7, 8]]) == pytest.approx(
        100 * math.exp(-1)
    )
    with pytest.raises(ValueError, match="equal length"):
        metrics.corpus_bleu([[1]], [])


def test_mask_k_hides_tail_of_non_final_outputs() -> None:
    trace = [[1, 2, 3], [1, 2, 3, 4]]
    assert metrics.mask_k(trace, 2) == [[1], [1, 2, 3, 4]]
    with pytest.raises(ValueError, match="k must be"):
        metrics.mask_k(trace, -1)
    with pytest.raises(ValueError, match="trace"):
        metrics.normalized_erasure([])


# ----------------------------------------------------------------------------- pass formulas
def test_pass_formulas_match_brief() -> None:
    lang = ReorderingLanguage()
    assert reta_passes_ideal(6, lang.target_length(6)) == 36
    assert reta_passes_ideal(18, lang.target_length(18)) == 252
    assert fretna_passes_bound(6, 1) == 21 and fretna_passes_bound(18, 1) == 57
    assert reta_passes_formula([2, 3, 40], max_len=10) == 3 + 4 + 10


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), max_size=3), min_size=1, max_size=8))
def test_append_only_traces_never_erase(chunks: list[list[int]]) -> None:
    trace, out = [], []
    for c in chunks:
        out = out + c
        trace.append(list(out))
    assert metrics.erasure(trace) == 0
    tau = metrics.content_delays(trace)
    assert tau == sorted(tau) and all(1 <= t <= len(trace) for t in tau)
    if trace[-1]:
        assert metrics.normalized_click_n_edit(trace) <= (len(trace) - 1) / len(trace[-1])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), max_size=6), min_size=1, max_size=6))
def test_trace_metrics_invariants(trace: list[list[int]]) -> None:
    assert metrics.erasure(trace) >= 0
    tau = metrics.content_delays(trace)
    assert tau == sorted(tau)  # a longer prefix cannot stabilise earlier
    if trace[-1]:  # tau'(j) >= tau(j), so DAL is at least the plain average lag over all j
        gamma = len(tau) / len(trace)
        plain = sum(t - j / gamma for j, t in enumerate(tau)) / len(tau)
        assert metrics.differentiable_average_lagging(trace) >= plain - 1e-12
