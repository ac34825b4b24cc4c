"""Evaluation helpers of the chapter: summary metrics of a set of streams, and per-sentence timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from litlib.fretna import metrics
from litlib.fretna.streaming import StreamResult


def summarize(results: Sequence[StreamResult], references: Sequence[list[int]]) -> dict[str, float]:
    """Exact match (%), BLEU, NE, AL, DAL, NCNE, and mean decoder/encoder passes of a set of streams.

    Raises:
        ValueError: if the numbers of results and references differ, or are zero.
    """
    if len(results) != len(references) or not results:
        raise ValueError("results and references must be non-empty and of equal length")
    finals = [r.final for r in results]
    return {
        "exact": 100.0 * float(np.mean([f == ref for f, ref in zip(finals, references)])),
        "bleu": metrics.corpus_bleu(finals, list(references)),
        "ne": float(np.mean([metrics.normalized_erasure(r.trace) for r in results])),
        "al": float(np.mean([metrics.average_lagging(r.trace) for r in results])),
        "dal": float(np.mean([metrics.differentiable_average_lagging(r.trace) for r in results])),
        "ncne": float(np.mean([metrics.normalized_click_n_edit(r.trace) for r in results])),
        "passes": float(np.mean([r.decoder_passes for r in results])),
        "encoder_passes": float(np.mean([r.encoder_passes for r in results])),
    }


def seconds_per_sentence(
    stream: Callable[[list[list[int]]], object], sentences: Sequence[list[int]], repeats: int = 1
) -> float:
    """Median over ``repeats`` of the mean wall-clock of streaming each sentence *alone* (batch of one)."""
    if not sentences:
        raise ValueError("sentences must be non-empty")
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for s in sentences:
            stream([list(s)])
        samples.append((time.perf_counter() - start) / len(sentences))
    return float(np.median(samples))
