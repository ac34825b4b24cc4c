"""Quality, latency and stability metrics of simultaneous translation, on token lists.

A *trace* is the list of outputs ``y^(1), ..., y^(|x|)`` a re-translation system displayed after reading each source
token (token lists, specials excluded); ``y^(|x|)`` is the final translation.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

from litlib.fretna.reference import KEEP, edit_oracle

Tokens = Sequence[int]


def _check_trace(trace: Sequence[Tokens]) -> None:
    if not isinstance(trace, Sequence) or len(trace) == 0:
        raise ValueError("trace must be a non-empty list of outputs, one per source token read")


def _ngrams(tokens: Tokens, n: int) -> Counter[tuple[int, ...]]:
    return Counter(tuple(tokens[k : k + n]) for k in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[Tokens], references: Sequence[Tokens], max_order: int = 4) -> float:
    """Corpus BLEU in percent (Papineni et al.): clipped n-gram precisions pooled over the corpus, geometric mean,
    brevity penalty ``exp(1 - r/c)`` when the total hypothesis length ``c`` is below the reference length ``r``.

    Returns 0 when some order has no matching n-gram (no smoothing), 100 for a perfect corpus.

    Raises:
        ValueError: if the lists differ in length or are empty, or ``max_order < 1``.
    """
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("hypotheses and references must be non-empty lists of equal length")
    if max_order < 1:
        raise ValueError(f"max_order must be >= 1; got {max_order}")
    matches = [0] * max_order
    totals = [0] * max_order
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        hyp_len += len(hyp)
        ref_len += len(ref)
        for n in range(1, max_order + 1):
            h, r = _ngrams(hyp, n), _ngrams(ref, n)
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_order
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    return 100.0 * brevity * math.exp(log_precision)


def common_prefix_length(a: Tokens, b: Tokens) -> int:
    """``|LCP(a, b)|``, the length of the longest common prefix."""
    n = 0
    for s, t in zip(a, b):
        if s != t:
            break
        n += 1
    return n


def erasure(trace: Sequence[Tokens]) -> int:
    """Tokens erased over a trace: ``sum_{i>=2} (|y^(i-1)| - |LCP(y^(i-1), y^(i))|)``."""
    _check_trace(trace)
    return sum(len(prev) - common_prefix_length(prev, cur) for prev, cur in itertools.pairwise(trace))


def normalized_erasure(trace: Sequence[Tokens]) -> float:
    """Normalized Erasure (Arivazhagan et al.): ``erasure`` divided by the final length ``|y^(|x|)|``.

    An empty final output gives 0 if nothing was erased, else ``inf``.
    """
    erased = erasure(trace)
    final = len(trace[-1])
    if final == 0:
        return 0.0 if erased == 0 else math.inf
    return erased / final


def content_delays(trace: Sequence[Tokens]) -> list[int]:
    """``tau(j)`` for ``j = 1..|y|``: the first step ``i`` (1-based) from which every later output, ``y^(i')`` for
    all ``i' >= i``, starts with the final output's first ``j`` tokens."""
    _check_trace(trace)
    final = trace[-1]
    n_steps = len(trace)
    delays = []
    for j in range(1, len(final) + 1):
        tau = n_steps
        for i in range(n_steps, 0, -1):  # walk back while the prefix stays correct
            if common_prefix_length(trace[i - 1], final) >= j:
                tau = i
            else:
                break
        delays.append(tau)
    return delays


def average_lagging(trace: Sequence[Tokens]) -> float:
    """AL ``= (1/J) sum_{j<=J} (tau(j) - (j-1)/gamma)`` with ``gamma = |y|/|x|`` and ``J`` the first ``j`` with
    ``tau(j) = |x|`` (``J = |y|`` if there is none). ``|x|`` is the number of steps of the trace."""
    tau = content_delays(trace)
    if not tau:
        return 0.0
    n_src = len(trace)
    gamma = len(tau) / n_src
    big_j = next((j for j, t in enumerate(tau, 1) if t == n_src), len(tau))
    return sum(tau[j - 1] - (j - 1) / gamma for j in range(1, big_j + 1)) / big_j


def differentiable_average_lagging(trace: Sequence[Tokens]) -> float:
    """DAL ``= (1/|y|) sum_j (tau'(j) - (j-1)/gamma)``, ``tau'(1) = tau(1)``,
    ``tau'(j) = max(tau(j), tau'(j-1) + 1/gamma)``."""
    tau = content_delays(trace)
    if not tau:
        return 0.0
    gamma = len(tau) / len(trace)
    total, prev = 0.0, -math.inf
    for j, t in enumerate(tau, 1):
        prev = max(float(t), prev + 1 / gamma)
        total += prev - (j - 1) / gamma
    return total / len(tau)


def edit_clicks(a: Tokens, b: Tokens) -> int:
    """Contiguous edited spans ("clicks") in the minimal insertion/deletion script from ``a`` to ``b``."""
    ops = edit_oracle(list(a), list(b)).ops
    return sum(1 for k, op in enumerate(ops) if op != KEEP and (k == 0 or ops[k - 1] == KEEP))


def normalized_click_n_edit(trace: Sequence[Tokens]) -> float:
    """NCNE *(our reconstruction)*: clicks between consecutive outputs, summed, divided by the final length.

    Unlike NE, an edit in the middle of the output costs one click however many tokens follow it.
    """
    _check_trace(trace)
    clicks = sum(edit_clicks(p, c) for p, c in itertools.pairwise(trace))
    final = len(trace[-1])
    if final == 0:
        return 0.0 if clicks == 0 else math.inf
    return clicks / final


def mask_k(trace: Sequence[Tokens], k: int) -> list[list[int]]:
    """What mask-k displays: every non-final output with its last ``k`` tokens hidden (the final one in full)."""
    _check_trace(trace)
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an int >= 0; got {k!r}")
    shown = [list(y[: max(len(y) - k, 0)]) for y in trace[:-1]]
    return [*shown, list(trace[-1])]
